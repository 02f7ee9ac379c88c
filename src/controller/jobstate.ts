// computeJobState: everything true about a job, derived from its persisted status and its pods alone.
// Pure: no I/O, no clock (now is passed in), so a restarted operator computes the same thing.
import type { V1Pod } from '@kubernetes/client-node';
import { PHASE_MAP, PHASE_REDUCE, Reason } from '../api/constants.js';
import { isFinished } from '../api/phases.js';
import type {
  Condition,
  FailedItemDetail,
  JobPhase,
  MapReduceJob,
  MapReduceJobStatus,
} from '../api/types.js';
import { isConditionTrue, setCondition } from './conditions.js';
import { effectiveSpec } from './defaults.js';
import type { EffectiveSpec } from './defaults.js';
import { IndexSet, parseIndexRanges } from './indexranges.js';
import type { PodObservation } from './podobservation.js';
import { observePod } from './podobservation.js';
import { setReadiness } from './readiness.js';
import { flushDecision, listPieces, mayBeTruncated, splitPieces, storedBytes } from './resultpieces.js';
import type { Piece, WaitingResult } from './resultpieces.js';

/** Newest dead-letter entries kept in status; the full set is in failedIndexes. Keeps status well under 100 KiB. */
export const MAX_FAILED_ITEM_DETAILS = 50;
/** A termination message is at most 4 KiB; the copy in failedItemDetails is shortened further to keep status small. */
export const MAX_FAILED_ITEM_MESSAGE = 256;
/** Events a single reconcile may emit about items, so a mass failure does not flood the API server. */
export const MAX_ITEM_EVENTS_PER_SYNC = 10;

export interface ControllerOptions {
  /** Failed pods kept after their item is recorded, newest first, for `kubectl logs`/`describe`. */
  keepFailedPods: number;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
}

export interface JobStateInput {
  job: MapReduceJob;
  /** Number of resolved work items. */
  totalItems: number;
  /**
   * The items' indexes, ascending, when they are not 0..totalItems-1: a re-run's items keep their indexes in
   * the earlier job (spec.input.fromJob).
   */
  itemIndexes?: readonly number[];
  /** Item ids by index, for the dead-letter list. */
  itemId: (index: number) => string;
  pods: V1Pod[];
  now: Date;
  options: ControllerOptions;
}

export type PodToCreate =
  | { phase: typeof PHASE_MAP; index: number; attempt: number; previous?: PodObservation }
  | { phase: typeof PHASE_REDUCE; attempt: number; previous?: PodObservation };

export interface JobEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface AttemptFinished {
  observation: PodObservation;
  /** True when this attempt was the item's last (succeeded, or failed with no retries left). */
  final: boolean;
  /** The job ended while this attempt was running or waiting for its retry. */
  endedWithJob?: true;
}

export interface JobState {
  status: MapReduceJobStatus;
  /** Results to store before the status that counts them is written, as new pieces (resultpieces.ts). */
  newPieces: Piece[];
  /** Attempts whose end this state records for the first time (the telemetry hook). */
  finishedAttempts: AttemptFinished[];
  create: PodToCreate[];
  /** Pods that go: their tracking finalizer is removed and they are deleted. */
  delete: V1Pod[];
  /** Pods kept for `kubectl logs` whose record is complete: only their tracking finalizer is removed. */
  release: V1Pod[];
  events: JobEvent[];
  /** When to look again although nothing changes in the cluster: a retry backoff ending. */
  requeueAfterMs?: number;
  finished: boolean;
}

export function retryBackoffMs(attempt: number, options: ControllerOptions): number {
  return Math.min(options.retryBackoffBaseMs * 2 ** attempt, options.retryBackoffMaxMs);
}

function byAttempt(a: PodObservation, b: PodObservation): number {
  return a.attempt - b.attempt;
}

/**
 * The bytes a succeeded attempt's result takes in a piece, once per observation: the ~200 results waiting for a
 * piece are weighed again by every reconcile until it is written.
 */
const resultBytes = new WeakMap<PodObservation, number>();

