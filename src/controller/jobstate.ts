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
import { IndexSet, parseIndexRanges } from './indexranges.js';
import type { PodObservation } from './podobservation.js';
import { observePod } from './podobservation.js';

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
  /** Results to store before the status that counts them is written. */
  newResults: Map<number, string>;
  /** Attempts whose end this state records for the first time (the telemetry hook). */
  finishedAttempts: AttemptFinished[];
  create: PodToCreate[];
  delete: V1Pod[];
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

function finishedAtMs(o: PodObservation): number {
  return o.finishedAt?.getTime() ?? 0;
}

export function computeJobState(input: JobStateInput): JobState {
  const { job, totalItems, now, options } = input;
  const spec = effectiveSpec(job.spec);
  const prev: MapReduceJobStatus = job.status ?? {};
  const completed = parseIndexRanges(prev.completedIndexes ?? '');
  const failed = parseIndexRanges(prev.failedIndexes ?? '');
  const observations = input.pods.map(observePod).filter((o): o is PodObservation => o !== undefined);

  const state: JobState = {
    status: { ...prev, observedGeneration: job.metadata.generation ?? prev.observedGeneration, totalItems },
    newResults: new Map(),
    finishedAttempts: [],
    create: [],
    delete: [],
    events: [],
    finished: isFinished(prev.phase),
  };

  if (state.finished) {
    state.delete = podsToReleaseAfterFinish(observations, failed, options);
    return state;
  }

  // Group map attempts by item; pods of items already recorded in the persisted status are released.
  const attemptsByIndex = new Map<number, PodObservation[]>();
  const reduceAttempts: PodObservation[] = [];
  const recordedFailedPods: PodObservation[] = [];
  for (const o of observations) {
    if (o.phase === PHASE_REDUCE) {
      reduceAttempts.push(o);
    } else if (o.index >= totalItems) {
      state.delete.push(o.pod); // an index the input no longer has
    } else if (completed.has(o.index) || failed.has(o.index)) {
      if (o.state === 'failed' && failed.has(o.index)) recordedFailedPods.push(o);
      else state.delete.push(o.pod);
    } else {
      const list = attemptsByIndex.get(o.index) ?? [];
      list.push(o);
      attemptsByIndex.set(o.index, list);
    }
  }
  state.delete.push(...keepNewestFailed(recordedFailedPods, options.keepFailedPods));
  // Attempts the persisted status does not record yet: when the job ends now, they end with it.
  const open = [...[...attemptsByIndex.values()].flat(), ...reduceAttempts];

  const newCompleted = new IndexSet();
  const newFailed: FailedItemDetail[] = [];
  const readyRetries: PodToCreate[] = [];
  let retriesAdded = 0;
  let activeItems = 0;
  let itemEvents = 0;
  const itemEvent = (event: JobEvent): void => {
    if (itemEvents++ < MAX_ITEM_EVENTS_PER_SYNC) state.events.push(event);
  };

  for (const [index, attempts] of [...attemptsByIndex.entries()].sort((a, b) => a[0] - b[0])) {
    attempts.sort(byAttempt);
    const latest = attempts[attempts.length - 1]!;
    // Older attempts that are still running (should not happen: deterministic names) are stopped.
    for (const older of attempts.slice(0, -1)) if (older.state === 'active') state.delete.push(older.pod);
    if (latest.state === 'succeeded') {
      newCompleted.add(index);
      state.newResults.set(index, latest.message ?? '');
      retriesAdded += latest.attempt;
      state.finishedAttempts.push(
        ...attempts
          .filter((a) => a !== latest && a.state === 'failed')
          .map((a) => ({ observation: a, final: false })),
      );
      state.finishedAttempts.push({ observation: latest, final: true });
    } else if (latest.state === 'failed') {
      if (latest.attempt >= spec.backoffLimitPerItem) {
        newFailed.push(failedItemDetail(index, input.itemId(index), latest));
        retriesAdded += latest.attempt;
        state.finishedAttempts.push(
          ...attempts
            .filter((a) => a !== latest && a.state === 'failed')
            .map((a) => ({ observation: a, final: false })),
        );
        state.finishedAttempts.push({ observation: latest, final: true });
        itemEvent({
          type: 'Warning',
          reason: Reason.ItemFailed,
          message: `item ${index} (id ${input.itemId(index)}) failed after ${latest.attempt + 1} attempts: ${latest.reason ?? 'unknown'}`,
        });
      } else {
        const readyAt = finishedAtMs(latest) + retryBackoffMs(latest.attempt, options);
        if (readyAt <= now.getTime()) {
          readyRetries.push({ phase: PHASE_MAP, index, attempt: latest.attempt + 1, previous: latest });
        } else {
          state.requeueAfterMs = Math.min(state.requeueAfterMs ?? Infinity, readyAt - now.getTime());
        }
      }
    } else {
      activeItems++;
    }
  }

  const completedAll = completed.union(newCompleted);
  const failedAll = failed.union(IndexSet.of(newFailed.map((d) => d.index)));
  const status = state.status;
  status.completedIndexes = completedAll.toString();
  status.failedIndexes = failedAll.toString();
  status.succeededItems = completedAll.size;
  status.failedItems = failedAll.size;
  status.retries = (prev.retries ?? 0) + retriesAdded;
  status.activeItems = activeItems;
  if (newFailed.length > 0) {
    status.failedItemDetails = [...(prev.failedItemDetails ?? []), ...newFailed].slice(
      -MAX_FAILED_ITEM_DETAILS,
    );
  }
  let conditions: Condition[] = prev.conditions ?? [];
  const setPhase = (phase: JobPhase, event?: JobEvent): void => {
    if (prev.phase !== phase && event) state.events.push(event);
    status.phase = phase;
  };

  // Failure policy: stop at once, delete what still runs.
  if (spec.failurePolicyExceeded(failedAll.size, totalItems)) {
    const message = `${failedAll.size} of ${totalItems} items failed, more than the failure policy allows`;
    finish(state, open, now, 'Failed');
    conditions = setCondition(conditions, 'Failed', 'True', Reason.FailedItemsExceeded, message, now);
    status.conditions = conditions;
    setPhase('Failed', { type: 'Warning', reason: Reason.FailedItemsExceeded, message });
    return state;
  }

  // Suspension pauses creation only; running pods finish.
  if (spec.suspend) {
    conditions = setCondition(
      conditions,
      'Suspended',
      'True',
      Reason.Suspended,
      'job suspended: no new pods are created',
      now,
    );
  } else if (isConditionTrue(conditions, 'Suspended')) {
    conditions = setCondition(conditions, 'Suspended', 'False', Reason.Resumed, 'job resumed', now);
    state.events.push({ type: 'Normal', reason: Reason.Resumed, message: 'job resumed' });
  }
  status.conditions = conditions;
  if (!spec.suspend && status.startTime === undefined) status.startTime = now.toISOString();

  const mapDone = completedAll.size + failedAll.size >= totalItems;
  if (!mapDone) {
    setPhase(
      spec.suspend ? 'Suspended' : 'Running',
      spec.suspend
        ? { type: 'Normal', reason: Reason.Suspended, message: 'job suspended: no new pods are created' }
        : {
            type: 'Normal',
            reason: Reason.Started,
            message: `map phase started: ${totalItems} items, parallelism ${spec.parallelism}`,
          },
    );
    if (!spec.suspend) {
      let slots = spec.parallelism - activeItems;
      for (const retry of readyRetries) {
        if (slots <= 0) break;
        state.create.push(retry);
        itemEvent({
          type: 'Normal',
          reason: Reason.ItemRetried,
          message: `item ${retry.phase === PHASE_MAP ? retry.index : ''} retried: attempt ${retry.attempt + 1}`,
        });
        slots--;
      }
      for (let index = 0; index < totalItems && slots > 0; index++) {
        if (completedAll.has(index) || failedAll.has(index) || attemptsByIndex.has(index)) continue;
        state.create.push({ phase: PHASE_MAP, index, attempt: 0 });
        slots--;
      }
    }
    return state;
  }

  if (!spec.hasReduce) {
    completeJob(state, open, now, conditions, prev.phase, `all ${totalItems} items processed`);
    return state;
  }

  // Reduce phase: one pod at a time, retried up to reduce.backoffLimit.
  reduceAttempts.sort(byAttempt);
  const latest = reduceAttempts[reduceAttempts.length - 1];
  if (latest?.state === 'succeeded') {
    status.result = latest.message ?? '';
    state.finishedAttempts.push({ observation: latest, final: true });
    completeJob(state, open, now, conditions, prev.phase, 'reduce completed');
    return state;
  }
  if (latest?.state === 'failed' && latest.attempt >= spec.reduceBackoffLimit) {
    const message = `reduce failed after ${latest.attempt + 1} attempts: ${latest.reason ?? 'unknown'}`;
    state.finishedAttempts.push({ observation: latest, final: true });
    finish(state, open, now, 'Failed');
    status.conditions = setCondition(conditions, 'Failed', 'True', Reason.ReduceFailed, message, now);
    setPhase('Failed', { type: 'Warning', reason: Reason.ReduceFailed, message });
    return state;
  }
  setPhase(
    spec.suspend ? 'Suspended' : 'Reducing',
    spec.suspend
      ? undefined
      : {
          type: 'Normal',
          reason: Reason.Reducing,
          message: `map phase done (${completedAll.size} succeeded, ${failedAll.size} failed); reduce started`,
        },
  );
  if (spec.suspend || latest?.state === 'active') return state;
  if (latest === undefined) {
    state.create.push({ phase: PHASE_REDUCE, attempt: 0 });
  } else {
    const readyAt = finishedAtMs(latest) + retryBackoffMs(latest.attempt, options);
    if (readyAt <= now.getTime())
      state.create.push({ phase: PHASE_REDUCE, attempt: latest.attempt + 1, previous: latest });
    else state.requeueAfterMs = Math.min(state.requeueAfterMs ?? Infinity, readyAt - now.getTime());
  }
  return state;
}

