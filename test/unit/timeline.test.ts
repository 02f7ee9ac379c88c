// The bench's pod timeline (bench/timeline.ts): the stage a watch event shows, and the summary of first-seen times.
import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { stageOf, summarize } from '../../bench/timeline.js';
import type { Stage } from '../../bench/timeline.js';

describe('bench timeline', function () {
  const rows: { name: string; type: string; pod: V1Pod; stage: Stage }[] = [
    { name: 'unscheduled', type: 'ADDED', pod: { status: { phase: 'Pending' } }, stage: 'pending' },
    {
      name: 'bound to a node',
      type: 'MODIFIED',
      pod: { spec: { nodeName: 'n', containers: [] }, status: { phase: 'Pending' } },
      stage: 'scheduled',
    },
    {
      name: 'given an IP (kwok’s pod-create stage)',
      type: 'MODIFIED',
      pod: { spec: { nodeName: 'n', containers: [] }, status: { phase: 'Pending', podIP: '10.0.0.1' } },
      stage: 'initialized',
    },
    {
      name: 'running',
      type: 'MODIFIED',
      pod: { status: { phase: 'Running', podIP: 'x' } },
      stage: 'running',
    },
    { name: 'succeeded', type: 'MODIFIED', pod: { status: { phase: 'Succeeded' } }, stage: 'finished' },
    { name: 'failed', type: 'MODIFIED', pod: { status: { phase: 'Failed' } }, stage: 'finished' },
    { name: 'deleted', type: 'DELETED', pod: { status: { phase: 'Succeeded' } }, stage: 'gone' },
  ];
  for (const row of rows)
    it(`stageOf: ${row.name} -> ${row.stage}`, function () {
      expect(stageOf(row.type, row.pod)).to.equal(row.stage);
    });

  it('summarize: the gaps between stages, and how long a slot stood empty at the parallelism given, over the pods created while it watched', function () {
    /** A pod created at `t0` whose stages follow at these offsets. */
    const life = (t0: number, run: number): Partial<Record<Stage, number>> => ({
      pending: t0,
      scheduled: t0 + 10,
      initialized: t0 + 30,
      running: t0 + 130,
      finished: t0 + 130 + run,
      gone: t0 + 200 + run,
    });
    // One slot: each pod is created 40, 60 and 200 ms after the one before finished.
    const a = life(0, 500); // finished at 630
    const b = life(670, 500); // finished at 1300
    const c = life(1360, 600); // finished at 2090
    const d = life(2290, 500);
    const s = summarize(
      new Map([
        ['a', a],
        ['b', b],
        ['c', c],
        ['d', { pending: d.pending }], // still pending when the watch stopped
        ['old', { finished: 640, gone: 660 }], // created before the watch: left out
      ]),
      1,
    );
    expect(s.pods).to.equal(4);
    expect(s.stages.map((g) => [g.from, g.to, g.pods, g.medianMs, g.meanMs])).to.deep.equal([
      ['pending', 'scheduled', 3, 10, 10],
      ['scheduled', 'initialized', 3, 20, 20],
      ['initialized', 'running', 3, 100, 100],
      ['running', 'finished', 3, 500, (500 + 500 + 600) / 3],
      ['finished', 'gone', 3, 70, 70],
    ]);
    expect(s.turnaround).to.deep.equal({ pods: 3, medianMs: 60, meanMs: 100, p99Ms: 200, maxMs: 200 });
  });
});
