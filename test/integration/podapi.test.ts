// PodApi (the controller's pod calls without client-node's model layer) against the real API server: every call
// does what the generated client's would, and every failure is an ApiException the apierrors.ts helpers read
// as they read the generated client's.
import { expect } from 'chai';
import { ApiException, PatchStrategy } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER_TRACKING } from '../../src/api/constants.js';
import { apiMessage, isConflict, isInvalid, isNotFound } from '../../src/apierrors.js';
import { PodApi } from '../../src/controller/podapi.js';
import { PooledKubeConfig } from '../../src/kubeconfig.js';
import { cluster, kubeconfigPath, useTestNamespace } from '../support/cluster.js';
import { makePod } from '../support/podbuilder.js';

/** No scheduler has this name, so nothing binds or runs the test's pods. */
const NO_SCHEDULER = 'mapreduce-test-unscheduled';
const OTHER_FINALIZER = 'example.com/keep';

function pod(name: string): V1Pod {
  const obj = makePod(name).label('app', 'podapi').obj();
  obj.spec!.schedulerName = NO_SCHEDULER;
  obj.metadata!.finalizers = [FINALIZER_TRACKING, OTHER_FINALIZER];
  return obj;
}

async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded');
}

describe('PodApi', function () {
  const ns = useTestNamespace('podapi');
  let api: PodApi;

  before(function () {
    const kc = new PooledKubeConfig();
    kc.loadFromFile(kubeconfigPath());
    api = new PodApi(kc);
  });

  /** Lets a test's pods go: drops every finalizer left. */
  afterEach(async function () {
    const { items } = await cluster().core.listNamespacedPod({ namespace: ns.name });
    for (const p of items)
      await api.patchNamespacedPod({
        namespace: ns.name,
        name: p.metadata!.name!,
        body: { metadata: { finalizers: null } },
        patchStrategy: PatchStrategy.MergePatch,
      });
  });

  it('creates a pod from plain JSON and answers the stored pod, plain', async function () {
    const created = await api.createNamespacedPod({ namespace: ns.name, body: pod('a') });
    expect(created.metadata?.name).to.equal('a');
    expect(created.metadata?.uid).to.be.a('string').and.have.length.greaterThan(0);
    expect(created.metadata?.finalizers).to.deep.equal([FINALIZER_TRACKING, OTHER_FINALIZER]);
    // Plain JSON, as the watch gives pods: timestamps stay strings (the generated client makes Dates).
    expect(created.metadata?.creationTimestamp).to.be.a('string');
    const read = await api.readNamespacedPod({ namespace: ns.name, name: 'a' });
    expect(read.metadata?.uid).to.equal(created.metadata?.uid);
    expect(read.spec?.schedulerName).to.equal(NO_SCHEDULER);
  });

  it('patches by the strategy named: strategic merge drops only the tracking finalizer, merge adds an annotation', async function () {
    await api.createNamespacedPod({ namespace: ns.name, body: pod('b') });
    await api.patchNamespacedPod({
      namespace: ns.name,
      name: 'b',
      body: { metadata: { '$deleteFromPrimitiveList/finalizers': [FINALIZER_TRACKING] } },
      patchStrategy: PatchStrategy.StrategicMergePatch,
    });
    await api.patchNamespacedPod({
      namespace: ns.name,
      name: 'b',
      body: { metadata: { annotations: { note: 'patched' } } },
      patchStrategy: PatchStrategy.MergePatch,
    });
    const read = await cluster().core.readNamespacedPod({ namespace: ns.name, name: 'b' });
    expect(read.metadata?.finalizers).to.deep.equal([OTHER_FINALIZER]);
    expect(read.metadata?.annotations?.note).to.equal('patched');
  });

  it('deletes with the grace period given', async function () {
    await api.createNamespacedPod({ namespace: ns.name, body: pod('c') });
    await api.deleteNamespacedPod({ namespace: ns.name, name: 'c', gracePeriodSeconds: 0 });
    // The finalizers hold it: deleting, with the grace period asked for.
    const read = await cluster().core.readNamespacedPod({ namespace: ns.name, name: 'c' });
    expect(read.metadata?.deletionTimestamp).to.not.equal(undefined);
    expect(read.metadata?.deletionGracePeriodSeconds).to.equal(0);
  });

  it('fails as the generated client does: an ApiException with the Status as its body', async function () {
    await api.createNamespacedPod({ namespace: ns.name, body: pod('d') });

    const exists = await failure(api.createNamespacedPod({ namespace: ns.name, body: pod('d') }));
    expect(exists).to.be.instanceOf(ApiException);
    expect(isConflict(exists)).to.equal(true);
    expect(apiMessage(exists)).to.equal('pods "d" already exists');

    const missing = await failure(api.readNamespacedPod({ namespace: ns.name, name: 'nope' }));
    expect(isNotFound(missing)).to.equal(true);
    expect(apiMessage(missing)).to.equal('pods "nope" not found');
    expect(isNotFound(await failure(api.deleteNamespacedPod({ namespace: ns.name, name: 'nope' })))).to.equal(
      true,
    );

    const bad = pod('e');
    bad.spec!.containers = [];
    const invalid = await failure(api.createNamespacedPod({ namespace: ns.name, body: bad }));
    expect(isInvalid(invalid)).to.equal(true);
    expect(apiMessage(invalid)).to.match(/^Pod "e" is invalid: spec\.containers: Required value/);
  });
});
