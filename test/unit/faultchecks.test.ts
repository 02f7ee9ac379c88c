// The fault suite's checks (test/faults/checks.ts) fail on what they claim to catch: a table of one clean run's
// records, each case changing one thing, and the checks it must (and must only) fail.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { MapReduceJob } from '../../src/api/types.js';
import { resultsConfigMapName } from '../../src/controller/naming.js';
import { Attr, Outcome, SpanName } from '../../src/telemetry/names.js';
import {
  attemptsOf,
  BACKOFF_LIMIT_PER_ITEM,
  check,
  JOB,
  KWOK_STUCK_AFTER_MS,
  REDUCE_RESULT,
  stuckInKwok,
  workload,
} from '../faults/checks.js';
import type { FaultPlan, Observed, Workload } from '../faults/checks.js';
import { formatIndexRanges } from '../../src/controller/indexranges.js';
import { TRACES_PATH } from '../support/otlpreceiver.js';
import type { OtlpSpan } from '../support/otlpreceiver.js';

const PLAN: FaultPlan = {
  items: 100,
  parallelism: 10,
  podDuration: '1s',
  operatorKills: 1,
  collectorOutageMs: 1000,
  baseline: false,
  seed: 7,
};
const TRACE = 'a'.repeat(32);
const T0 = 1_000_000;
const PIECE = resultsConfigMapName(JOB, 0);

const PODS = 'pods created per (item, attempt): exactly 1';
const RESULTS = 'results: all present, none twice';
const UNLISTED = 'results: no piece left that the status does not list';
const STATUS = 'status counts and dead-letter list: exact';
const SPANS = 'spans at the receiver: one per attempt plus job and phases, none missing';
const COPIES = 'spans at the receiver: none duplicated (ids and content)';
const RESTARTS = 'operator restarts: only the ones the test caused';

const int = (n: number): { intValue: string } => ({ intValue: String(n) });
const str = (s: string): { stringValue: string } => ({ stringValue: s });

function spansOf(w: Workload): OtlpSpan[] {
  const id = (n: number): string => n.toString(16).padStart(16, '0');
  const spans: OtlpSpan[] = [
    { traceId: TRACE, spanId: id(1), name: SpanName.Job },
    { traceId: TRACE, spanId: id(2), parentSpanId: id(1), name: SpanName.MapPhase },
    { traceId: TRACE, spanId: id(3), parentSpanId: id(1), name: SpanName.ReducePhase },
    {
      traceId: TRACE,
      spanId: id(4),
      parentSpanId: id(3),
      name: SpanName.Agent,
      attributes: [
        { key: Attr.Attempt, value: int(0) },
        { key: Attr.AgentOutcome, value: str(Outcome.Succeeded) },
      ],
    },
  ];
  let next = 10;
  for (let i = 0; i < PLAN.items; i++)
    for (let a = 0; a < attemptsOf(w, i); a++) {
      const failed = w.broken.has(i) || (w.flaky.has(i) && a === 0);
      spans.push({
        traceId: TRACE,
        spanId: id(next++),
        parentSpanId: id(2),
        name: SpanName.Agent,
        attributes: [
          { key: Attr.ItemIndex, value: int(i) },
          { key: Attr.Attempt, value: int(a) },
          { key: Attr.AgentOutcome, value: str(failed ? Outcome.Failed : Outcome.Succeeded) },
        ],
      });
    }
  return spans;
}

function request(spans: OtlpSpan[]): { path: string; body: string } {
  return {
    path: TRACES_PATH,
    body: JSON.stringify({
      resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: {}, spans }] }],
    }),
  };
}

/** The records of a run in which everything held. */
function clean(w: Workload): Observed {
  const creations = new Map<string, number>([[`${JOB}-reduce-0`, 1]]);
  const results: Observed['results'] = [];
  for (let i = 0; i < PLAN.items; i++) {
    for (let a = 0; a < attemptsOf(w, i); a++) creations.set(`${JOB}-${i}-${a}`, 1);
    if (!w.broken.has(i)) results.push({ key: String(i), value: JSON.stringify(w.items[i]), piece: PIECE });
  }
  const succeeded = [...Array(PLAN.items).keys()].filter((i) => !w.broken.has(i));
  const broken = [...w.broken].sort((a, b) => a - b);
  const job = {
    metadata: { name: JOB },
    status: {
      phase: 'Succeeded',
      totalItems: PLAN.items,
      succeededItems: succeeded.length,
      failedItems: broken.length,
      activeItems: 0,
      retries: w.flaky.size + broken.length * BACKOFF_LIMIT_PER_ITEM,
      completedIndexes: formatIndexRanges(succeeded),
      failedIndexes: formatIndexRanges(broken),
      result: REDUCE_RESULT,
      resultPieces: '0',
      traceID: TRACE,
      // in the order the API server returns it: keys sorted
      failedItemDetails: broken.map((i) => ({
        attempts: BACKOFF_LIMIT_PER_ITEM + 1,
        exitCode: 3,
        id: String(i),
        index: i,
        message: `item ${i} is broken`,
        reason: 'exit code 3',
      })),
    },
  } as unknown as MapReduceJob;
  return {
    started: T0,
    job,
    creations,
    etcdResumes: 1,
    etcdLost: undefined,
    deletedByScript: [],
    nudged: [],
    requests: [request(spansOf(w))],
    arrivals: [T0 + 5_000],
    processes: [0, 1].map((replica) => ({
      replica,
      pid: 100 + replica,
      startedAt: T0,
      endedAt: T0 + 60_000,
      exitCode: null,
      signal: 'SIGKILL',
      killedBy: 'end of test',
      leadershipLost: false,
      stderrTail: '',
    })),
    faults: [{ fault: 'kube-apiserver restart', start: T0 + 10_000, end: T0 + 20_000, progress: 0.3 }],
    results,
    pieces: [PIECE],
  };
}

