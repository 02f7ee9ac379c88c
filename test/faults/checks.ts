// The checks of the fault suite, pure: from what a run recorded (pod creations as etcd saw them, results
// pieces, the job's status, the raw OTLP requests, every operator process's end, the faults' windows) to one
// result per claim, with its figures. test/unit/faultchecks.test.ts shows each one fails on the fault it names.
import { isDeepStrictEqual } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import type { FailedItemDetail, JsonValue, MapReduceJob } from '../../src/api/types.js';
import { formatIndexRanges } from '../../src/controller/indexranges.js';
import { resultPieceNames } from '../../src/controller/resultstore.js';
import { Attr, Outcome, SpanName } from '../../src/telemetry/names.js';
import { TRACES_PATH } from '../support/otlpreceiver.js';
import type { OtlpAttribute, OtlpRequest, OtlpSpan } from '../support/otlpreceiver.js';

export interface FaultPlan {
  items: number;
  parallelism: number;
  /** How long each simulated pod runs (kwok). */
  podDuration: string;
  /** SIGKILLs of the leading operator, each started again. */
  operatorKills: number;
  collectorOutageMs: number;
  /** Also run the same job without faults first, for the completion-time ratio. */
  baseline: boolean;
  seed: number;
}

/** Items that fail their first attempt and succeed on the retry. */
export const FLAKY_SHARE = 0.05;
/** Items that fail every attempt: the dead-letter list. */
export const BROKEN_SHARE = 0.01;
export const BACKOFF_LIMIT_PER_ITEM = 2;
const BROKEN_EXIT_CODE = 3;
export const REDUCE_RESULT = 'reduced';
export const JOB = 'faults';
/**
 * Seen in the full suite: a leader killed between writing a results piece and the status write that lists it
 * leaves the piece behind; the next leader writes those results again in pieces of other names and never deletes
 * it. The job's record is right (the status lists each result once), but the piece stays until the job is
 * deleted, and kubectl mapreduce results (src/cli/main.ts) reads every piece by label, so it prints them twice.
 */
const KNOWN_ISSUE_UNLISTED_PIECES =
  'a results piece left by a killed leader stays, unlisted (docs/reliability.md)';

/**
 * An operator that cannot renew its lease for the renew deadline (10 s) exits; one that was paused, or whose
 * API server was down, longer than that may exit when it resumes. Such an exit within this long after the
 * fault's window is the fault's doing.
 */
const LEADERSHIP_LOSS_GRACE_MS = 20_000;

/** mulberry32: a small seeded generator, so a run's random points can be replayed with FAULT_SEED. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The job's items and what each should do: succeed, fail once, or fail every attempt. */
export interface Workload {
  items: JsonValue[];
  flaky: Set<number>;
  broken: Set<number>;
}

export function workload(plan: FaultPlan): Workload {
  const random = seededRandom(plan.seed);
  const order = shuffled(
    Array.from({ length: plan.items }, (_, i) => i),
    random,
  );
  const flaky = new Set(order.slice(0, Math.round(plan.items * FLAKY_SHARE)));
  const broken = new Set(
    order.slice(flaky.size, flaky.size + Math.max(1, Math.round(plan.items * BROKEN_SHARE))),
  );
  const items = Array.from({ length: plan.items }, (_, i): JsonValue => {
    if (flaky.has(i)) return { i, sim: { failAttempts: 1 } };
    if (broken.has(i)) return { i, sim: { exitCode: BROKEN_EXIT_CODE, message: `item ${i} is broken` } };
    return { i };
  });
  return { items, flaky, broken };
}

export function attemptsOf(w: Workload, i: number): number {
  if (w.flaky.has(i)) return 2;
  if (w.broken.has(i)) return BACKOFF_LIMIT_PER_ITEM + 1;
  return 1;
}

