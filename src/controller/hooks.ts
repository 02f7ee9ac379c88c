// The seams telemetry hangs on. The controller calls these at fixed points; tracing and metrics
// implement them. The default does nothing.
import type { V1EnvVar } from '@kubernetes/client-node';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import type { AttemptFinished, PodToCreate } from './jobstate.js';

export interface PodDecorations {
  env: V1EnvVar[];
  annotations: Record<string, string>;
}

export interface ControllerHooks {
  /** Env vars and annotations for a pod about to be created (trace context goes here). */
  decoratePod(job: MapReduceJob, target: PodToCreate): PodDecorations;
  /** Status fields the telemetry keeps with the job (e.g. its trace id), before the status write. */
  decorateStatus(job: MapReduceJob, status: MapReduceJobStatus): void;
  /** Attempts whose end was just recorded in a written status. */
  attemptsFinished(job: MapReduceJob, finished: AttemptFinished[]): void;
  /** Pods the controller created in this reconcile. */
  attemptsStarted(job: MapReduceJob, started: PodToCreate[]): void;
}

export const noopHooks: ControllerHooks = {
  decoratePod: () => ({ env: [], annotations: {} }),
  decorateStatus: () => undefined,
  attemptsFinished: () => undefined,
  attemptsStarted: () => undefined,
};