function waitingBytes(o: PodObservation): number {
  let bytes = resultBytes.get(o);
  if (bytes === undefined) {
    bytes = storedBytes(String(o.index), o.message ?? '');
    resultBytes.set(o, bytes);
  }
  return bytes;
}

function finishedAtMs(o: PodObservation): number {
  return o.finishedAt?.getTime() ?? 0;
}

type MapAttempt = Extract<PodToCreate, { phase: typeof PHASE_MAP }>;

/** What every step of one computation shares. */
interface Sync {
  input: JobStateInput;
  spec: EffectiveSpec;
  /** The persisted status. */
  prev: MapReduceJobStatus;
  /** Items the persisted status records as done or failed. */
  completed: IndexSet;
  failed: IndexSet;
  state: JobState;
  /** An Event about one item, up to MAX_ITEM_EVENTS_PER_SYNC per computation. */
  itemEvent: (event: JobEvent) => void;
}

/** The job's pods, sorted by what they are for. */
interface Attempts {
  /** Map attempts of items the persisted status does not record yet, by item index. */
  byIndex: Map<number, PodObservation[]>;
  reduce: PodObservation[];
  /** Attempts the persisted status does not record yet: when the job ends now, they end with it. */
  open: PodObservation[];
}

/** What this computation learns about the items: their new ends, and what to do next. */
interface ItemOutcomes {
  completed: IndexSet;
  failed: FailedItemDetail[];
  readyRetries: MapAttempt[];
  retriesAdded: number;
  activeItems: number;
}

export function computeJobState(input: JobStateInput): JobState {
  const { job, totalItems } = input;
  const prev: MapReduceJobStatus = job.status ?? {};
  let itemEvents = 0;
  const sync: Sync = {
    input,
    spec: effectiveSpec(job.spec),
    prev,
    completed: parseIndexRanges(prev.completedIndexes ?? ''),
    failed: parseIndexRanges(prev.failedIndexes ?? ''),
    state: {
      status: { ...prev, observedGeneration: job.metadata.generation ?? prev.observedGeneration, totalItems },
      newPieces: [],
      finishedAttempts: [],
      create: [],
      delete: [],
      release: [],
      events: [],
      finished: isFinished(prev.phase),
    },
    itemEvent: (event) => {
      if (itemEvents++ < MAX_ITEM_EVENTS_PER_SYNC) sync.state.events.push(event);
    },
  };
  const { state, spec } = sync;
  const observations = input.pods.map(observePod).filter((o): o is PodObservation => o !== undefined);
  if (state.finished) {
    // After the job finished (as persisted): every pod goes, but the newest failed ones kept for debugging.
    const failedPods = observations.filter(
      (o) => o.state === 'failed' && (o.phase === PHASE_REDUCE || sync.failed.has(o.index)),
    );
    state.release = keepNewestFailed(failedPods, input.options.keepFailedPods).release;
    const kept = new Set(state.release);
    state.delete = observations.map((o) => o.pod).filter((p) => !kept.has(p));
    return state;
  }

  const attempts = groupAttempts(sync, observations);
  const outcomes = judgeItems(sync, attempts);
  const completedAll = sync.completed.union(outcomes.completed);
  const failedAll = sync.failed.union(IndexSet.of(outcomes.failed.map((d) => d.index)));
  recordCounts(sync, outcomes, completedAll, failedAll);

  if (spec.failurePolicyExceeded(failedAll.size, totalItems)) {
    const message = `${failedAll.size} of ${totalItems} items failed, more than the failure policy allows`;
    failJob(sync, attempts.open, Reason.FailedItemsExceeded, message);
  } else {
    applySuspension(sync);
    const deadline = deadlineOf(sync);
    if (deadline !== undefined && input.now.getTime() >= deadline) {
      const message = `the job ran longer than spec.activeDeadlineSeconds (${job.spec.activeDeadlineSeconds} s)`;
      failJob(sync, attempts.open, Reason.DeadlineExceeded, message);
    } else {
      if (completedAll.size + failedAll.size < totalItems) {
        planMap(sync, attempts, outcomes, completedAll, failedAll);
      } else if (!spec.hasReduce) {
        completeJob(sync, attempts.open, `all ${totalItems} items processed`);
      } else {
        planReduce(sync, attempts, completedAll.size, failedAll.size);
      }
      if (deadline !== undefined && !state.finished) requeueAfter(state, deadline - input.now.getTime());
    }
  }
  setReadiness(state.status, input.now);
  return state;
}

