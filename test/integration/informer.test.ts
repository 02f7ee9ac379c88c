// The pod informer against the real API server: what it caches and what its handlers get is the transformed
// pod, on the first list, on watch events, on a resumed watch and on a relist after 410 Gone, with
// client-node's event semantics (a relist reports the pods that went as deletes and the changed ones as updates).
import { expect } from 'chai';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { LABEL_JOB_NAME } from '../../src/api/constants.js';
import { ResilientInformer } from '../../src/controller/informer.js';
import { transformPod } from '../../src/controller/podtransform.js';
import { cluster, sleep, useTestNamespace, waitFor } from '../support/cluster.js';
import { makePod } from '../support/podbuilder.js';

/** No scheduler has this name, so nothing binds, runs or updates the test's pods: their only events are ours. */
const NO_SCHEDULER = 'mapreduce-test-unscheduled';

/** Before the API server's watch cache began: a watch from here is answered 410 Gone, as a watch too far behind is. */
const EXPIRED_RESOURCE_VERSION = '1';

function pod(name: string, labelled = true): V1Pod {
  const p = makePod(name).annotate('note', 'dropped by the transform').item({ text: name });
  if (labelled) p.label(LABEL_JOB_NAME, 'wc');
  const obj = p.obj();
  obj.spec!.schedulerName = NO_SCHEDULER;
  return obj;
}

describe('pod informer', function () {
  const ns = useTestNamespace('inf');
  let informer: ResilientInformer<V1Pod> | undefined;
  /** "verb name" per handler call, in order. */
  let seen: string[];
  /** The object each handler call got. */
  let objects: V1Pod[];

  afterEach(async function () {
    await informer?.stop();
    informer = undefined;
  });

  function startInformer(list: () => Promise<KubernetesListObject<V1Pod>>): Promise<void> {
    seen = [];
    objects = [];
    informer = new ResilientInformer<V1Pod>(
      cluster().kc,
      `/api/v1/namespaces/${ns.name}/pods`,
      list,
      pino({ level: 'silent' }),
      { labelSelector: LABEL_JOB_NAME, transform: transformPod },
    );
    for (const verb of ['add', 'update', 'delete'] as const)
      informer.on(verb, (p) => {
        seen.push(`${verb} ${p.metadata?.name}`);
        objects.push(p);
      });
    return informer.start();
  }

  const listPods = (): Promise<KubernetesListObject<V1Pod>> =>
    cluster().core.listNamespacedPod({ namespace: ns.name, labelSelector: LABEL_JOB_NAME });

  const create = (p: V1Pod): Promise<V1Pod> =>
    cluster().core.createNamespacedPod({ namespace: ns.name, body: p });
  const remove = (name: string): Promise<V1Pod> =>
    cluster().core.deleteNamespacedPod({ namespace: ns.name, name, gracePeriodSeconds: 0 });
  const addLabel = (name: string): Promise<V1Pod> =>
    cluster().core.patchNamespacedPod(
      { namespace: ns.name, name, body: { metadata: { labels: { extra: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

  async function seenBecomes(expected: string[]): Promise<void> {
    await waitFor(`informer events ${JSON.stringify(expected)}`, () =>
      Promise.resolve(seen.length >= expected.length),
    );
    await sleep(300); // and nothing more
    expect(seen).to.deep.equal(expected);
  }

  /** The cache: name -> resourceVersion, and every cached pod is a transformed one. */
  function cached(): Record<string, string> {
    const pods = informer!.list(ns.name);
    for (const p of pods) expectTransformed(p);
    return Object.fromEntries(pods.map((p) => [p.metadata!.name!, p.metadata!.resourceVersion!]));
  }

  function expectTransformed(p: V1Pod): void {
    expect(p.metadata?.managedFields, p.metadata?.name).to.equal(undefined);
    expect(p.metadata?.annotations, p.metadata?.name).to.equal(undefined);
    expect(p.spec?.containers, p.metadata?.name).to.deep.equal([{ name: 'main' }]);
    expect(p.spec?.schedulerName, p.metadata?.name).to.equal(undefined);
    expect(p.metadata?.labels?.[LABEL_JOB_NAME], p.metadata?.name).to.equal('wc');
  }

  async function served(): Promise<Record<string, string>> {
    const list = await listPods();
    return Object.fromEntries(list.items.map((p) => [p.metadata!.name!, p.metadata!.resourceVersion!]));
  }

  it('caches and hands over transformed pods: first list, watch events, a resumed watch', async function () {
    await create(pod('a'));
    await create(pod('unlabelled', false));
    await startInformer(listPods);
    expect(seen).to.deep.equal(['add a']);
    expect(cached()).to.deep.equal(await served());

    await create(pod('b'));
    await seenBecomes(['add a', 'add b']);
    await addLabel('b');
    await remove('a');
    await remove('unlabelled');
    // A delete sets deletionTimestamp (an update), then removes the pod.
    await seenBecomes(['add a', 'add b', 'update b', 'update a', 'delete a']);
    // The handlers got the cached objects themselves, transformed.
    for (const o of objects) expectTransformed(o);
    expect(informer!.get('b', ns.name)).to.equal(objects[2]);
    expect(objects[3]!.metadata?.deletionTimestamp).not.to.equal(undefined);
    expect(objects[2]!.metadata?.labels?.extra).to.equal('yes');
    expect(cached()).to.deep.equal(await served());

    // Stopped, then started again: the watch resumes from the last resourceVersion and replays what it missed.
    await informer!.stop();
    await create(pod('c'));
    await remove('b');
    await informer!.start();
    await seenBecomes([
      'add a',
      'add b',
      'update b',
      'update a',
      'delete a',
      'add c',
      'update b',
      'delete b',
    ]);
    expect(cached()).to.deep.equal(await served());
  });

  it('relists after 410 Gone: pods that went are deletes, changed ones updates, new ones adds', async function () {
    await create(pod('a'));
    await create(pod('b'));
    await create(pod('c'));
    // What an informer that fell behind holds: a list from before the changes, its watch long expired.
    const stale = await listPods();
    stale.metadata = { ...stale.metadata, resourceVersion: EXPIRED_RESOURCE_VERSION };
    await remove('a');
    await addLabel('b');
    await create(pod('d'));
    const after = await served();

    let lists = 0;
    await startInformer(async () => (lists++ === 0 ? stale : listPods()));
    expect(seen).to.deep.equal(['add a', 'add b', 'add c']);
    // The watch from the expired version gets 410; client-node's ListWatch lists again and reconciles its cache.
    await seenBecomes(['add a', 'add b', 'add c', 'delete a', 'update b', 'add d']);
    expect(lists).to.equal(2);
    for (const o of objects) expectTransformed(o);
    expect(objects[4]!.metadata?.labels?.extra).to.equal('yes');
    expect(cached()).to.deep.equal(after);

    // The relisted cache is watched on from the new list: later changes arrive as events.
    await remove('c');
    await seenBecomes(['add a', 'add b', 'add c', 'delete a', 'update b', 'add d', 'update c', 'delete c']);
    for (const o of objects) expectTransformed(o);
    expect(cached()).to.deep.equal(await served());
  });
});
