// The seams telemetry hangs on. The controller calls these at fixed points of a reconcile; tracing and
// metrics implement them. The default does nothing.
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import type { AttemptFinished, JobEvent, PodToCreate } from './jobstate.js';

export interface PodDecorations {
  env: V1EnvVar[];
  annotations: Record<string, string>;
}

/** What one reconcile is about to record about a job. */
export interface ReconcileRecord {
  /** The job as read; job.status is the persisted status. */
  job: MapReduceJob;
  /** The status this reconcile will write. */
  status: MapReduceJobStatus;
  /** Attempts whose end this status records for the first time. */
  finished: AttemptFinished[];
  itemId: (index: number) => string | undefined;
  now: Date;
  /** Events the reconcile will record; a hook may add to them. */
  events: JobEvent[];
}

export interface ReconcileOutcome {
  result: 'success' | 'requeue' | 'error';
  durationMs: number;
  /** How long the job key waited in the work queue first. */
  waitedMs: number;
}

export interface ControllerHooks {
  /** Fields telemetry keeps with the job (its trace context, phase times), before pods are built. */
  decorateStatus(record: ReconcileRecord): void;
  /** Env vars and annotations for a pod about to be created (trace context goes here). */
  decoratePod(job: MapReduceJob, status: MapReduceJobStatus, target: PodToCreate): PodDecorations;
  /**
   * Of `pods`, whose records are complete (their tracking finalizer is about to go), those that must keep it
   * for now: what telemetry delivers about their attempt has not settled (delivered or dropped). Never waits.
   */
  unsettled(job: MapReduceJob, pods: readonly V1Pod[]): Set<V1Pod>;
  /**
   * After the status write; `job.status` is what was written. Hands over, without waiting, the telemetry of
   * what that status ended: the attempts of `pods` that have ended, the phases, the job. Returns when to look
   * again if not all could be taken now (delivery's memory is bounded; the pods keep their finalizers).
   */
  deliver(job: MapReduceJob, pods: readonly V1Pod[]): number | undefined;
  /** Pods that lost their tracking finalizer: what was kept about them may go. */
  released(pods: readonly V1Pod[]): void;
  /**
   * Whether the job must carry the telemetry finalizer now (job.status the latest): its spans are not all
   * settled, or `trackedPods` of its pods still wait for theirs.
   */
  holdsJob(job: MapReduceJob, trackedPods: number): boolean;
  /** The job is gone from the cluster. */
  jobGone(job: MapReduceJob): void;
  /** Pods the controller created in this reconcile. */
  attemptsStarted(job: MapReduceJob, started: PodToCreate[]): void;
  /** After the status write that recorded `record` (metrics count here, so each attempt once). */
  statusWritten(record: ReconcileRecord): void;
  /** After each reconcile, with how it went. */
  reconciled(outcome: ReconcileOutcome): void;
  /** Fields for every log line about the job (trace_id, span_id). */
  logFields(job: MapReduceJob): Record<string, string>;
}

export const noopHooks: ControllerHooks = {
  decorateStatus: () => undefined,
  decoratePod: () => ({ env: [], annotations: {} }),
  unsettled: () => new Set(),
  deliver: () => undefined,
  released: () => undefined,
  holdsJob: () => false,
  jobGone: () => undefined,
  attemptsStarted: () => undefined,
  statusWritten: () => undefined,
  reconciled: () => undefined,
  logFields: () => ({}),
};

/** Several hooks as one, called in order. */
export function combineHooks(...all: ControllerHooks[]): ControllerHooks {
  return {
    decorateStatus: (r) => all.forEach((h) => h.decorateStatus(r)),
    decoratePod: (job, status, target) => {
      const out: PodDecorations = { env: [], annotations: {} };
      for (const h of all) {
        const d = h.decoratePod(job, status, target);
        out.env.push(...d.env);
        Object.assign(out.annotations, d.annotations);
      }
      return out;
    },
    unsettled: (job, pods) => new Set(all.flatMap((h) => [...h.unsettled(job, pods)])),
    deliver: (job, pods) => {
      const again = all.map((h) => h.deliver(job, pods)).filter((ms): ms is number => ms !== undefined);
      return again.length > 0 ? Math.min(...again) : undefined;
    },
    released: (pods) => all.forEach((h) => h.released(pods)),
    holdsJob: (job, tracked) => all.some((h) => h.holdsJob(job, tracked)),
    jobGone: (job) => all.forEach((h) => h.jobGone(job)),
    attemptsStarted: (job, started) => all.forEach((h) => h.attemptsStarted(job, started)),
    statusWritten: (r) => all.forEach((h) => h.statusWritten(r)),
    reconciled: (o) => all.forEach((h) => h.reconciled(o)),
    logFields: (job) => Object.assign({}, ...all.map((h) => h.logFields(job))) as Record<string, string>,
  };
}
