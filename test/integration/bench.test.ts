// The bench's runs (bench/runs.ts) at small sizes, so `npm run bench` cannot rot: one job through a fresh
// operator with its API calls counted by the API server, and several jobs at once. Only counts that nothing
// but this test can move are asserted (no other test creates pods or MapReduceJobs while it runs): one pod
// create and one scheduler binding per attempt, one MapReduceJob create, an Indexed Job's pod creates, every
// control-plane process read over each run's whole cycle; the bare client's pods all run and go. Timing lives
// in the bench only.
import { expect } from 'chai';
import { callsOf } from '../../bench/apicalls.js';
import { runBareClient } from '../../bench/bareclient.js';
import { CONTROL_PLANE } from '../../bench/proc.js';
import { runIndexedJob, runManyJobs, runMapReduceJob } from '../../bench/runs.js';
import type { Cycle } from '../../bench/runs.js';
import { PodTimeline } from '../../bench/timeline.js';
import { cluster, usingLocalControlPlane } from '../support/cluster.js';

/**
 * What a cycle's CPU reading shows: on the local control plane every process read, and its idle rate, a CPU
 * share of at least 0; elsewhere (TEST_KUBECONFIG) nothing. (How far above idle a 20-pod run goes is within the
 * noise of a namespace still being deleted by an earlier test, so it is not asserted.)
 */
function cycleShape(cycle: Cycle | undefined): { processes: string[]; idle: string[]; idleShares: boolean } {
  const idle = Object.values(cycle?.idlePerSecond ?? {});
  return {
    processes: Object.keys(cycle?.controlPlaneCpu ?? {}),
    idle: Object.keys(cycle?.idlePerSecond ?? {}),
    idleShares: idle.length > 0 && idle.every((v) => Number.isFinite(v) && v >= 0),
  };
}
const localCycleShape = usingLocalControlPlane()
  ? { processes: [...CONTROL_PLANE], idle: [...CONTROL_PLANE], idleShares: true }
  : { processes: [], idle: [], idleShares: false };

describe('bench smoke (bench/runs.ts)', function () {
  it("counts a 20-item job's API calls from the API server: a pod create and a binding per attempt", async () => {
    const r = await runMapReduceJob({ items: 20, parallelism: 10, duration: '100ms' }, { fromSource: true });
    expect({
      attempts: r.attempts,
      unsettled: r.unsettled,
      podCreates: callsOf(r.apiCalls, 'post', 'pods'),
      bindings: callsOf(r.apiCalls, 'post', 'pods/binding'),
      jobCreates: callsOf(r.apiCalls, 'post', 'mapreducejobs.mapreduce.dev'),
      // The whole cycle goes on until the namespace is gone, after the job settled.
      cycleAfterSettled: r.cycle !== undefined && r.cycle.seconds > r.settledSeconds!,
      controlPlane: cycleShape(r.cycle),
    }).to.deep.equal({
      attempts: 20,
      unsettled: undefined,
      podCreates: 20,
      bindings: 20,
      jobCreates: 1,
      cycleAfterSettled: true,
      controlPlane: localCycleShape,
    });
  });

  it('runs a 6-item Indexed Job to Complete, and its whole cycle until its namespace is gone', async () => {
    const r = await runIndexedJob({ items: 6, parallelism: 3, duration: '100ms' });
    expect({
      attempts: r.attempts,
      podCreates: callsOf(r.apiCalls, 'post', 'pods'),
      cycleAfterComplete: r.cycle.seconds > r.seconds,
      controlPlane: cycleShape(r.cycle),
    }).to.deep.equal({
      attempts: 6,
      podCreates: 6,
      cycleAfterComplete: true,
      controlPlane: localCycleShape,
    });
  });

  it('runs 2 jobs submitted together to the end, each with its own time', async () => {
    const r = await runManyJobs(2, { items: 3, parallelism: 3, duration: '100ms' }, { fromSource: true });
    expect({ succeeded: r.succeeded, timed: r.seconds.filter((s) => s > 0).length }).to.deep.equal({
      succeeded: 2,
      timed: 2,
    });
  });

  it('runs a bare client through 12 pods, 4 at a time, and leaves none; the timeline sees each pod through every stage', async () => {
    const timeline = await PodTimeline.start(cluster().kc);
    const r = await runBareClient({ items: 12, parallelism: 4, duration: '100ms' });
    const t = timeline.stop(4);
    expect({
      pods: r.pods,
      left: r.left,
      timed: r.seconds > 0 && r.podsPerSecond === 12 / r.seconds,
      // Pods of earlier tests going meanwhile are seen only gone: every stage pair counts this run's 12.
      stages: t.stages.map((g) => `${g.from}->${g.to} ${g.pods}`),
      turnarounds: t.turnaround.pods,
    }).to.deep.equal({
      pods: 12,
      left: 0,
      timed: true,
      stages: [
        'pending->scheduled 12',
        'scheduled->initialized 12',
        'initialized->running 12',
        'running->finished 12',
        'finished->gone 12',
      ],
      turnarounds: 8,
    });
  });
});
