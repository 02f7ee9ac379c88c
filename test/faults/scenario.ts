// The fault scenario of issue 15: one job in which some items fail once and some for good, traced at ratio 1.0,
// run by two operator replicas with leader election while the test SIGKILLs the operator, restarts
// kube-apiserver and etcd, takes the OTLP receiver down, kills the leader, and deletes finished pods while the
// operator is paused. Afterwards it checks, from records the faults cannot corrupt, that every (item, attempt)
// got exactly one pod, every result is stored once, the status is exact, every span arrived, and the operator
// restarted only when the test made it; and prints the figures.
//
// Who sees what:
// - pod creations: a watch on etcd under the API server (EtcdPrefixWatch), started before the job and resumed
//   across both restarts from its last revision; it sees a pod created and deleted again in any gap, which a
//   watch through the API server being restarted would not;
// - spans: the raw OTLP/HTTP requests the receiver got, span by span and byte by byte;
// - restarts: the exit of every operator process the test's supervisor started.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER_TELEMETRY, FINALIZER_TRACKING } from '../../src/api/constants.js';
import type { FailedItemDetail, JsonValue, MapReduceJob } from '../../src/api/types.js';
import { formatIndexRanges } from '../../src/controller/indexranges.js';
import { resultPieceNames } from '../../src/controller/resultstore.js';
import { Attr, Outcome, SpanName } from '../../src/telemetry/names.js';
import { cluster, REPO_ROOT, sleep, waitFor } from '../support/cluster.js';
import { EtcdPrefixWatch, localEtcdUrl, podKeyPrefix } from '../support/etcdwatch.js';
import { createJob, getJob, jobConfigMaps, jobPods } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { OperatorFleet } from '../support/operatorfleet.js';
import type { ReplicaRun } from '../support/operatorfleet.js';
import { OtlpReceiver, TRACES_PATH } from '../support/otlpreceiver.js';
import type { OtlpAttribute, OtlpSpan } from '../support/otlpreceiver.js';

const run = promisify(execFile);

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
const FLAKY_SHARE = 0.05;
/** Items that fail every attempt: the dead-letter list. */
const BROKEN_SHARE = 0.01;
const BACKOFF_LIMIT_PER_ITEM = 2;
const BROKEN_EXIT_CODE = 3;
const REDUCE_RESULT = 'reduced';
const JOB = 'faults';
const LEASE = 'faults-leader';
const REPLICAS = 2;
/** Share of the finished pods a script deletes while the operator is paused. */
const DELETED_SHARE = 0.1;
/** While paused: the longest wait for the pods in flight to end, so there are finished pods to delete. */
const PAUSE_MAX_WAIT_MS = 20_000;
/** Faults are injected at random points between these shares of the job's items done. */
const FIRST_FAULT_AT = 0.05;
const LAST_FAULT_AT = 0.75;
const PROGRESS_POLL_MS = 250;
/** A whole job, faults and all, on a loaded 2-core machine. */
const JOB_TIMEOUT_MS = 20 * 60_000;
/** After the job ends: its spans delivered (the collector may still be down) and its pods released. */
const SETTLE_TIMEOUT_MS = 5 * 60_000;
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

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The job's items and what each should do: succeed, fail once, or fail every attempt. */
interface Workload {
  items: JsonValue[];
  flaky: Set<number>;
  broken: Set<number>;
}