/** Sorts the pods by item and phase; pods of items the persisted status records are released. */
function groupAttempts(sync: Sync, observations: PodObservation[]): Attempts {
  const { state, completed, failed } = sync;
  const byIndex = new Map<number, PodObservation[]>();
  const reduce: PodObservation[] = [];
  const recordedFailedPods: PodObservation[] = [];
  for (const o of observations) {
    if (o.phase === PHASE_REDUCE) {
      reduce.push(o);
    } else if (!isItem(sync.input, o.index)) {
      state.delete.push(o.pod); // an index the input no longer has
    } else if (completed.has(o.index) || failed.has(o.index)) {
      if (o.state === 'failed' && failed.has(o.index)) recordedFailedPods.push(o);
      else state.delete.push(o.pod);
    } else {
      const list = byIndex.get(o.index) ?? [];
      list.push(o);
      byIndex.set(o.index, list);
    }
  }
  const kept = keepNewestFailed(recordedFailedPods, sync.input.options.keepFailedPods);
  state.delete.push(...kept.remove);
  state.release.push(...kept.release);
  return { byIndex, reduce, open: [...[...byIndex.values()].flat(), ...reduce] };
}

/** Each open item by its latest attempt: done (with its result), failed for good, due for a retry, or running. */
function judgeItems(sync: Sync, attempts: Attempts): ItemOutcomes {
  const { state, spec, input } = sync;
  const now = input.now.getTime();
  const outcomes: ItemOutcomes = {
    completed: new IndexSet(),
    failed: [],
    readyRetries: [],
    retriesAdded: 0,
    activeItems: 0,
  };
  const sorted = [...attempts.byIndex.entries()].sort((a, b) => a[0] - b[0]);
  for (const [, list] of sorted) list.sort(byAttempt);
  const flush = resultsFlush(sync, sorted);
  const newResults = new Map<number, string>();
  const truncated: number[] = [];
  for (const [index, list] of sorted) {
    const latest = list[list.length - 1]!;
    // An attempt with a successor has ended: it is reported now and its pod goes (the successor's pod carries
    // the attempt count on). One still running (should not happen: deterministic names) is stopped.
    for (const older of list.slice(0, -1)) {
      state.delete.push(older.pod);
      if (older.state !== 'active') state.finishedAttempts.push({ observation: older, final: false });
    }
    if (latest.state === 'succeeded' && !flush) {
      // Its result waits in the tracked pod for others to share a piece (counted once stored).
    } else if (latest.state === 'succeeded') {
      outcomes.completed.add(index);
      const result = latest.message ?? '';
      newResults.set(index, result);
      if (mayBeTruncated(result)) truncated.push(index);
      outcomes.retriesAdded += latest.attempt;
      reportItemEnd(state, latest);
    } else if (latest.state === 'failed' && latest.attempt >= spec.backoffLimitPerItem) {
      outcomes.failed.push(failedItemDetail(index, input.itemId(index), latest));
      outcomes.retriesAdded += latest.attempt;
      reportItemEnd(state, latest);
      sync.itemEvent({
        type: 'Warning',
        reason: Reason.ItemFailed,
        message: `item ${index} (id ${input.itemId(index)}) failed after ${latest.attempt + 1} attempts: ${latest.reason ?? 'unknown'}`,
      });
    } else if (latest.state === 'failed') {
      const readyAt = finishedAtMs(latest) + retryBackoffMs(latest.attempt, input.options);
      if (readyAt <= now) {
        outcomes.readyRetries.push({
          phase: PHASE_MAP,
          index,
          attempt: latest.attempt + 1,
          previous: latest,
        });
      } else {
        requeueAfter(state, readyAt - now);
      }
    } else {
      outcomes.activeItems++;
    }
  }
  recordPieces(sync, newResults, truncated);
  return outcomes;
}

