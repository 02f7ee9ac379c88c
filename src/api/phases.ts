// Rules about a job's phase, each in one place.
import type { JobPhase } from './types.js';

/** Succeeded and Failed are final: nothing is created again, and the job only waits for its TTL. */
export function isFinished(phase: JobPhase | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The map phase is over: reducing, or finished. */
export function isPastMap(phase: JobPhase | undefined): boolean {
  return phase === 'Reducing' || isFinished(phase);
}