/** A window in which the test made something unavailable, for the attribution of what happened in it. */
export interface FaultWindow {
  fault: string;
  start: number;
  end?: number;
  /** The share of items done when it began. */
  progress: number;
  detail?: string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  figures: string;
  /** A known bug this check finds at times: reported, and asserted only by the full suite (npm run test:faults). */
  knownIssue?: string;
}

/** One operator process, as the checks need it. */
export interface ProcessRecord {
  replica: number;
  pid: number | undefined;
  startedAt: number;
  endedAt?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** Set when the test ended it itself. */
  killedBy?: string;
  /** Its last log message and, for a leadership loss, why. */
  lastMessage?: string;
  /** It logged 'leadership lost: exiting'. */
  leadershipLost: boolean;
  stderrTail: string;
}

/** Everything a run leaves to check. */
export interface Observed {
  /** When the job was created (Date.now()): times in figures are from here. */
  started: number;
  job: MapReduceJob;
  creations: Map<string, number>;
  etcdResumes: number;
  etcdLost: string | undefined;
  deletedByScript: string[];
  /** Pods the script nudged because kwok left them Running (scenario.ts, KWOK_STUCK_AFTER_MS). */
  nudged: string[];
  /** The receiver's requests as they arrived, and when (OtlpReceiver.requests, .arrivals). */
  requests: OtlpRequest[];
  arrivals: number[];
  processes: ProcessRecord[];
  faults: FaultWindow[];
  results: { key: string; value: string; piece: string }[];
  pieces: string[];
}

function attr(attributes: OtlpAttribute[] | undefined, key: string): unknown {
  const a = attributes?.find((x) => x.key === key);
  return a ? Object.values(a.value)[0] : undefined;
}