/**
 * Whether this computation stores the results waiting in succeeded pods (resultpieces.ts), or looks again
 * when the oldest has waited long enough.
 */
function resultsFlush(sync: Sync, sorted: [number, PodObservation[]][]): boolean {
  const { input, spec } = sync;
  const waiting: WaitingResult[] = [];
  let running = 0;
  let ending = false;
  for (const [index, list] of sorted) {
    const latest = list[list.length - 1]!;
    if (latest.state === 'succeeded')
      waiting.push({
        index,
        result: latest.message ?? '',
        finishedAtMs: finishedAtMs(latest),
        bytes: waitingBytes(latest),
      });
    else if (latest.state === 'active') running++;
    else if (latest.attempt >= spec.backoffLimitPerItem) ending = true;
  }
  const deadline = deadlineOf(sync);
  if (deadline !== undefined && input.now.getTime() >= deadline) ending = true;
  const decision = flushDecision({
    waiting,
    pieces: parseIndexRanges(sync.prev.resultPieces ?? '').size,
    running,
    ending,
    nowMs: input.now.getTime(),
  });
  if (decision.recheckAfterMs !== undefined) requeueAfter(sync.state, decision.recheckAfterMs);
  return decision.flush;
}

/** The new pieces, and the status fields that list every piece and every result that may be truncated. */
function recordPieces(sync: Sync, results: Map<number, string>, truncated: number[]): void {
  const { state, prev } = sync;
  if (results.size === 0) return;
  state.newPieces = splitPieces(results);
  state.status.resultPieces = listPieces(
    prev.resultPieces,
    state.newPieces.map((p) => p.first),
  );
  if (truncated.length === 0) return;
  state.status.truncatedResultIndexes = parseIndexRanges(prev.truncatedResultIndexes ?? '')
    .union(IndexSet.of(truncated))
    .toString();
  for (const index of truncated) {
    sync.itemEvent({
      type: 'Warning',
      reason: Reason.ResultTruncated,
      message: `item ${index} (id ${sync.input.itemId(index)}): its result is 4096 bytes or more; the kubelet keeps only the last 4096 bytes of a termination message, so it may have lost its beginning`,
    });
  }
}

/** An item's last attempt ended it (its earlier attempts were reported when they were superseded). */
function reportItemEnd(state: JobState, latest: PodObservation): void {
  state.finishedAttempts.push({ observation: latest, final: true });
}

function requeueAfter(state: JobState, ms: number): void {
  state.requeueAfterMs = Math.min(state.requeueAfterMs ?? Infinity, ms);
}

function recordCounts(sync: Sync, outcomes: ItemOutcomes, completedAll: IndexSet, failedAll: IndexSet): void {
  const { status } = sync.state;
  const prev = sync.prev;
  status.completedIndexes = completedAll.toString();
  status.failedIndexes = failedAll.toString();
  status.succeededItems = completedAll.size;
  status.failedItems = failedAll.size;
  status.retries = (prev.retries ?? 0) + outcomes.retriesAdded;
  status.activeItems = outcomes.activeItems;
  if (outcomes.failed.length > 0) {
    status.failedItemDetails = [...(prev.failedItemDetails ?? []), ...outcomes.failed].slice(
      -MAX_FAILED_ITEM_DETAILS,
    );
  }
}

/** When the whole job's time is up (spec.activeDeadlineSeconds from its start); never while suspended. */
function deadlineOf(sync: Sync): number | undefined {
  const seconds = sync.input.job.spec.activeDeadlineSeconds;
  const start = sync.state.status.startTime;
  if (seconds === undefined || start === undefined || sync.spec.suspend) return undefined;
  return Date.parse(start) + seconds * 1000;
}