const W = workload(PLAN);
const firstFlaky = Math.min(...W.flaky);
const firstBroken = Math.min(...W.broken);

const cases: { name: string; change: (o: Observed) => void; fails: string[] }[] = [
  { name: 'nothing wrong', change: () => undefined, fails: [] },
  {
    name: 'an attempt got a second pod',
    change: (o) => o.creations.set(`${JOB}-${firstFlaky}-1`, 2),
    fails: [PODS],
  },
  { name: 'an attempt got no pod', change: (o) => o.creations.delete(`${JOB}-3-0`), fails: [PODS] },
  {
    name: 'the etcd watch could not replay a gap',
    change: (o) => (o.etcdLost = 'compacted at revision 9'),
    fails: [PODS],
  },
  {
    name: 'a result stored twice in listed pieces',
    change: (o) => {
      o.results.push({ ...o.results[0]!, piece: resultsConfigMapName(JOB, 50) });
      o.pieces.push(resultsConfigMapName(JOB, 50));
      o.job.status!.resultPieces = '0,50';
    },
    fails: [RESULTS],
  },
  { name: 'a result missing', change: (o) => o.results.pop(), fails: [RESULTS] },
  {
    name: 'a piece the status does not list, its results also listed',
    change: (o) => {
      o.results.push({ ...o.results[0]!, piece: resultsConfigMapName(JOB, 50) });
      o.pieces.push(resultsConfigMapName(JOB, 50));
    },
    fails: [UNLISTED],
  },
  { name: 'retries off by one', change: (o) => (o.job.status!.retries! += 1), fails: [STATUS] },
  {
    name: 'a dead letter missing',
    change: (o) => (o.job.status!.failedItemDetails = []),
    fails: [STATUS],
  },
  {
    name: 'an agent span missing',
    change: (o) => {
      const spans = spansOf(W).filter(
        (s) =>
          !s.attributes?.some((a) => a.key === Attr.ItemIndex && a.value.intValue === String(firstBroken)),
      );
      o.requests = [request(spans)];
    },
    fails: [SPANS],
  },
  {
    name: 'a failed attempt’s span says succeeded',
    change: (o) => {
      const spans = spansOf(W);
      const flakyFirst = spans.find(
        (s) =>
          s.attributes?.some((a) => a.key === Attr.ItemIndex && a.value.intValue === String(firstFlaky)) &&
          s.attributes.some((a) => a.key === Attr.Attempt && a.value.intValue === '0'),
      )!;
      flakyFirst.attributes = flakyFirst.attributes!.map((a) =>
        a.key === Attr.AgentOutcome ? { ...a, value: str(Outcome.Succeeded) } : a,
      );
      o.requests = [request(spans)];
    },
    fails: [SPANS],
  },
  {
    name: 'a span sent again, identical, after the operator process ended',
    change: (o) => {
      o.requests.push(request(spansOf(W).slice(4, 5)));
      o.arrivals.push(T0 + 70_000);
    },
    fails: [],
  },
  {
    name: 'a span sent again, identical, with no process end or outage in between',
    change: (o) => {
      o.requests.push(request(spansOf(W).slice(4, 5)));
      o.arrivals.push(T0 + 6_000);
    },
    fails: [COPIES],
  },
  {
    name: 'a span sent again with other content',
    change: (o) => {
      o.requests.push(request([{ ...spansOf(W)[4]!, name: SpanName.Agent, status: { code: 2 } }]));
      o.arrivals.push(T0 + 70_000);
    },
    fails: [COPIES],
  },
  {
    name: 'an operator that exited by itself while nothing was down',
    change: (o) => {
      o.processes[0] = { ...o.processes[0]!, killedBy: undefined, exitCode: 1, endedAt: T0 + 50_000 };
    },
    fails: [RESTARTS],
  },
  {
    name: 'an operator that lost its lease while the API server restarted',
    change: (o) => {
      o.processes[0] = {
        ...o.processes[0]!,
        killedBy: undefined,
        exitCode: 1,
        endedAt: T0 + 21_000,
        leadershipLost: true,
      };
    },
    fails: [],
  },
  {
    name: 'an operator that lost its lease long after the API server restart',
    change: (o) => {
      o.processes[0] = {
        ...o.processes[0]!,
        killedBy: undefined,
        exitCode: 1,
        endedAt: T0 + 55_000,
        leadershipLost: true,
      };
    },
    fails: [RESTARTS],
  },
];