export function check(plan: FaultPlan, w: Workload, o: Observed, withFaults: boolean): CheckResult[] {
  const checks: CheckResult[] = [];
  const add = (name: string, ok: boolean, figures: string, knownIssue?: string): void =>
    void checks.push({ name, ok, figures, ...(knownIssue ? { knownIssue } : {}) });

  // Pods created per (item, attempt): exactly one, as etcd saw them.
  const expectedPods = new Set<string>([`${JOB}-reduce-0`]);
  for (let i = 0; i < plan.items; i++)
    for (let a = 0; a < attemptsOf(w, i); a++) expectedPods.add(`${JOB}-${i}-${a}`);
  const twice = [...o.creations].filter(([, n]) => n > 1).map(([name, n]) => `${name} x${n}`);
  const missing = [...expectedPods].filter((name) => !o.creations.has(name));
  const unexpected = [...o.creations.keys()].filter((name) => !expectedPods.has(name));
  const created = [...o.creations.values()].reduce((a, b) => a + b, 0);
  add(
    'pods created per (item, attempt): exactly 1',
    twice.length === 0 && missing.length === 0 && unexpected.length === 0 && o.etcdLost === undefined,
    `${created} creations for ${expectedPods.size} expected (item, attempt) pairs; more than once: ${twice.length}` +
      `${twice.length ? ` (${twice.slice(0, 10).join(', ')})` : ''}; missing: ${missing.length}` +
      `${missing.length ? ` (${missing.slice(0, 10).join(', ')})` : ''}; unexpected: ${unexpected.length}; ` +
      `etcd watch resumed ${o.etcdResumes} times after its stream ended${o.etcdLost ? `, LOST: ${o.etcdLost}` : ', nothing lost'}` +
      `${o.deletedByScript.length ? `; ${o.deletedByScript.length} pods deleted by the script, each created ${[...new Set(o.deletedByScript.map((n) => o.creations.get(n) ?? 0))].join('/')} time(s)` : ''}`,
  );

  // Results: every succeeded item's once, no other, in the pieces the status lists (what the job records and the
  // reduce pod reads); and no other piece of the job (kubectl mapreduce results reads every piece by label).
  const listed = new Set(resultPieceNames(JOB, o.job.status?.resultPieces));
  const inListed = o.results.filter((r) => listed.has(r.piece));
  const seen = new Map<string, number>();
  for (const r of inListed) seen.set(r.key, (seen.get(r.key) ?? 0) + 1);
  const expectedResults = new Map<string, string>();
  for (let i = 0; i < plan.items; i++)
    if (!w.broken.has(i)) expectedResults.set(String(i), JSON.stringify(w.items[i]));
  const resultTwice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  const resultMissing = [...expectedResults.keys()].filter((k) => !seen.has(k));
  const resultExtra = [...seen.keys()].filter((k) => !expectedResults.has(k));
  const wrong = inListed.filter((r) => expectedResults.get(r.key) !== r.value);
  const listedMissing = [...listed].filter((name) => !o.pieces.includes(name));
  add(
    'results: all present, none twice',
    resultTwice.length + resultMissing.length + resultExtra.length + wrong.length + listedMissing.length ===
      0,
    `${seen.size} of ${expectedResults.size} results in the ${listed.size} pieces the status lists ` +
      `(${listedMissing.length} of them missing); twice: ${resultTwice.length}, missing: ${resultMissing.length}, ` +
      `unexpected: ${resultExtra.length}, wrong value: ${wrong.length}`,
  );
  const unlisted = o.pieces.filter((name) => !listed.has(name));
  const unlistedResults = o.results.filter((r) => !listed.has(r.piece));
  add(
    'results: no piece left that the status does not list',
    unlisted.length === 0,
    `${unlisted.length} unlisted pieces${unlisted.length ? ` (${unlisted.join(', ')})` : ''} holding ${unlistedResults.length} results, ` +
      `${unlistedResults.filter((r) => seen.has(r.key)).length} of them also in a listed piece ` +
      `(kubectl mapreduce results, which reads every piece by label, prints those twice)`,
    KNOWN_ISSUE_UNLISTED_PIECES,
  );

  // Status counts and the dead-letter list.
  const succeeded = [...Array(plan.items).keys()].filter((i) => !w.broken.has(i));
  const expectedStatus = {
    phase: 'Succeeded',
    totalItems: plan.items,
    succeededItems: succeeded.length,
    failedItems: w.broken.size,
    activeItems: 0,
    retries: w.flaky.size + w.broken.size * BACKOFF_LIMIT_PER_ITEM,
    completedIndexes: formatIndexRanges(succeeded),
    failedIndexes: formatIndexRanges([...w.broken].sort((a, b) => a - b)),
    result: REDUCE_RESULT,
  };
  const s = o.job.status ?? {};
  const actualStatus = Object.fromEntries(
    Object.keys(expectedStatus).map((k) => [k, (s as Record<string, unknown>)[k]]),
  );
  const expectedDead: FailedItemDetail[] = [...w.broken]
    .sort((a, b) => a - b)
    .map((i) => ({
      index: i,
      id: String(i),
      attempts: BACKOFF_LIMIT_PER_ITEM + 1,
      reason: `exit code ${BROKEN_EXIT_CODE}`,
      exitCode: BROKEN_EXIT_CODE,
      message: `item ${i} is broken`,
    }));
  const actualDead = [...(s.failedItemDetails ?? [])].sort((a, b) => a.index - b.index);
  const statusOk = isDeepStrictEqual(actualStatus, expectedStatus);
  const deadOk = isDeepStrictEqual(actualDead, expectedDead);
  add(
    'status counts and dead-letter list: exact',
    statusOk && deadOk,
    `succeeded ${String(s.succeededItems)}/${expectedStatus.succeededItems}, failed ${String(s.failedItems)}/${expectedStatus.failedItems}, ` +
      `retries ${String(s.retries)}/${expectedStatus.retries}, dead letters ${actualDead.length}/${expectedDead.length} ` +
      `${deadOk ? 'exact' : `DIFFER: ${JSON.stringify(actualDead).slice(0, 400)}`}` +
      `${statusOk ? '' : `; status DIFFERS: ${JSON.stringify(actualStatus).slice(0, 400)} expected ${JSON.stringify(expectedStatus).slice(0, 400)}`}`,
  );

  checks.push(...checkSpans(plan, w, o));
  checks.push(checkRestarts(o, withFaults));
  return checks;
}

