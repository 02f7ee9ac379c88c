// Tracked pods (KEP-2307 style): every pod carries the operator's finalizer until its attempt is recorded, so
// pods deleted by anyone — PodGC, a person, a script — while the operator is not looking are still counted
// exactly once, results kept, retry limits exact; and no pod keeps the finalizer once its job is done or gone.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { JsonValue } from '../../src/api/types.js';
import { kubectl, sleep, useTestNamespace, waitFor } from '../support/cluster.js';
import {
  createJob,
  deleteJob,
  jobConfigMaps,
  jobPods,
  jobResults,
  waitForEvent,
  waitForPhase,
} from '../support/jobs.js';
import { resultPieceNames } from '../../src/controller/resultstore.js';
import { makeJob } from '../support/jobbuilder.js';
import { useWatchedOperator } from '../support/operator.js';

const FINALIZER = 'mapreduce.dev/tracking';

function tracked(pods: V1Pod[]): string[] {
  return pods.filter((p) => p.metadata?.finalizers?.includes(FINALIZER)).map((p) => p.metadata!.name!);
}

describe('tracked pods', function () {
  const ns = useTestNamespace('trk');
  const w = useWatchedOperator(ns);

  it('counts every attempt once when finished pods are deleted while the operator is paused', async function () {
    // 200 items at once: 0-49 fail their first attempt, 50-69 fail every attempt (3), the rest succeed.
    const TOTAL = 200;
    const items: JsonValue[] = Array.from({ length: TOTAL }, (_, n): JsonValue =>
      n < 50 ? { n, sim: { failAttempts: 1 } } : n < 70 ? { n, sim: { exitCode: 3 } } : { n },
    );
    await createJob(
      ns.name,
      makeJob('trk')
        .items(items)
        .parallelism(TOTAL)
        .backoffLimitPerItem(2)
        .maxFailedItems(20)
        // Long enough for all 200 pods to exist, and the operator to be paused, before the first ends.
        .mapAnnotation('sim.mapreduce.dev/duration', '8s')
        .obj(),
    );
    await waitFor('the first 200 pods', async () => (await jobPods(ns.name, 'trk')).length === TOTAL);
    w.operator.proc.kill('SIGSTOP');
    await waitFor('all 200 pods to finish', async () =>
      (await jobPods(ns.name, 'trk')).every(
        (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
      ),
    );
    // As PodGC or a person would, before the operator has seen any of them end.
    kubectl('delete', 'pods', '-n', ns.name, '--field-selector=status.phase=Succeeded', '--wait=false');
    kubectl('delete', 'pods', '-n', ns.name, '--field-selector=status.phase=Failed', '--wait=false');
    const held = await jobPods(ns.name, 'trk');
    expect(held.filter((p) => p.metadata?.deletionTimestamp).length).to.equal(TOTAL); // the finalizer holds them
    w.operator.proc.kill('SIGCONT');

    const job = await waitForPhase(ns.name, 'trk', ['Succeeded', 'Failed'], 90_000);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: 180,
      failedItems: 20,
      retries: 50 + 20 * 2,
    });
    expect(job.status?.failedIndexes).to.equal('50-69');
    const expected: Record<string, string> = {};
    for (const [i, item] of items.entries())
      if (i < 50 || i >= 70) expected[String(i)] = JSON.stringify(item);
    expect(await jobResults(ns.name, 'trk')).to.deep.equal(expected);
    expect(w.watcher.duplicates()).to.deep.equal([]); // no attempt got a second pod
    // Only the kept failed pods remain, none tracked.
    const left = await waitFor('counted pods to go', async () => {
      const pods = await jobPods(ns.name, 'trk');
      return pods.length <= 3 && tracked(pods).length === 0 ? pods : undefined;
    });
    expect(left.every((p) => p.status?.phase === 'Failed')).to.equal(true);
  });

  it('releases every pod of a job deleted mid-run, so the garbage collector can remove them', async function () {
    await createJob(
      ns.name,
      makeJob('gone')
        .items(['a', 'b', 'c'])
        .parallelism(3)
        .mapAnnotation('sim.mapreduce.dev/never-finish', 'true')
        .obj(),
    );
    await waitFor('3 running tracked pods', async () => {
      const pods = await jobPods(ns.name, 'gone');
      return tracked(pods).length === 3 && pods.every((p) => p.status?.phase === 'Running');
    });
    await deleteJob(ns.name, 'gone');
    await waitFor('the pods to be gone', async () => (await jobPods(ns.name, 'gone')).length === 0);
  });

  it('runs a job re-created under the same name while the old one’s pods and ConfigMaps still go; results never mix', async function () {
    await createJob(
      ns.name,
      makeJob('again')
        .items(['old-a', { sim: { neverFinish: true } }])
        .parallelism(2)
        .obj(),
    );
    await waitFor(
      'the old job’s first result',
      async () => (await jobResults(ns.name, 'again'))['0'] === '"old-a"',
    );
    // The old results ConfigMap lingers while the new job runs, as under a slow garbage collector.
    const hold = (finalizers: string[] | null): string =>
      kubectl(
        'patch',
        'configmap',
        'again-results-0',
        '-n',
        ns.name,
        '--type=merge',
        '-p',
        JSON.stringify({ metadata: { finalizers } }),
      );
    hold(['test.mapreduce.dev/hold']);
    await deleteJob(ns.name, 'again');
    await createJob(ns.name, makeJob('again').items(['new-a', 'new-b', 'new-c']).parallelism(3).obj());
    await waitFor('the new job’s pods to finish', async () => {
      const pods = (await jobPods(ns.name, 'again')).filter(
        (p) => p.metadata?.labels?.['mapreduce.dev/item-index'] === '2',
      );
      return pods.length > 0 && pods.every((p) => p.status?.phase === 'Succeeded');
    });
    await sleep(2000);
    hold(null);
    const job = await waitForPhase(ns.name, 'again', ['Succeeded', 'Failed'], 90_000);
    expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 3 });
    expect(await jobResults(ns.name, 'again')).to.deep.equal({ 0: '"new-a"', 1: '"new-b"', 2: '"new-c"' });
    expect(
      w.watcher.duplicates().filter((name) => !name.startsWith('again-0-0') && !name.startsWith('again-1-0')),
    ).to.deep.equal([]);
  });

  it('stores each result once, in immutable pieces the status lists; flags a result the kubelet may have cut', async function () {
    const TOTAL = 240;
    const long = 'é'.repeat(2500); // 5,000 bytes as UTF-8: over the kubelet's 4096
    const items: JsonValue[] = Array.from({ length: TOTAL }, (_, i) =>
      i === 5 ? { sim: { message: long } } : i,
    );
    await createJob(ns.name, makeJob('pieces').items(items).parallelism(40).obj());
    const job = await waitForPhase(ns.name, 'pieces', ['Succeeded', 'Failed'], 90_000);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: TOTAL,
      truncatedResultIndexes: '5',
    });
    const pieces = await jobConfigMaps(ns.name, 'pieces', 'results');
    const listed = resultPieceNames('pieces', job.status?.resultPieces).sort();
    const keys = pieces.flatMap((cm) => Object.keys(cm.data ?? {}).map(Number)).sort((a, b) => a - b);
    expect({
      names: pieces.map((cm) => cm.metadata!.name!).sort(),
      allImmutable: pieces.every((cm) => cm.immutable === true),
      keys,
    }).to.deep.equal({ names: listed, allImmutable: true, keys: Array.from({ length: TOTAL }, (_, i) => i) });
    // Written in batches, not one ConfigMap (or one rewrite) per result.
    expect(pieces.length).to.be.below(TOTAL / 10);
    expect((await jobResults(ns.name, 'pieces'))['5']).to.equal(long);
    const events = await waitForEvent(ns.name, 'pieces', 'ResultTruncated');
    expect(events.filter((e) => e.reason === 'ResultTruncated').map((e) => e.message)).to.deep.equal([
      'item 5 (id 5): its result is 4096 bytes or more; the kubelet keeps only the last 4096 bytes of a termination message, so it may have lost its beginning',
    ]);
  });
});