/** The phase, with an Event when it changes. */
function setPhase(sync: Sync, phase: JobPhase, event?: JobEvent): void {
  if (sync.prev.phase !== phase && event) sync.state.events.push(event);
  sync.state.status.phase = phase;
}

/** Suspension pauses creation only; running pods finish. Resuming says so once. */
function applySuspension(sync: Sync): void {
  const { state, spec, input } = sync;
  let conditions: Condition[] = sync.prev.conditions ?? [];
  if (spec.suspend) {
    const message = 'job suspended: no new pods are created';
    conditions = setCondition(conditions, 'Suspended', 'True', Reason.Suspended, message, input.now);
  } else if (isConditionTrue(conditions, 'Suspended')) {
    conditions = setCondition(conditions, 'Suspended', 'False', Reason.Resumed, 'job resumed', input.now);
    state.events.push({ type: 'Normal', reason: Reason.Resumed, message: 'job resumed' });
  }
  state.status.conditions = conditions;
  if (!spec.suspend && state.status.startTime === undefined) state.status.startTime = input.now.toISOString();
}

/** The map phase goes on: due retries first, then new items, up to `parallelism` running at once. */
function planMap(
  sync: Sync,
  attempts: Attempts,
  outcomes: ItemOutcomes,
  completedAll: IndexSet,
  failedAll: IndexSet,
): void {
  const { state, spec, input } = sync;
  if (spec.suspend) {
    setPhase(sync, 'Suspended', {
      type: 'Normal',
      reason: Reason.Suspended,
      message: 'job suspended: no new pods are created',
    });
    return;
  }
  setPhase(sync, 'Running', {
    type: 'Normal',
    reason: Reason.Started,
    message: `map phase started: ${input.totalItems} items, parallelism ${spec.parallelism}`,
  });
  let slots = spec.parallelism - outcomes.activeItems;
  for (const retry of outcomes.readyRetries) {
    if (slots <= 0) break;
    state.create.push(retry);
    sync.itemEvent({
      type: 'Normal',
      reason: Reason.ItemRetried,
      message: `item ${retry.index} retried: attempt ${retry.attempt + 1}`,
    });
    slots--;
  }
  for (const index of itemIndexes(input)) {
    if (slots <= 0) break;
    if (completedAll.has(index) || failedAll.has(index) || attempts.byIndex.has(index)) continue;
    state.create.push({ phase: PHASE_MAP, index, attempt: 0 });
    slots--;
  }
}

/** The job's item indexes in order: 0..totalItems-1, or a re-run's own. */
function* itemIndexes(input: JobStateInput): Generator<number> {
  if (input.itemIndexes) {
    yield* input.itemIndexes;
    return;
  }
  for (let index = 0; index < input.totalItems; index++) yield index;
}

/** Whether an index is one of the job's items (a pod of any other is left from an input it no longer has). */
function isItem(input: JobStateInput, index: number): boolean {
  if (!input.itemIndexes) return index < input.totalItems;
  const list = input.itemIndexes;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < index) lo = mid + 1;
    else hi = mid;
  }
  return list[lo] === index;
}