describe('fault suite checks', function () {
  for (const c of cases) {
    it(`${c.name}: ${c.fails.length ? c.fails.join('; ') : 'every check holds'}`, function () {
      const o = clean(W);
      c.change(o);
      const failed = check(PLAN, W, o, true)
        .filter((r) => !r.ok)
        .map((r) => r.name);
      expect(failed).to.deep.equal(c.fails);
    });
  }

  it('says which process end explains the copies, by its cause, and how long before it the first copy came', function () {
    const o = clean(W);
    o.processes[0] = { ...o.processes[0]!, killedBy: 'SIGKILL 1 of 1', endedAt: T0 + 8_000 };
    o.processes[1] = {
      ...o.processes[1]!,
      killedBy: undefined,
      exitCode: 1,
      endedAt: T0 + 21_000,
      leadershipLost: true,
    };
    // Two spans again after the SIGKILL; a third span first at 9 s (after it), then again after the lease loss.
    const third = spansOf(W).slice(6, 7);
    o.requests = [request(spansOf(W).filter((_, i) => i !== 6))];
    o.requests.push(request(spansOf(W).slice(4, 6)), request(third), request(third));
    o.arrivals.push(T0 + 9_000, T0 + 9_000, T0 + 30_000);
    const copies = check(PLAN, W, o, true).find((r) => r.name === COPIES)!;
    expect(copies.ok).to.equal(true);
    expect(copies.figures).to.include(
      "3 copies beyond the first (3 with an operator process end in between [3 mapreduce.agent.execute; the first copy at most 12.0 s before that end; by that end's cause: SIGKILL 2 (at most 3.0 s), leadership lost during the kube-apiserver restart 1 (at most 12.0 s)]",
    );
  });
});

describe('fault suite: pods kwok left at a stage it dropped (stuckInKwok)', function () {
  const now = Date.parse('2026-11-27T17:40:00Z');
  const ago = (ms: number): Date => new Date(now - ms);
  const pod = (p: {
    phase: string;
    node?: string;
    ip?: string;
    createdMsAgo: number;
    startedMsAgo?: number;
    deleting?: boolean;
  }): V1Pod => ({
    metadata: {
      name: 'faults-1-0',
      creationTimestamp: ago(p.createdMsAgo),
      ...(p.deleting ? { deletionTimestamp: ago(0) } : {}),
    },
    spec: { containers: [], ...(p.node ? { nodeName: p.node } : {}) },
    status: {
      phase: p.phase,
      ...(p.ip ? { podIP: p.ip } : {}),
      ...(p.startedMsAgo !== undefined
        ? {
            containerStatuses: [
              {
                name: 'main',
                image: 'busybox',
                imageID: '',
                ready: true,
                restartCount: 0,
                state: { running: { startedAt: ago(p.startedMsAgo) } },
              },
            ],
          }
        : {}),
    },
  });
  const past = KWOK_STUCK_AFTER_MS + 1;
  const cases: { name: string; pod: V1Pod; stuck: boolean }[] = [
    {
      name: 'Running past the limit since its start',
      pod: pod({ phase: 'Running', node: 'n', ip: '10.0.0.1', createdMsAgo: past, startedMsAgo: past }),
      stuck: true,
    },
    {
      name: 'Running within the limit',
      pod: pod({ phase: 'Running', node: 'n', ip: '10.0.0.1', createdMsAgo: past, startedMsAgo: 1000 }),
      stuck: false,
    },
    {
      name: 'bound, without an IP, past the limit since its creation (the create stage dropped)',
      pod: pod({ phase: 'Pending', node: 'n', createdMsAgo: past }),
      stuck: true,
    },
    {
      name: 'bound, without an IP, within the limit',
      pod: pod({ phase: 'Pending', node: 'n', createdMsAgo: 1000 }),
      stuck: false,
    },
    {
      name: 'not bound yet, however old (the scheduler, not kwok)',
      pod: pod({ phase: 'Pending', createdMsAgo: past }),
      stuck: false,
    },
    {
      name: 'Pending with its IP, waiting for its start stage',
      pod: pod({ phase: 'Pending', node: 'n', ip: '10.0.0.1', createdMsAgo: past }),
      stuck: false,
    },
    {
      name: 'finished',
      pod: pod({ phase: 'Succeeded', node: 'n', ip: '10.0.0.1', createdMsAgo: past }),
      stuck: false,
    },
    {
      name: 'being deleted',
      pod: pod({ phase: 'Pending', node: 'n', createdMsAgo: past, deleting: true }),
      stuck: false,
    },
  ];
  for (const c of cases)
    it(c.name, function () {
      expect(stuckInKwok(c.pod, now)).to.equal(c.stuck);
    });
});
