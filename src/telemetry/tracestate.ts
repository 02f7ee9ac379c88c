// The trace state a job keeps in its status: its trace and job span ids, the sampling decision, the parent
// it continues, when its map phase ended, and which map attempts the reduce links to. Kept in status so any
// replica, after any restart, builds the same spans.
import { TraceState } from '@opentelemetry/core';
import { PHASE_MAP, PHASE_REDUCE } from '../api/constants.js';
import { isFinished } from '../api/phases.js';
import type { MapReduceJob, MapReduceJobStatus, TraceStatus } from '../api/types.js';
import type { ReconcileRecord } from '../controller/hooks.js';
import type { JobEvent } from '../controller/jobstate.js';
import { baggageOf } from './baggage.js';
import { jobTraceId, spanId } from './ids.js';
import {
  ANNOTATION_PARENT_TRACEPARENT,
  ANNOTATION_PARENT_TRACESTATE,
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  REASON_BAGGAGE_TRUNCATED,
  REASON_INVALID_TRACEPARENT,
} from './names.js';
import { decideSampled, rejectionThreshold, thresholdHex } from './sampling.js';
import { MAX_REDUCE_LINKS } from './spans.js';
import { parseTraceparent, TraceParentError } from './traceparent.js';
import type { TraceParent } from './traceparent.js';

export type TracedStatus = TraceStatus & { traceID: string };

/** The job's trace state, once its first reconcile has chosen it. */
export function tracedStatus(status: MapReduceJobStatus): TracedStatus | undefined {
  return status.traceID && status.trace ? { ...status.trace, traceID: status.traceID } : undefined;
}

/** status.trace.reduceLinks: "index.attempt" pairs, comma-separated. */
export function parseReduceLinks(value: string | undefined): { index: number; attempt: number }[] {
  if (!value) return [];
  return value.split(',').map((pair) => {
    const [index, attempt] = pair.split('.').map(Number);
    return { index: index!, attempt: attempt! };
  });
}

/** The parent traceparent a job asks for, or a Warning event when it is malformed. */
function parentOf(job: MapReduceJob, events: JobEvent[]): TraceParent | undefined {
  const sources: [string, string | undefined][] = [
    ['spec.telemetry.parentTraceparent', job.spec.telemetry?.parentTraceparent],
    [
      `annotation ${ANNOTATION_PARENT_TRACEPARENT}`,
      job.metadata.annotations?.[ANNOTATION_PARENT_TRACEPARENT],
    ],
  ];
  for (const [where, value] of sources) {
    if (value === undefined || value === '') continue;
    try {
      return parseTraceparent(value);
    } catch (err) {
      if (!(err instanceof TraceParentError)) throw err;
      events.push({
        type: 'Warning',
        reason: REASON_INVALID_TRACEPARENT,
        message: `${where} ignored, the job starts its own trace: ${err.message}`,
      });
    }
  }
  return undefined;
}

/** The ids a job's trace has or will have: log lines carry them from the first reconcile on. */
export function traceIdsOf(job: MapReduceJob): { traceId: string; spanId: string } | undefined {
  const traced = job.status && tracedStatus(job.status);
  if (traced) return { traceId: traced.traceID, spanId: traced.spanID };
  if (!job.metadata.uid) return undefined;
  const traceId = parentOf(job, [])?.traceId ?? jobTraceId(job.metadata.uid);
  return { traceId, spanId: spanId(traceId, job.metadata.uid, { kind: 'job' }) };
}

/** Sets the trace state this reconcile writes: chosen once, then the map end time and the reduce links. */
export function updateTraceStatus(r: ReconcileRecord, defaultRatio: number): void {
  const { job, status, now, events } = r;
  const prevPhase = job.status?.phase;
  if (!status.trace) {
    const parent = parentOf(job, events);
    const traceId = parent?.traceId ?? jobTraceId(job.metadata.uid!);
    const ratio = job.spec.telemetry?.sampleRatio ?? defaultRatio;
    status.traceID = traceId;
    status.trace = {
      spanID: spanId(traceId, job.metadata.uid!, { kind: 'job' }),
      sampled: decideSampled({
        parentSampled: parent?.sampled,
        jobRatio: job.spec.telemetry?.sampleRatio,
        defaultRatio,
        traceId,
      }),
      // The job's own trace id is a hash: random in its low 56 bits. A parent's says so in its flags.
      random: parent ? parent.random : true,
    };
    if (!parent && status.trace.sampled && ratio < 1) {
      // Sampled by ratio: the threshold goes with the trace (OTEP 235), so agents that sample consistently
      // make the same decision about it.
      status.trace.traceState = `ot=th:${thresholdHex(rejectionThreshold(ratio))}`;
    }
    const { dropped } = baggageOf(job, undefined);
    if (dropped.length > 0) {
      events.push({
        type: 'Warning',
        reason: REASON_BAGGAGE_TRUNCATED,
        message: `spec.telemetry.baggage: ${dropped.join(', ')} left out of the pods' BAGGAGE: W3C baggage holds at most ${BAGGAGE_MAX_MEMBERS} members and ${BAGGAGE_MAX_BYTES} bytes, the operator's own entries first`,
      });
    }
    if (parent) {
      status.trace.parentSpanID = parent.spanId;
      // Kept as the W3C rules allow (entries that break them are dropped), passed on as TRACESTATE.
      const traceState = job.metadata.annotations?.[ANNOTATION_PARENT_TRACESTATE];
      const serialized = traceState ? new TraceState(traceState).serialize() : '';
      if (serialized) status.trace.traceState = serialized;
    }
  }
  const t = status.trace;
  if (status.phase === 'Reducing' && prevPhase !== 'Reducing' && !t.mapEndTime)
    t.mapEndTime = now.toISOString();
  // The status that said Reducing may never have landed (the API server down while the reduce pod ran, then the
  // job went from Running to its end): the map phase then ended when the first reduce pod was made. Without it
  // the reduce phase span was missing and the reduce agent's span had no parent (fault suite, seed 1645571504).
  if (!t.mapEndTime && isFinished(status.phase)) {
    const reduceStarts = r.finished.flatMap(({ observation: o }) =>
      o.phase === PHASE_REDUCE && o.createdAt ? [o.createdAt.getTime()] : [],
    );
    if (reduceStarts.length > 0) t.mapEndTime = new Date(Math.min(...reduceStarts)).toISOString();
  }
  if (job.spec.reduce) {
    const links = parseReduceLinks(t.reduceLinks);
    // The reduce links to the first succeeded map attempts, in the order they were recorded.
    for (const f of r.finished) {
      if (links.length >= MAX_REDUCE_LINKS) break;
      const o = f.observation;
      if (o.phase === PHASE_MAP && o.state === 'succeeded')
        links.push({ index: o.index, attempt: o.attempt });
    }
    if (links.length) t.reduceLinks = links.map((l) => `${l.index}.${l.attempt}`).join(',');
  }
}
