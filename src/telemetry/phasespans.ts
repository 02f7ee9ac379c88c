// The job-level spans, as delivery units built from the persisted status alone: "map" (the map phase span)
// once the status says the map phase is over, "end" (the reduce phase and job spans) once it says the job
// ended; a job being deleted before its end gets both, ended at its deletionTimestamp as cancelled. Pure: no
// clock, so any replica, after any restart, builds the very same spans.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { isFinished } from '../api/phases.js';
import type { DeliveredUnit, MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import { failedCondition } from '../controller/conditions.js';
import { effectiveSpec } from '../controller/defaults.js';
import { jobSpan, phaseSpan } from './spans.js';
import type { JobTrace, SpanEnv } from './spans.js';

export interface JobUnit {
  unit: DeliveredUnit;
  build: () => ReadableSpan[];
}

function date(value: string | Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** When the job ended (completed, or deleted before that), from what is persisted. */
function endOf(job: MapReduceJob, status: MapReduceJobStatus): Date | undefined {
  return date(status.completionTime) ?? date(job.metadata.deletionTimestamp);
}

/** Which job-level units the persisted status has ended and not yet marked delivered (no span built). */
export function endedUnits(job: MapReduceJob, status: MapReduceJobStatus): DeliveredUnit[] {
  const delivered = new Set(status.trace?.delivered ?? []);
  const end = endOf(job, status);
  const mapEnd = date(status.trace?.mapEndTime) ?? end;
  const units: DeliveredUnit[] = [];
  if (!delivered.has('map') && date(status.startTime) && mapEnd) units.push('map');
  if (!delivered.has('end') && end) units.push('end');
  return units;
}

/** The job-level units the persisted status has ended and not yet marked delivered, with their spans. */
export function jobUnits(
  jt: JobTrace,
  env: SpanEnv,
  job: MapReduceJob,
  status: MapReduceJobStatus,
): JobUnit[] {
  const ended = endedUnits(job, status);
  const finished = isFinished(status.phase);
  const end = endOf(job, status);
  const start = date(status.startTime);
  const units: JobUnit[] = [];
  const failed = failedCondition(status);
  const mapEnd = date(status.trace?.mapEndTime) ?? end;
  const failure = failed ? `${failed.reason}: ${failed.message}` : undefined;
  if (ended.includes('map') && start && mapEnd) {
    const mapFailed = status.phase === 'Failed' && !status.trace?.mapEndTime;
    units.push({
      unit: 'map',
      build: () => [
        phaseSpan(
          jt,
          env,
          'map',
          effectiveSpec(job.spec).parallelism,
          { succeeded: status.succeededItems ?? 0, failed: status.failedItems ?? 0 },
          start,
          mapEnd,
          mapFailed ? failure : undefined,
        ),
      ],
    });
  }
  if (ended.includes('end') && end) {
    units.push({
      unit: 'end',
      build: () => {
        const spans: ReadableSpan[] = [];
        const reduceStart = date(status.trace?.mapEndTime);
        if (reduceStart) {
          const reduceFailed = status.phase === 'Failed';
          spans.push(
            phaseSpan(
              jt,
              env,
              'reduce',
              1,
              { succeeded: status.phase === 'Succeeded' ? 1 : 0, failed: reduceFailed ? 1 : 0 },
              reduceStart,
              end,
              reduceFailed ? failure : undefined,
            ),
          );
        }
        const jobStart = start ?? date(job.metadata.creationTimestamp) ?? end;
        spans.push(jobSpan(jt, env, job, status, jobStart, end, !finished));
        return spans;
      },
    });
  }
  return units;
}