function failedItemDetail(index: number, id: string, o: PodObservation): FailedItemDetail {
  const detail: FailedItemDetail = { index, id, attempts: o.attempt + 1, reason: o.reason ?? 'Unknown' };
  if (o.exitCode !== undefined) detail.exitCode = o.exitCode;
  if (o.message) detail.message = o.message.slice(0, MAX_FAILED_ITEM_MESSAGE);
  return detail;
}

function completeJob(
  state: JobState,
  open: PodObservation[],
  now: Date,
  conditions: Condition[],
  prevPhase: JobPhase | undefined,
  message: string,
): void {
  finish(state, open, now, 'Succeeded');
  state.status.conditions = setCondition(conditions, 'Complete', 'True', Reason.Completed, message, now);
  state.status.phase = 'Succeeded';
  if (prevPhase !== 'Succeeded') state.events.push({ type: 'Normal', reason: Reason.Completed, message });
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

/** After the job finished (as persisted): every pod goes, except the newest failed ones kept for debugging. */
function podsToReleaseAfterFinish(
  observations: PodObservation[],
  failed: IndexSet,
  options: ControllerOptions,
): V1Pod[] {
  const failedPods = observations.filter(
    (o) => o.state === 'failed' && (o.phase === PHASE_REDUCE || failed.has(o.index)),
  );
  const keep = new Set(
    failedPods.sort((a, b) => finishedAtMs(b) - finishedAtMs(a)).slice(0, options.keepFailedPods),
  );
  return observations.filter((o) => !keep.has(o)).map((o) => o.pod);
}

function keepNewestFailed(pods: PodObservation[], keep: number): V1Pod[] {
  return pods
    .sort((a, b) => finishedAtMs(b) - finishedAtMs(a))
    .slice(keep)
    .map((o) => o.pod);
}