function workload(plan: FaultPlan): Workload {
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

function attemptsOf(w: Workload, i: number): number {
  if (w.flaky.has(i)) return 2;
  if (w.broken.has(i)) return BACKOFF_LIMIT_PER_ITEM + 1;
  return 1;
}

function jobOf(plan: FaultPlan, w: Workload): MapReduceJob {
  return makeJob(JOB)
    .items(w.items)
    .parallelism(plan.parallelism)
    .backoffLimitPerItem(BACKOFF_LIMIT_PER_ITEM)
    .maxFailedItems(w.broken.size)
    .mapAnnotation('sim.mapreduce.dev/duration', plan.podDuration)
    .reduce(REDUCE_RESULT)
    .obj();
}

/** A window in which the test made something unavailable, for the attribution of what happened in it. */
interface FaultWindow {
  fault: string;
  start: number;
  end?: number;
  /** The share of items done when it began. */
  progress: number;
  detail?: string;
}

export interface RunFigures {
  label: string;
  seconds: number;
  settledSeconds: number;
  faults: FaultWindow[];
  checks: CheckResult[];
  lines: string[];
}

interface CheckResult {
  name: string;
  ok: boolean;
  figures: string;
}

/** Everything a run leaves to check. */
interface Observed {
  job: MapReduceJob;
  creations: Map<string, number>;
  etcdReconnects: number;
  etcdLost: string | undefined;
  deletedByScript: string[];
  receiver: OtlpReceiver;
  runs: ReplicaRun[];
  faults: FaultWindow[];
  results: { key: string; value: string; piece: string }[];
  pieces: string[];
}

async function restartComponent(name: 'etcd' | 'kube-apiserver'): Promise<void> {
  await run('bash', [path.join(REPO_ROOT, 'hack', 'restart-component.sh'), name], { cwd: REPO_ROOT });
}

/** Items done (succeeded or failed) as the job's status says; undefined while the API server does not answer. */
async function progressOf(ns: string): Promise<{ done: number; phase?: string } | undefined> {
  try {
    const job = await getJob(ns, JOB);
    return {
      done: (job.status?.succeededItems ?? 0) + (job.status?.failedItems ?? 0),
      phase: job.status?.phase,
    };
  } catch {
    return undefined;
  }
}

const ENDED = ['Succeeded', 'Failed'];

/**
 * Runs the job once, with the plan's faults (or none), and returns what the checks need. The namespace exists;
 * the caller deletes it.
 */
export async function runJob(ns: string, plan: FaultPlan, withFaults: boolean): Promise<RunFigures> {
  const w = workload(plan);
  const random = seededRandom(plan.seed ^ 0x5eed);
  const receiver = await OtlpReceiver.start();
  const etcd = new EtcdPrefixWatch(localEtcdUrl(), podKeyPrefix(ns));
  await etcd.start();
  const fleet = new OperatorFleet(
    ns,
    [
      '--leader-elect',
      `--leader-election-namespace=${ns}`,
      `--leader-election-id=${LEASE}`,
      '--trace-sample-ratio=1.0',
    ],
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRICS_EXPORTER: 'none',
    },
    REPLICAS,
    LEASE,
  );
  const faults: FaultWindow[] = [];
  const deletedByScript: string[] = [];
  let outage: Promise<void> | undefined;
  let started: number;
  let endedAt: number;
  let settledAt: number;
  try {
    await fleet.start();
    started = Date.now();
    await createJob(ns, jobOf(plan, w));
    const total = plan.items;

    if (withFaults) {
      const kinds = [
        ...Array.from({ length: plan.operatorKills }, () => 'SIGKILL'),
        'kube-apiserver restart',
        'etcd restart',
        'collector down',
        'leader kill',
        'pause and delete',
      ];
      // Kills are numbered in the order they happen.
      let kill = 0;
      const order = shuffled(kinds, random).map((k) =>
        k === 'SIGKILL' ? `SIGKILL ${++kill} of ${plan.operatorKills}` : k,
      );
      const points = order
        .map(() => FIRST_FAULT_AT + random() * (LAST_FAULT_AT - FIRST_FAULT_AT))
        .sort((a, b) => a - b);
      for (const [k, fault] of order.entries()) {
        const at = points[k]!;
        const progress = await waitFor(
          `${Math.round(at * 100)} % of the items done, for the fault "${fault}"`,
          async () => {
            const p = await progressOf(ns);
            if (p?.phase && ENDED.includes(p.phase)) throw new Error(`the job ended before "${fault}"`);
            return p && p.done / total >= at ? p.done / total : undefined;
          },
          JOB_TIMEOUT_MS,
        );
        const window: FaultWindow = { fault, start: Date.now(), progress };
        faults.push(window);
        if (fault.startsWith('SIGKILL')) {
          const leader = await fleet.leader();
          window.start = Date.now();
          await fleet.kill(leader, fault);
          window.detail = `replica ${leader.replica} (pid ${leader.op.proc.pid})`;
        } else if (fault === 'leader kill') {
          const leader = await fleet.leader();
          const standby = fleet.live().find((r) => r !== leader);
          window.start = Date.now();
          await fleet.kill(leader, fault);
          const next = await fleet.leader();
          window.detail = `replica ${leader.replica} killed; ${next === standby ? 'the standby' : 'a restarted replica'} took over after ${((Date.now() - window.start) / 1000).toFixed(1)} s`;
          if (next !== standby) window.detail += ' (NOT the standby)';
        } else if (fault === 'kube-apiserver restart') {
          await restartComponent('kube-apiserver');
        } else if (fault === 'etcd restart') {
          await restartComponent('etcd');
        } else if (fault === 'collector down') {
          await receiver.down();
          outage = (async () => {
            await sleep(plan.collectorOutageMs);
            await receiver.up();
            window.end = Date.now();
          })();
          continue; // the receiver comes back on its own schedule; the next fault does not wait for it
        } else if (fault === 'pause and delete') {
          fleet.signalAll('SIGSTOP');
          window.detail = await deleteFinishedPods(ns, random, deletedByScript);
          fleet.signalAll('SIGCONT');
        }
        window.end = Date.now();
      }
    }

    await waitFor(
      `job ${JOB} to end`,
      async () => {
        const p = await progressOf(ns);
        return p?.phase && ENDED.includes(p.phase) ? true : undefined;
      },
      JOB_TIMEOUT_MS,
    );
    endedAt = Date.now();
    await outage;
    await waitFor(
      'the job’s spans delivered and its pods released',
      async () => {
        const job = await getJob(ns, JOB);
        const held = (await jobPods(ns, JOB)).filter((p) =>
          p.metadata?.finalizers?.includes(FINALIZER_TRACKING),
        );
        return job.status?.trace?.delivered?.includes('end') &&
          !job.metadata.finalizers?.includes(FINALIZER_TELEMETRY) &&
          held.length === 0
          ? true
          : undefined;
      },
      SETTLE_TIMEOUT_MS,
    );
    settledAt = Date.now();
  } finally {
    await outage?.catch(() => undefined);
    await fleet.stop();
    await etcd.stop();
    await receiver.stop();
  }

  const job = await getJob(ns, JOB);
  const creations = new Map<string, number>();
  for (const e of etcd.creations()) {
    const name = e.key.slice(podKeyPrefix(ns).length);
    creations.set(name, (creations.get(name) ?? 0) + 1);
  }
  const pieces = await jobConfigMaps(ns, JOB, 'results');
  const observed: Observed = {
    job,
    creations,
    etcdReconnects: etcd.resumes,
    etcdLost: etcd.lost,
    deletedByScript,
    receiver,
    runs: fleet.runs,
    faults,
    results: pieces.flatMap((cm) =>
      Object.entries(cm.data ?? {}).map(([key, value]) => ({ key, value, piece: cm.metadata!.name! })),
    ),
    pieces: pieces.map((cm) => cm.metadata!.name!),
  };
  const checks = check(plan, w, observed, withFaults);
  const seconds = (endedAt - started) / 1000;
  const settledSeconds = (settledAt - started) / 1000;
  return {
    label: withFaults ? 'with faults' : 'without faults',
    seconds,
    settledSeconds,
    faults,
    checks,
    lines: report(observed, checks, seconds, settledSeconds, started),
  };
}