interface Copy {
  text: string;
  at: number;
  span: OtlpSpan;
}

function checkSpans(plan: FaultPlan, w: Workload, o: Observed): CheckResult[] {
  const traceId = o.job.status?.traceID ?? '';
  // Every copy of every span, from the raw requests, with when it arrived.
  const copies = new Map<string, Copy[]>();
  let otherTraces = 0;
  for (const [n, r] of o.requests.entries()) {
    if (r.path !== TRACES_PATH) continue;
    const receivedAt = o.arrivals[n]!;
    const body = JSON.parse(r.body) as {
      resourceSpans?: {
        resource?: { attributes?: OtlpAttribute[] };
        scopeSpans?: { scope?: object; spans?: OtlpSpan[] }[];
      }[];
    };
    for (const rs of body.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const span of ss.spans ?? []) {
          if (span.traceId !== traceId) {
            otherTraces++;
            continue;
          }
          const text = JSON.stringify({
            resource: rs.resource?.attributes ?? [],
            scope: ss.scope ?? {},
            span,
          });
          const list = copies.get(span.spanId) ?? [];
          list.push({ text, at: receivedAt, span });
          copies.set(span.spanId, list);
        }
  }
  const spans = [...copies.values()].map((c) => c[0]!.span);
  const named = (n: string): OtlpSpan[] => spans.filter((sp) => sp.name === n);
  const jobSpans = named(SpanName.Job);
  const mapSpans = named(SpanName.MapPhase);
  const reduceSpans = named(SpanName.ReducePhase);
  const agents = named(SpanName.Agent);

  // One agent span per (item, attempt), its outcome as the item's script says, under its phase.
  const expected = new Map<string, string>();
  for (let i = 0; i < plan.items; i++)
    for (let a = 0; a < attemptsOf(w, i); a++) {
      const failed = w.broken.has(i) || (w.flaky.has(i) && a === 0);
      expected.set(`${i}.${a}`, failed ? Outcome.Failed : Outcome.Succeeded);
    }
  expected.set('reduce.0', Outcome.Succeeded);
  const byAttempt = new Map<string, OtlpSpan[]>();
  for (const a of agents) {
    const index = attr(a.attributes, Attr.ItemIndex);
    const key = `${index === undefined ? 'reduce' : Number(index)}.${Number(attr(a.attributes, Attr.Attempt))}`;
    byAttempt.set(key, [...(byAttempt.get(key) ?? []), a]);
  }
  const agentTwice = [...byAttempt].filter(([, l]) => l.length > 1).map(([k]) => k);
  const agentMissing = [...expected.keys()].filter((k) => !byAttempt.has(k));
  const agentExtra = [...byAttempt.keys()].filter((k) => !expected.has(k));
  const wrongOutcome = [...byAttempt].filter(
    ([k, l]) => expected.has(k) && attr(l[0]!.attributes, Attr.AgentOutcome) !== expected.get(k),
  );
  const mapId = mapSpans[0]?.spanId;
  const reduceId = reduceSpans[0]?.spanId;
  const jobId = jobSpans[0]?.spanId;
  const wrongParent = agents.filter(
    (a) => a.parentSpanId !== (attr(a.attributes, Attr.ItemIndex) === undefined ? reduceId : mapId),
  ).length;
  const phasesUnderJob = [...mapSpans, ...reduceSpans].every((p) => p.parentSpanId === jobId);
  const expectedTotal = expected.size + 3;
  const spansOk =
    jobSpans.length === 1 &&
    mapSpans.length === 1 &&
    reduceSpans.length === 1 &&
    agentTwice.length + agentMissing.length + agentExtra.length + wrongOutcome.length + wrongParent === 0 &&
    phasesUnderJob &&
    spans.length === expectedTotal &&
    otherTraces === 0 &&
    o.job.status?.trace?.spansDropped === undefined;

  // Copies beyond the first: byte for byte the same, and only where a sender could not know it had arrived (its
  // process ended, or the receiver cut the connection, between the copies).
  const ended = o.processes.filter((r) => r.endedAt !== undefined);
  const processEnds = ended.map((r) => r.endedAt!);
  /** Repeats by the cause of the process end that explains them, and the longest gap before that end. */
  const byEnd = new Map<string, { copies: number; longestMs: number }>();
  const outages = o.faults.filter((f) => f.fault === 'collector down').map((f) => f.start);
  const between = (times: number[], from: number, to: number): boolean =>
    times.some((t) => t >= from && t <= to);
  let extra = 0;
  let differing = 0;
  let afterProcessEnd = 0;
  let oldestRepeat = 0;
  const repeatedNames = new Map<string, number>();
  let afterOutage = 0;
  let unexplained = 0;
  for (const list of copies.values()) {
    extra += list.length - 1;
    for (const c of list.slice(1)) {
      if (c.text !== list[0]!.text) differing++;
      if (between(processEnds, list[0]!.at, c.at)) {
        afterProcessEnd++;
        // How long the first copy had arrived before the process end that explains the repeat.
        const end = Math.min(...processEnds.filter((t) => t >= list[0]!.at && t <= c.at));
        oldestRepeat = Math.max(oldestRepeat, end - list[0]!.at);
        repeatedNames.set(c.span.name, (repeatedNames.get(c.span.name) ?? 0) + 1);
        const record = ended.find((r) => r.endedAt === end)!;
        const cause = (causeOf(record, o.faults) ?? 'an unexplained end').replace(/^SIGKILL.*/, 'SIGKILL');
        const entry = byEnd.get(cause) ?? { copies: 0, longestMs: 0 };
        entry.copies++;
        entry.longestMs = Math.max(entry.longestMs, end - list[0]!.at);
        byEnd.set(cause, entry);
      } else if (between(outages, list[0]!.at, c.at)) afterOutage++;
      else unexplained++;
    }
  }
  const received = [...copies.values()].reduce((n, l) => n + l.length, 0);
  return [
    {
      name: 'spans at the receiver: one per attempt plus job and phases, none missing',
      ok: spansOk,
      figures:
        `${spans.length} distinct spans of ${expectedTotal} expected (${agents.length} agent for ${expected.size} attempts, ` +
        `${mapSpans.length} map, ${reduceSpans.length} reduce, ${jobSpans.length} job); ` +
        `attempts with two spans: ${agentTwice.length}, missing: ${agentMissing.length}` +
        `${agentMissing.length ? ` (${agentMissing.slice(0, 10).join(', ')})` : ''}, unexpected: ${agentExtra.length}, ` +
        `wrong outcome: ${wrongOutcome.length}, wrong parent: ${wrongParent + (phasesUnderJob ? 0 : 1)}, ` +
        `spans of other traces: ${otherTraces}, dropped: ${o.job.status?.trace?.spansDropped ?? 0}`,
    },
    {
      name: 'spans at the receiver: none duplicated (ids and content)',
      ok: differing === 0 && unexplained === 0,
      figures:
        `${received} copies received of ${copies.size} span ids in ${o.requests.filter((x) => x.path === TRACES_PATH).length} requests; ` +
        `${extra} copies beyond the first (${afterProcessEnd} with an operator process end in between` +
        `${afterProcessEnd ? ` [${[...repeatedNames].map(([n, k]) => `${k} ${n}`).join(', ')}; the first copy at most ${(oldestRepeat / 1000).toFixed(1)} s before that end; by that end's cause: ${[...byEnd].map(([cause, e]) => `${cause} ${e.copies} (at most ${(e.longestMs / 1000).toFixed(1)} s)`).join(', ')}]` : ''}, ` +
        `${afterOutage} across a receiver outage, ${unexplained} with neither in between), ${differing} differing in content`,
    },
  ];
}

/** Why a process ended, if the test caused it. */
function causeOf(r: ProcessRecord, faults: FaultWindow[]): string | undefined {
  if (r.killedBy) return r.killedBy;
  const lost = r.leadershipLost;
  const window = faults.find(
    (f) =>
      (f.fault === 'kube-apiserver restart' ||
        f.fault === 'etcd restart' ||
        f.fault === 'pause and delete') &&
      r.endedAt! >= f.start &&
      r.endedAt! <= (f.end ?? Infinity) + LEADERSHIP_LOSS_GRACE_MS,
  );
  if (lost && window) return `leadership lost during the ${window.fault}`;
  return undefined;
}

function checkRestarts(o: Observed, withFaults: boolean): CheckResult {
  const ended = o.processes.filter((r) => r.endedAt !== undefined && r.killedBy !== 'end of test');
  const unexplained = ended.filter((r) => causeOf(r, o.faults) === undefined);
  const byCause = new Map<string, number>();
  for (const r of ended) {
    const cause = causeOf(r, o.faults) ?? 'UNEXPECTED';
    const key = cause.startsWith('SIGKILL') ? 'SIGKILL' : cause;
    byCause.set(key, (byCause.get(key) ?? 0) + 1);
  }
  const detail = unexplained
    .map(
      (r) =>
        `replica ${r.replica} pid ${String(r.pid)} (started at ${((r.startedAt - o.started) / 1000).toFixed(1)} s, ended at ` +
        `${((r.endedAt! - o.started) / 1000).toFixed(1)} s): exit ${String(r.exitCode)} signal ${String(r.signal)}, ` +
        `last log "${r.lastMessage ?? ''}", stderr "${r.stderrTail}"`,
    )
    .join('; ');
  return {
    name: 'operator restarts: only the ones the test caused',
    ok: unexplained.length === 0 && (withFaults || ended.length === 0),
    figures:
      `${ended.length} process ends (${[...byCause].map(([c, n]) => `${n} ${c}`).join(', ') || 'none'}), ` +
      `${o.processes.length} processes started` +
      `${detail ? `; unexplained: ${detail}` : ''}`,
  };
}

/**
 * kwok 0.8.0 drops a pod stage it could not apply (an etcd restart answers Unavailable) and never plays it again:
 * once, a pod stayed Running for good and the job waited at 1,999 of 2,000 items; once, four bound pods stayed
 * Pending without an IP (docs/reliability.md). A pod Running this long past its start, or bound and without an IP
 * this long past its creation, is nudged (an annotation changed, so kwok looks at it again) and counted in the
 * report: a simulator's fault, not one the operator could see or mend.
 */
export const KWOK_STUCK_AFTER_MS = 60_000;

/**
 * Whether kwok left the pod at a stage it dropped (see KWOK_STUCK_AFTER_MS): Running longer than that since its
 * start, or bound to a node and still without the IP kwok's first stage (delay 0) gives it that long after its
 * creation. Pure.
 */
export function stuckInKwok(p: V1Pod, now: number): boolean {
  if (p.metadata?.deletionTimestamp) return false;
  const startedAt = p.status?.containerStatuses?.[0]?.state?.running?.startedAt;
  if (p.status?.phase === 'Running')
    return startedAt !== undefined && now - new Date(startedAt).getTime() > KWOK_STUCK_AFTER_MS;
  const createdAt = p.metadata?.creationTimestamp;
  return (
    p.status?.phase === 'Pending' &&
    p.spec?.nodeName !== undefined &&
    !p.status?.podIP &&
    createdAt !== undefined &&
    now - new Date(createdAt).getTime() > KWOK_STUCK_AFTER_MS
  );
}
