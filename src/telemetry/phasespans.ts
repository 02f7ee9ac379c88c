// Which spans one reconcile records, from what it records: an agent span for every attempt it sees end,
// the map phase span when the job leaves the map phase, the reduce phase and job spans when the job ends.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { PHASE_MAP } from '../api/constants.js';
import { isFinished, isPastMap } from '../api/phases.js';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import { failedCondition } from '../controller/conditions.js';
import { effectiveSpec } from '../controller/defaults.js';
import type { AttemptFinished } from '../controller/jobstate.js';
import { agentSpan, jobSpan, phaseSpan } from './spans.js';
import type { JobTrace, SpanEnv } from './spans.js';
import { parseReduceLinks } from './tracestate.js';

export function spansToExport(
  jt: JobTrace,
  env: SpanEnv,
  job: MapReduceJob,
  status: MapReduceJobStatus,
  finished: AttemptFinished[],
  itemId: (index: number) => string | undefined,
  now: Date,
): ReadableSpan[] {
  const prevPhase = job.status?.phase;
  const reduceLinks = parseReduceLinks(status.trace?.reduceLinks);
  const spans = finished.map((f) =>
    agentSpan(
      jt,
      env,
      f.observation,
      f.observation.phase === PHASE_MAP ? itemId(f.observation.index) : undefined,
      now,
      f.observation.phase === PHASE_MAP ? [] : reduceLinks,
    ),
  );
  const start = new Date(status.startTime ?? job.metadata.creationTimestamp ?? now);
  const end = new Date(status.completionTime ?? now);
  const mapEnd = status.trace?.mapEndTime ? new Date(status.trace.mapEndTime) : end;
  const failed = failedCondition(status);
  const leavesMap = isPastMap(status.phase) && !isPastMap(prevPhase);
  if (leavesMap && status.startTime) {
    const mapFailed = status.phase === 'Failed' && !status.trace?.mapEndTime;
    spans.push(
      phaseSpan(
        jt,
        env,
        'map',
        effectiveSpec(job.spec).parallelism,
        { succeeded: status.succeededItems ?? 0, failed: status.failedItems ?? 0 },
        start,
        mapEnd,
        mapFailed && failed ? `${failed.reason}: ${failed.message}` : undefined,
      ),
    );
  }
  const ends = isFinished(status.phase) && !isFinished(prevPhase);
  if (ends && status.trace?.mapEndTime) {
    const reduceFailed = status.phase === 'Failed';
    spans.push(
      phaseSpan(
        jt,
        env,
        'reduce',
        1,
        { succeeded: reduceFailed ? 0 : 1, failed: reduceFailed ? 1 : 0 },
        mapEnd,
        end,
        reduceFailed && failed ? `${failed.reason}: ${failed.message}` : undefined,
      ),
    );
  }
  if (ends) spans.push(jobSpan(jt, env, job, status, start, end));
  return spans;
}