/**
 * With the operator paused: waits for the pods in flight to end, then deletes DELETED_SHARE of the finished
 * pods (not already being deleted), chosen at random, as PodGC or a person would. Returns what it did.
 */
async function deleteFinishedPods(ns: string, random: () => number, deleted: string[]): Promise<string> {
  const waitStart = Date.now();
  let pods: V1Pod[];
  const finished = (p: V1Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
  for (;;) {
    pods = (await jobPods(ns, JOB)).filter((p) => !p.metadata?.deletionTimestamp);
    if (pods.every(finished) || Date.now() - waitStart > PAUSE_MAX_WAIT_MS) break;
    await sleep(PROGRESS_POLL_MS);
  }
  const candidates = pods.filter(finished);
  const chosen = shuffled(candidates, random).slice(0, Math.ceil(candidates.length * DELETED_SHARE));
  await Promise.all(
    chosen.map((p) => cluster().core.deleteNamespacedPod({ namespace: ns, name: p.metadata!.name! })),
  );
  deleted.push(...chosen.map((p) => p.metadata!.name!));
  const inFlight = pods.length - candidates.length;
  return `deleted ${chosen.length} of ${candidates.length} finished pods (${inFlight} still in flight after ${((Date.now() - waitStart) / 1000).toFixed(1)} s)`;
}

function attr(attributes: OtlpAttribute[] | undefined, key: string): unknown {
  const a = attributes?.find((x) => x.key === key);
  return a ? Object.values(a.value)[0] : undefined;
}

function check(plan: FaultPlan, w: Workload, o: Observed, withFaults: boolean): CheckResult[] {
  const checks: CheckResult[] = [];
  const add = (name: string, ok: boolean, figures: string): void => void checks.push({ name, ok, figures });

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
      `etcd watch resumed ${o.etcdReconnects} times after its stream ended${o.etcdLost ? `, LOST: ${o.etcdLost}` : ', nothing lost'}` +
      `${o.deletedByScript.length ? `; ${o.deletedByScript.length} pods deleted by the script, each created ${[...new Set(o.deletedByScript.map((n) => o.creations.get(n) ?? 0))].join('/')} time(s)` : ''}`,
  );

  // Results: every succeeded item's once, no other, in pieces the status lists.
  const seen = new Map<string, number>();
  for (const r of o.results) seen.set(r.key, (seen.get(r.key) ?? 0) + 1);
  const expectedResults = new Map<string, string>();
  for (let i = 0; i < plan.items; i++)
    if (!w.broken.has(i)) expectedResults.set(String(i), JSON.stringify(w.items[i]));
  const resultTwice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  const resultMissing = [...expectedResults.keys()].filter((k) => !seen.has(k));
  const resultExtra = [...seen.keys()].filter((k) => !expectedResults.has(k));
  const wrong = o.results.filter((r) => expectedResults.has(r.key) && expectedResults.get(r.key) !== r.value);
  const listed = resultPieceNames(JOB, o.job.status?.resultPieces).sort();
  const piecesMatch = JSON.stringify(listed) === JSON.stringify([...o.pieces].sort());
  add(
    'results: all present, none twice',
    resultTwice.length + resultMissing.length + resultExtra.length + wrong.length === 0 && piecesMatch,
    `${seen.size} of ${expectedResults.size} results in ${o.pieces.length} pieces (status lists ${listed.length}${piecesMatch ? ', the same' : ', NOT the same'}); ` +
      `twice: ${resultTwice.length}, missing: ${resultMissing.length}, unexpected: ${resultExtra.length}, wrong value: ${wrong.length}`,
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
  for (const [n, r] of o.receiver.requests.entries()) {
    if (r.path !== TRACES_PATH) continue;
    const receivedAt = o.receiver.arrivals[n]!;
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
  const processEnds = o.runs.filter((r) => r.endedAt !== undefined).map((r) => r.endedAt!);
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
        `${received} copies received of ${copies.size} span ids in ${o.receiver.requests.filter((x) => x.path === TRACES_PATH).length} requests; ` +
        `${extra} copies beyond the first (${afterProcessEnd} with an operator process end in between` +
        `${afterProcessEnd ? ` [${[...repeatedNames].map(([n, k]) => `${k} ${n}`).join(', ')}; the first copy at most ${(oldestRepeat / 1000).toFixed(1)} s before that end]` : ''}, ` +
        `${afterOutage} across a receiver outage, ${unexplained} with neither in between), ${differing} differing in content`,
    },
  ];
}

