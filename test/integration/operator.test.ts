// The operator end to end on the local control plane: real API server, real scheduler, kwok pods.
import { expect } from 'chai';
import type { JsonValue } from '../../src/api/types.js';
import { cluster, useTestNamespace, waitFor } from '../support/cluster.js';
import {
  createJob,
  deleteJob,
  jobConfigMaps,
  jobPods,
  jobResults,
  patchJobSpec,
  waitForEvent,
  waitForPhase,
} from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { useWatchedOperator } from '../support/operator.js';

describe('operator', function () {
  const ns = useTestNamespace('op');
  const w = useWatchedOperator(ns);

  it('runs a word count over inline items with a reduce, and cleans up its pods', async function () {
    const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog'];
    await createJob(ns.name, makeJob('wc').items(words).parallelism(3).reduce('the:2 quick:1').obj());
    const job = await waitForPhase(ns.name, 'wc', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      totalItems: 9,
      succeededItems: 9,
      failedItems: 0,
      activeItems: 0,
      retries: 0,
      completedIndexes: '0-8',
      failedIndexes: '',
      result: 'the:2 quick:1',
    });
    expect(job.status?.conditions?.find((c) => c.type === 'Complete')).to.include({
      status: 'True',
      reason: 'Completed',
    });
    expect(job.status?.startTime).to.be.a('string');
    expect(job.status?.completionTime).to.be.a('string');
    expect(await jobResults(ns.name, 'wc')).to.deep.equal(
      Object.fromEntries(words.map((w, i) => [String(i), JSON.stringify(w)])),
    );
    expect(w.watcher.maxActive).to.be.at.most(3);
    await waitFor('the job’s pods to be deleted', async () => (await jobPods(ns.name, 'wc')).length === 0);
    expect(w.watcher.duplicates()).to.deep.equal([]);
    const reasons = (await waitForEvent(ns.name, 'wc', 'Completed')).map((e) => e.reason);
    expect(reasons).to.include.members(['Started', 'Reducing', 'Completed']);
  });

  it('gives each agent pod its item, id, attempt and owner', async function () {
    await createJob(
      ns.name,
      makeJob('env')
        .items([
          { id: 'a', n: 1 },
          { id: 'b', n: 2 },
        ])
        .idPath('$.id')
        .mapAnnotation('sim.mapreduce.dev/never-finish', 'true')
        .obj(),
    );
    const pods = await waitFor('both agent pods', async () => {
      const p = await jobPods(ns.name, 'env');
      return p.length === 2 ? p : undefined;
    });
    const pod = pods.find((p) => p.metadata?.name === 'env-1-0')!;
    expect(pod.metadata?.labels).to.include({
      'mapreduce.dev/job-name': 'env',
      'mapreduce.dev/item-index': '1',
      'mapreduce.dev/attempt': '0',
      'mapreduce.dev/phase': 'map',
    });
    expect(pod.metadata?.ownerReferences?.[0]).to.include({
      kind: 'MapReduceJob',
      name: 'env',
      controller: true,
    });
    expect(pod.spec?.restartPolicy).to.equal('Never');
    const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).to.include({
      MAPREDUCE_JOB_NAME: 'env',
      MAPREDUCE_ITEM_INDEX: '1',
      MAPREDUCE_ITEM_ID: 'b',
      MAPREDUCE_ATTEMPT: '0',
      MAPREDUCE_ITEM: '{"id":"b","n":2}',
    });
  });

  it('reads items from a ConfigMap through a JSONPath filter', async function () {
    await cluster().core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: { name: 'files' },
        data: {
          'files.yaml':
            'files:\n  - {name: a.txt, size: 50}\n  - {name: b.txt, size: 150}\n  - {name: c.txt, size: 300}\n',
        },
      },
    });
    await createJob(
      ns.name,
      makeJob('big').configMapInput('files', 'files.yaml', '$.files[?(@.size > 100)]').idPath('$.name').obj(),
    );
    const job = await waitForPhase(ns.name, 'big', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({ phase: 'Succeeded', totalItems: 2, succeededItems: 2 });
    expect(await jobResults(ns.name, 'big')).to.deep.equal({
      '0': '{"name":"b.txt","size":150}',
      '1': '{"name":"c.txt","size":300}',
    });
    const snapshot = await jobConfigMaps(ns.name, 'big', 'items');
    expect(snapshot.map((cm) => cm.data)).to.deep.equal([
      {
        '0': '{"name":"b.txt","size":150}',
        '0.id': 'b.txt',
        '1': '{"name":"c.txt","size":300}',
        '1.id': 'c.txt',
      },
    ]);
  });

  it('retries failed items and records the ones that exhaust their retries', async function () {
    const items: JsonValue[] = [
      'ok',
      { flaky: true, sim: { failAttempts: 1 } },
      { broken: true, sim: { exitCode: 3, message: 'cannot parse' } },
      { oom: true, sim: { exitCode: 137, reason: 'OOMKilled' } },
    ];
    await createJob(ns.name, makeJob('retry').items(items).backoffLimitPerItem(1).maxFailedItems(2).obj());
    const job = await waitForPhase(ns.name, 'retry', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      totalItems: 4,
      succeededItems: 2,
      failedItems: 2,
      retries: 3,
      completedIndexes: '0-1',
      failedIndexes: '2-3',
    });
    // Newest last, and the two items fail at about the same time: compare in index order.
    expect([...(job.status?.failedItemDetails ?? [])].sort((a, b) => a.index - b.index)).to.deep.equal([
      { index: 2, id: '2', attempts: 2, reason: 'exit code 3', exitCode: 3, message: 'cannot parse' },
      {
        index: 3,
        id: '3',
        attempts: 2,
        reason: 'OOMKilled',
        exitCode: 137,
        message: JSON.stringify(items[3]),
      },
    ]);
    const reasons = (await waitForEvent(ns.name, 'retry', 'Completed')).map((e) => e.reason);
    expect(reasons).to.include.members(['ItemRetried', 'ItemFailed', 'Completed']);
  });

  it('fails the job when failed items exceed the failure policy, deleting its running pods', async function () {
    const items = [
      { sim: { exitCode: 1 } },
      ...Array.from({ length: 5 }, () => ({ sim: { neverFinish: true } })),
    ];
    await createJob(ns.name, makeJob('policy').items(items).backoffLimitPerItem(0).parallelism(6).obj());
    const job = await waitForPhase(ns.name, 'policy', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({
      phase: 'Failed',
      failedItems: 1,
      failedIndexes: '0',
      activeItems: 0,
    });
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')).to.include({
      status: 'True',
      reason: 'FailedItemsExceeded',
    });
    // The failed pod is kept for debugging; the five running ones are deleted.
    await waitFor('running pods to be deleted', async () => {
      const pods = await jobPods(ns.name, 'policy');
      return pods.length === 1 && pods[0]!.metadata!.name === 'policy-0-0' ? true : undefined;
    });
  });

  it('pauses pod creation while suspended and finishes after resuming', async function () {
    await createJob(ns.name, makeJob('pause').items(['a', 'b', 'c']).suspend().obj());
    const suspended = await waitForPhase(ns.name, 'pause', ['Suspended']);
    expect(suspended.status?.conditions?.find((c) => c.type === 'Suspended')).to.include({
      status: 'True',
      reason: 'Suspended',
    });
    expect(await jobPods(ns.name, 'pause')).to.have.length(0);
    await patchJobSpec(ns.name, 'pause', { suspend: false });
    const job = await waitForPhase(ns.name, 'pause', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 3 });
    expect(job.status?.conditions?.find((c) => c.type === 'Suspended')).to.include({
      status: 'False',
      reason: 'Resumed',
    });
  });

  it('fails a job whose input ConfigMap is missing, with a reason and an Event, and keeps serving others', async function () {
    await createJob(ns.name, makeJob('missing').configMapInput('nope', 'items.json').obj());
    await createJob(ns.name, makeJob('fine').items(['x']).obj());
    const bad = await waitForPhase(ns.name, 'missing', ['Failed']);
    expect(bad.status?.conditions?.find((c) => c.type === 'Failed')).to.deep.include({
      status: 'True',
      reason: 'InputNotFound',
      message: `spec.input.configMapRef: ConfigMap ${ns.name}/nope not found`,
    });
    const events = await waitForEvent(ns.name, 'missing', 'InputNotFound');
    expect(events.map((e) => [e.type, e.reason])).to.deep.include(['Warning', 'InputNotFound']);
    const good = await waitForPhase(ns.name, 'fine', ['Succeeded', 'Failed']);
    expect(good.status?.phase).to.equal('Succeeded');
  });

  it('deletes a job’s pods and ConfigMaps with the job', async function () {
    await createJob(
      ns.name,
      makeJob('gone').items(['a', 'b']).mapAnnotation('sim.mapreduce.dev/never-finish', 'true').obj(),
    );
    await waitFor('two running pods', async () => (await jobPods(ns.name, 'gone')).length === 2);
    expect(await jobConfigMaps(ns.name, 'gone', 'items')).to.have.length(1);
    await deleteJob(ns.name, 'gone');
    await waitFor('pods and ConfigMaps to be collected', async () => {
      const pods = await jobPods(ns.name, 'gone');
      const cms = await jobConfigMaps(ns.name, 'gone', 'items');
      return pods.length === 0 && cms.length === 0;
    });
  });

  it('survives SIGKILL mid-job: no duplicate pod, exact counts, every result kept', async function () {
    const items: JsonValue[] = Array.from({ length: 30 }, (_, i): JsonValue =>
      i % 10 === 3 ? { i, sim: { failAttempts: 1 } } : { i },
    );
    await createJob(ns.name, makeJob('crash').items(items).parallelism(5).reduce('sum').obj());
    for (let round = 0; round < 2; round++) {
      await waitFor('progress before the crash', async () => {
        const pods = await jobPods(ns.name, 'crash');
        return pods.some((p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Running');
      });
      await w.operator.kill();
      await new Promise((r) => setTimeout(r, 700));
      await w.restart();
    }
    const job = await waitForPhase(ns.name, 'crash', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      totalItems: 30,
      succeededItems: 30,
      failedItems: 0,
      retries: 3,
      completedIndexes: '0-29',
      result: 'sum',
    });
    expect(Object.keys(await jobResults(ns.name, 'crash'))).to.have.length(30);
    expect(w.watcher.duplicates()).to.deep.equal([]);
    expect(w.watcher.maxActive).to.be.at.most(5);
  });
});
