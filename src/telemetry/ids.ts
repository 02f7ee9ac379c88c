// Trace and span ids derived from the job's uid: the same on every reconcile and after any restart, so a
// span's id is known before the thing it describes exists and never needs to be remembered by a process.
import { createHash } from 'node:crypto';

function digest(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('/')).digest('hex');
}

function nonZero(hex: string): string {
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** The job's trace id when it has no parent trace: 128 pseudo-random bits from its uid. */
export function jobTraceId(jobUid: string): string {
  return nonZero(digest('trace', jobUid).slice(0, 32));
}

export type SpanKey =
  | { kind: 'job' }
  | { kind: 'map' }
  | { kind: 'reduce' }
  | { kind: 'agent'; phase: 'map' | 'reduce'; index: number; attempt: number };

/** A span's id within the job's trace. */
export function spanId(traceId: string, jobUid: string, key: SpanKey): string {
  const parts: (string | number)[] = [traceId, jobUid, key.kind];
  if (key.kind === 'agent') parts.push(key.phase, key.index, key.attempt);
  return nonZero(digest(...parts).slice(0, 16));
}