/** Reduce phase: one pod at a time, retried up to reduce.backoffLimit. */
function planReduce(sync: Sync, attempts: Attempts, succeededItems: number, failedItems: number): void {
  const { state, spec, input } = sync;
  const latest = attempts.reduce.sort(byAttempt)[attempts.reduce.length - 1];
  if (latest?.state === 'succeeded') {
    state.status.result = latest.message ?? '';
    state.finishedAttempts.push({ observation: latest, final: true });
    completeJob(sync, attempts.open, 'reduce completed');
    return;
  }
  if (latest?.state === 'failed' && latest.attempt >= spec.reduceBackoffLimit) {
    const message = `reduce failed after ${latest.attempt + 1} attempts: ${latest.reason ?? 'unknown'}`;
    state.finishedAttempts.push({ observation: latest, final: true });
    failJob(sync, attempts.open, Reason.ReduceFailed, message);
    return;
  }
  if (spec.suspend) {
    setPhase(sync, 'Suspended');
    return;
  }
  setPhase(sync, 'Reducing', {
    type: 'Normal',
    reason: Reason.Reducing,
    message: `map phase done (${succeededItems} succeeded, ${failedItems} failed); reduce started`,
  });
  if (latest === undefined) {
    // Built from a status that records every item, as written: its list of results pieces is final (statuses
    // only add pieces, and no piece is added once every item is recorded). One this computation completes is
    // written first, and the reconcile its write brings creates the pod: a reconcile whose view is stale (its
    // status write refused) must not leave a reduce pod mounting pieces another status does not list.
    if (sync.completed.size + sync.failed.size >= input.totalItems)
      state.create.push({ phase: PHASE_REDUCE, attempt: 0 });
  } else if (latest.state === 'failed') {
    const now = input.now.getTime();
    const readyAt = finishedAtMs(latest) + retryBackoffMs(latest.attempt, input.options);
    if (readyAt <= now)
      state.create.push({ phase: PHASE_REDUCE, attempt: latest.attempt + 1, previous: latest });
    else requeueAfter(state, readyAt - now);
  }
}

function failedItemDetail(index: number, id: string, o: PodObservation): FailedItemDetail {
  const detail: FailedItemDetail = { index, id, attempts: o.attempt + 1, reason: o.reason ?? 'Unknown' };
  if (o.exitCode !== undefined) detail.exitCode = o.exitCode;
  if (o.message) detail.message = o.message.slice(0, MAX_FAILED_ITEM_MESSAGE);
  return detail;
}

/** How a job ends: its phase, the condition that says so, and the Event's type. */
const ENDINGS = {
  Succeeded: { condition: 'Complete', event: 'Normal' },
  Failed: { condition: 'Failed', event: 'Warning' },
} as const;

function completeJob(sync: Sync, open: PodObservation[], message: string): void {
  endJob(sync, open, 'Succeeded', Reason.Completed, message);
}

function failJob(sync: Sync, open: PodObservation[], reason: Reason, message: string): void {
  endJob(sync, open, 'Failed', reason, message);
}

function endJob(
  sync: Sync,
  open: PodObservation[],
  phase: keyof typeof ENDINGS,
  reason: Reason,
  message: string,
): void {
  const { state, input } = sync;
  const ending = ENDINGS[phase];
  finish(state, open, input.now, phase);
  const conditions = state.status.conditions ?? [];
  state.status.conditions = setCondition(conditions, ending.condition, 'True', reason, message, input.now);
  setPhase(sync, phase, { type: ending.event, reason, message });
}

/**
 * Marks the job terminal: no more pods; active pods are deleted (their attempts can no longer count).
 * Every attempt not yet recorded ends here and is reported as finished (not final): failed attempts whose
 * retry will never come, earlier reduce attempts, and running attempts that are cancelled.
 */
function finish(state: JobState, open: PodObservation[], now: Date, phase: 'Succeeded' | 'Failed'): void {
  state.finished = true;
  state.create = [];
  state.requeueAfterMs = undefined;
  state.status.activeItems = 0;
  state.status.completionTime = now.toISOString();
  state.status.phase = phase;
  const deleting = new Set(state.delete);
  const reported = new Set(state.finishedAttempts.map((f) => f.observation.pod));
  for (const o of open) {
    if (o.state === 'active' && !deleting.has(o.pod)) state.delete.push(o.pod);
    if (!reported.has(o.pod))
      state.finishedAttempts.push({ observation: o, final: false, endedWithJob: true });
  }
}

/** The newest `keep` failed pods stay for `kubectl logs` (released from tracking); the rest go. */
function keepNewestFailed(pods: PodObservation[], keep: number): { release: V1Pod[]; remove: V1Pod[] } {
  const newestFirst = pods.sort((a, b) => finishedAtMs(b) - finishedAtMs(a)).map((o) => o.pod);
  return { release: newestFirst.slice(0, keep), remove: newestFirst.slice(keep) };
}