/** Why a process ended, if the test caused it. */
function causeOf(r: ReplicaRun, faults: FaultWindow[]): string | undefined {
  if (r.killedBy) return r.killedBy;
  const lost = r.op.logs.some((l) => l.msg === 'leadership lost: exiting');
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
  const ended = o.runs.filter((r) => r.endedAt !== undefined && r.killedBy !== 'end of test');
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
        `replica ${r.replica} pid ${r.op.proc.pid}: exit ${String(r.exitCode)} signal ${String(r.signal)}, last log "${r.lastMessage ?? ''}", stderr "${r.op.output().stderr.slice(-300)}"`,
    )
    .join('; ');
  return {
    name: 'operator restarts: only the ones the test caused',
    ok: unexplained.length === 0 && (withFaults || ended.length === 0),
    figures:
      `${ended.length} process ends (${[...byCause].map(([c, n]) => `${n} ${c}`).join(', ') || 'none'}), ` +
      `${o.runs.length} processes started for ${REPLICAS} replicas` +
      `${detail ? `; unexplained: ${detail}` : ''}`,
  };
}

function report(
  o: Observed,
  checks: CheckResult[],
  seconds: number,
  settledSeconds: number,
  started: number,
): string[] {
  const lines: string[] = [];
  const t = (ms: number): string => `${((ms - started) / 1000).toFixed(1)} s`;
  for (const f of o.faults)
    lines.push(
      `  fault at ${Math.round(f.progress * 100)} % (${t(f.start)}–${f.end ? t(f.end) : '?'}): ${f.fault}${f.detail ? `: ${f.detail}` : ''}`,
    );
  lines.push(
    `  job ended after ${seconds.toFixed(1)} s, settled (spans delivered, pods released) after ${settledSeconds.toFixed(1)} s`,
  );
  const informerRestarts = o.runs.reduce(
    (n, r) => n + r.op.logs.filter((l) => l.msg === 'watch failed; restarting informer').length,
    0,
  );
  lines.push(`  operator informers restarted after a failed watch: ${informerRestarts} times`);
  for (const c of checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.figures}`);
  return lines;
}

/** FAULT_SEED replays a run's random points; otherwise a new seed, printed. */
export function seedFromEnv(): number {
  const fromEnv = process.env.FAULT_SEED;
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

/**
 * The whole scenario as one mocha test body: the job without faults first (when the plan says so), then with
 * them; prints the figures of both and the completion-time ratio (not asserted: the machine is shared), then
 * fails naming every check that did not hold.
 */
export async function runFaultScenario(
  plan: FaultPlan,
  namespace: () => Promise<string>,
  print: (line: string) => void,
): Promise<CheckResult[]> {
  print(
    `fault scenario: ${plan.items} items (${Math.round(plan.items * FLAKY_SHARE)} fail once, ` +
      `${Math.max(1, Math.round(plan.items * BROKEN_SHARE))} for good), parallelism ${plan.parallelism}, ` +
      `${plan.podDuration} pods, ${REPLICAS} replicas, tracing ratio 1.0; seed ${plan.seed} (FAULT_SEED to replay); ` +
      `load average ${(await loadAverage()).join(' ')}`,
  );
  const runs: RunFigures[] = [];
  if (plan.baseline) runs.push(await runJob(await namespace(), plan, false));
  runs.push(await runJob(await namespace(), plan, true));
  for (const r of runs) {
    print(`${r.label}:`);
    for (const line of r.lines) print(line);
  }
  if (runs.length === 2)
    print(
      `completion time with faults / without: ${(runs[1]!.seconds / runs[0]!.seconds).toFixed(2)}x ` +
        `(${runs[1]!.seconds.toFixed(1)} s / ${runs[0]!.seconds.toFixed(1)} s; until settled ${(runs[1]!.settledSeconds / runs[0]!.settledSeconds).toFixed(2)}x); ` +
        `load average ${(await loadAverage()).join(' ')}`,
    );
  return runs.flatMap((r) =>
    r.checks.filter((c) => !c.ok).map((c) => ({ ...c, name: `${r.label}: ${c.name}` })),
  );
}

async function loadAverage(): Promise<string[]> {
  const { loadavg } = await import('node:os');
  return loadavg().map((n) => n.toFixed(2));
}
