// The local control plane behaves like a real cluster: kwok nodes, scripted pod lifecycles,
// the Job controller and the garbage collector. Everything else in the suite builds on this.
import { expect } from 'chai';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';
import { cluster, useTestNamespace, waitFor } from '../support/cluster.js';
import { makePod } from '../support/podbuilder.js';

function terminatedState(pod: V1Pod): V1ContainerStateTerminated | undefined {
  return pod.status?.containerStatuses?.[0]?.state?.terminated;
}

async function waitForPodFinished(namespace: string, name: string): Promise<V1Pod> {
  return waitFor(`pod ${namespace}/${name} to finish`, async () => {
    const pod = await cluster().core.readNamespacedPod({ namespace, name });
    const phase = pod.status?.phase;
    return phase === 'Succeeded' || phase === 'Failed' ? pod : undefined;
  });
}

describe('local control plane', function () {
  const ns = useTestNamespace('cp');

  it('runs kwok nodes that are Ready and report the simulated capacity', async function () {
    const nodes = await cluster().core.listNode();
    const kwokNodes = nodes.items.filter((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake');
    expect(kwokNodes.map((n) => n.metadata?.name).sort()).to.deep.equal([
      'kwok-node-0',
      'kwok-node-1',
      'kwok-node-2',
    ]);
    for (const node of kwokNodes) {
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status, node.metadata?.name).to.equal('True');
      expect(node.status?.allocatable?.pods).to.equal('1k');
    }
  });

  it('serves TLS on loopback, signs ServiceAccount tokens and enforces RBAC', async function () {
    const { kc, core } = cluster();
    expect(kc.getCurrentCluster()?.server).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'nobody' } } });
    const token = await core.createNamespacedServiceAccountToken({
      namespace: ns.name,
      name: 'nobody',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const asNobody = new KubeConfig();
    asNobody.loadFromOptions({
      clusters: [{ ...kc.getCurrentCluster()!, name: 'local' }],
      users: [{ name: 'nobody', token: token.status!.token }],
      contexts: [{ name: 'nobody', cluster: 'local', user: 'nobody' }],
      currentContext: 'nobody',
    });
    const err = await asNobody
      .makeApiClient(CoreV1Api)
      .listNamespacedSecret({ namespace: ns.name })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(ApiException);
    expect((err as ApiException<unknown>).code).to.equal(403);
  });

  it('moves a pod Pending -> Running -> Succeeded with MAPREDUCE_ITEM as its termination message', async function () {
    const { core } = cluster();
    const phases: string[] = [];
    await core.createNamespacedPod({
      namespace: ns.name,
      body: makePod('echo').item({ word: 'hello' }).obj(),
    });
    const pod = await waitFor('pod echo to succeed', async () => {
      const p = await core.readNamespacedPod({ namespace: ns.name, name: 'echo' });
      const phase = p.status?.phase ?? '';
      if (phases.at(-1) !== phase) phases.push(phase);
      return phase === 'Succeeded' ? p : undefined;
    });
    expect(phases.filter((p) => p !== '')).to.deep.equal(['Pending', 'Running', 'Succeeded']);
    expect(pod.spec?.nodeName).to.match(/^kwok-node-\d$/);
    expect(terminatedState(pod)).to.include({
      exitCode: 0,
      reason: 'Completed',
      message: '{"word":"hello"}',
    });
  });

  const scripted: {
    name: string;
    pod: V1Pod;
    phase: string;
    exitCode: number;
    reason: string;
    message?: string;
  }[] = [
    {
      name: 'an exit code from an annotation',
      pod: makePod('exit7').annotate('sim.mapreduce.dev/exit-code', '7').obj(),
      phase: 'Failed',
      exitCode: 7,
      reason: 'Error',
    },
    {
      name: 'OOMKilled from annotations',
      pod: makePod('oom')
        .annotate('sim.mapreduce.dev/exit-code', '137')
        .annotate('sim.mapreduce.dev/reason', 'OOMKilled')
        .obj(),
      phase: 'Failed',
      exitCode: 137,
      reason: 'OOMKilled',
    },
    {
      name: 'a failure from the item sim fields',
      pod: makePod('itemfail')
        .item({ n: 1, sim: { exitCode: 2, message: 'bad input' } })
        .obj(),
      phase: 'Failed',
      exitCode: 2,
      reason: 'Error',
      message: 'bad input',
    },
    {
      name: 'the first attempt failing only (attempt 0)',
      pod: makePod('first0')
        .annotate('sim.mapreduce.dev/fail-attempts', '1')
        .label('mapreduce.dev/attempt', '0')
        .obj(),
      phase: 'Failed',
      exitCode: 1,
      reason: 'Error',
    },
    {
      name: 'the first attempt failing only (attempt 1 succeeds)',
      pod: makePod('first1')
        .annotate('sim.mapreduce.dev/fail-attempts', '1')
        .label('mapreduce.dev/attempt', '1')
        .item('x')
        .obj(),
      phase: 'Succeeded',
      exitCode: 0,
      reason: 'Completed',
      message: '"x"',
    },
    {
      name: 'an annotation winning over the item field',
      pod: makePod('annwins')
        .annotate('sim.mapreduce.dev/exit-code', '0')
        .item({ sim: { exitCode: 5 } })
        .obj(),
      phase: 'Succeeded',
      exitCode: 0,
      reason: 'Completed',
    },
  ];
  for (const tc of scripted) {
    it(`ends a pod as scripted: ${tc.name}`, async function () {
      await cluster().core.createNamespacedPod({ namespace: ns.name, body: tc.pod });
      const pod = await waitForPodFinished(ns.name, tc.pod.metadata!.name!);
      expect(pod.status?.phase).to.equal(tc.phase);
      const terminated = terminatedState(pod);
      expect(terminated?.exitCode).to.equal(tc.exitCode);
      expect(terminated?.reason).to.equal(tc.reason);
      if (tc.message !== undefined) expect(terminated?.message).to.equal(tc.message);
    });
  }

  it('honours a duration knob and keeps a never-finishing pod Running', async function () {
    const { core } = cluster();
    await core.createNamespacedPod({
      namespace: ns.name,
      body: makePod('forever').annotate('sim.mapreduce.dev/never-finish', 'true').obj(),
    });
    await core.createNamespacedPod({
      namespace: ns.name,
      body: makePod('slow')
        .item({ sim: { duration: '3s' } })
        .obj(),
    });
    const slow = await waitForPodFinished(ns.name, 'slow');
    const started = Date.parse(String(terminatedState(slow)?.startedAt));
    const finished = Date.parse(String(terminatedState(slow)?.finishedAt));
    expect(finished - started).to.be.at.least(2000);
    const forever = await core.readNamespacedPod({ namespace: ns.name, name: 'forever' });
    expect(forever.status?.phase).to.equal('Running');
  });

  it('completes an Indexed Job of 10 completions through kube-controller-manager', async function () {
    const { batch } = cluster();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name: 'indexed' },
        spec: {
          completions: 10,
          parallelism: 4,
          completionMode: 'Indexed',
          template: {
            metadata: { annotations: { 'sim.mapreduce.dev/duration': '200ms' } },
            spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] },
          },
        },
      },
    });
    const job = await waitFor('job indexed to complete', async () => {
      const j = await batch.readNamespacedJob({ namespace: ns.name, name: 'indexed' });
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    });
    expect(job.status?.succeeded).to.equal(10);
    expect(job.status?.completedIndexes).to.equal('0-9');
    expect(job.status?.failed ?? 0).to.equal(0);
  });

  it('garbage-collects pods when their owner is deleted', async function () {
    const { core } = cluster();
    const owner = await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'owner' } },
    });
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! };
    for (const name of ['owned-a', 'owned-b']) {
      await core.createNamespacedPod({
        namespace: ns.name,
        body: makePod(name).annotate('sim.mapreduce.dev/never-finish', 'true').ownedBy(ref).obj(),
      });
    }
    await core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'owner' });
    await waitFor('owned pods to be collected', async () => {
      const pods = await core.listNamespacedPod({ namespace: ns.name });
      return pods.items.length === 0;
    });
  });
});
