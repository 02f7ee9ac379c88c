import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import {
  buildAgentPod,
  buildReducePod,
  MAX_ITEM_ENV_BYTES,
  withEnv,
} from '../../src/controller/podbuilder.js';
import { makeJob } from '../support/jobbuilder.js';

function job() {
  const j = makeJob('wc', 'ns').items(['a']).reduce().obj();
  j.metadata.uid = 'uid-1';
  j.spec.map.template.metadata!.labels = { team: 'data' };
  j.spec.map.template.spec!.containers = [
    { name: 'agent', image: 'agent:1', env: [{ name: 'MAPREDUCE_ITEM_ID', value: 'user-set' }] },
    { name: 'sidecar', image: 'sidecar:1' },
  ];
  j.spec.map.activeDeadlineSeconds = 60;
  return j;
}

function envOf(pod: V1Pod, container = 0): Record<string, string | undefined> {
  return Object.fromEntries((pod.spec!.containers[container]!.env ?? []).map((e) => [e.name, e.value]));
}

describe('buildAgentPod', function () {
  const base = {
    job: job(),
    index: 7,
    id: 'item-7',
    itemJSON: '"a"',
    attempt: 2,
    itemsConfigMap: 'wc-items-0',
  };

  it('names, labels and owns the pod, and never restarts it', function () {
    const pod = buildAgentPod(base);
    expect(pod.metadata?.name).to.equal('wc-7-2');
    expect(pod.metadata?.namespace).to.equal('ns');
    expect(pod.metadata?.labels).to.deep.equal({
      team: 'data',
      'mapreduce.dev/job-name': 'wc',
      'mapreduce.dev/phase': 'map',
      'mapreduce.dev/item-index': '7',
      'mapreduce.dev/attempt': '2',
    });
    expect(pod.metadata?.ownerReferences).to.deep.equal([
      {
        apiVersion: 'mapreduce.dev/v1alpha1',
        kind: 'MapReduceJob',
        name: 'wc',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pod.metadata?.finalizers).to.deep.equal(['mapreduce.dev/tracking']);
    expect(pod.spec?.restartPolicy).to.equal('Never');
    expect(pod.spec?.activeDeadlineSeconds).to.equal(60);
    expect(pod.spec?.containers[0]?.terminationMessagePolicy).to.equal('FallbackToLogsOnError');
    expect(pod.spec?.containers[1]?.terminationMessagePolicy).to.equal(undefined);
  });

  it('adds the item env to every container; a variable the user set wins', function () {
    const pod = buildAgentPod({ ...base, extraEnv: [{ name: 'TRACEPARENT', value: '00-x' }] });
    expect(envOf(pod, 0)).to.deep.equal({
      MAPREDUCE_ITEM_ID: 'user-set',
      MAPREDUCE_JOB_NAME: 'wc',
      MAPREDUCE_ITEM_INDEX: '7',
      MAPREDUCE_ATTEMPT: '2',
      MAPREDUCE_ITEM: '"a"',
      TRACEPARENT: '00-x',
    });
    expect(envOf(pod, 1)).to.include({ MAPREDUCE_ITEM_ID: 'item-7', MAPREDUCE_ITEM: '"a"' });
  });

  it('mounts an item over 32 KiB from its snapshot ConfigMap instead of an env var', function () {
    const big = JSON.stringify('x'.repeat(MAX_ITEM_ENV_BYTES));
    const pod = buildAgentPod({ ...base, itemJSON: big });
    expect(envOf(pod)).to.not.have.property('MAPREDUCE_ITEM');
    expect(envOf(pod)).to.include({ MAPREDUCE_ITEM_FILE: '/var/run/mapreduce/item/item.json' });
    expect(pod.spec?.volumes).to.deep.equal([
      { name: 'mapreduce-item', configMap: { name: 'wc-items-0', items: [{ key: '7', path: 'item.json' }] } },
    ]);
    expect(pod.spec?.containers[0]?.volumeMounts).to.deep.equal([
      { name: 'mapreduce-item', mountPath: '/var/run/mapreduce/item', readOnly: true },
    ]);
  });

  it('does not change the job’s template', function () {
    const j = job();
    const before = structuredClone(j);
    buildAgentPod({ ...base, job: j });
    expect(j).to.deep.equal(before);
  });
});

describe('buildReducePod', function () {
  it('mounts every results shard into one directory and passes the counts', function () {
    const pod = buildReducePod({
      job: job(),
      attempt: 0,
      totalItems: 450,
      succeededItems: 449,
      failedItems: 1,
      resultsConfigMaps: ['wc-results-0', 'wc-results-1', 'wc-results-2'],
    });
    expect(pod.metadata?.name).to.equal('wc-reduce-0');
    expect(pod.metadata?.labels).to.include({
      'mapreduce.dev/phase': 'reduce',
      'mapreduce.dev/attempt': '0',
    });
    expect(envOf(pod)).to.include({
      MAPREDUCE_RESULTS_DIR: '/var/run/mapreduce/results',
      MAPREDUCE_TOTAL_ITEMS: '450',
      MAPREDUCE_SUCCEEDED_ITEMS: '449',
      MAPREDUCE_FAILED_ITEMS: '1',
    });
    expect(pod.spec?.volumes?.[0]?.projected?.sources?.map((s) => s.configMap)).to.deep.equal([
      { name: 'wc-results-0', optional: true },
      { name: 'wc-results-1', optional: true },
      { name: 'wc-results-2', optional: true },
    ]);
  });
});

describe('withEnv', function () {
  it('appends only variables the container does not set', function () {
    const c = withEnv({ name: 'c', env: [{ name: 'A', value: 'mine' }] }, [
      { name: 'A', value: 'ours' },
      { name: 'B', value: 'ours' },
    ]);
    expect(c.env).to.deep.equal([
      { name: 'A', value: 'mine' },
      { name: 'B', value: 'ours' },
    ]);
  });
});
