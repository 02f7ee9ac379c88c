// The spans of a job's trace, built from what is persisted about the job and its pods: pure functions of
// (job, status, pod, clock), so any replica builds the same span at any time after the fact.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import { hrTimeDuration, millisToHrTime, TraceState } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import type { V1Pod } from '@kubernetes/client-node';
import { PHASE_MAP } from '../api/constants.js';
import type { MapReduceJob, MapReduceJobStatus, TraceStatus } from '../api/types.js';
import { failedCondition } from '../controller/conditions.js';
import { effectiveSpec } from '../controller/defaults.js';
import { mainContainerStatus, toDate } from '../controller/podobservation.js';
import type { PodObservation } from '../controller/podobservation.js';
import { spanId } from './ids.js';
import type { SpanKey } from './ids.js';
import { Attr, INSTRUMENTATION_SCOPE, LinkType, Outcome, SpanEventName, SpanName } from './names.js';
import { traceFlagsOf } from './traceparent.js';

/** Links from the reduce agent span to map agent spans; a trace backend shows no more than this usefully. */
export const MAX_REDUCE_LINKS = 128;

/** The shortest span: Kubernetes times are whole seconds, and trace backends rewrite zero-length spans. */
export const MIN_SPAN_DURATION_MS = 1;

/** What every span of one job shares. */
export interface JobTrace {
  traceId: string;
  jobUid: string;
  sampled: boolean;
  /** W3C random flag on every span context (see TraceStatus.random). */
  random: boolean;
  traceState?: string;
  /** The span the job span continues (spec.telemetry.parentTraceparent or the annotation). */
  parentSpanId?: string;
  /** k8s.namespace.name, mapreduce.job.name and spec.telemetry.attributes: on every span. */
  common: Attributes;
  /** A re-run's earlier job, from status.fromJob: the job span and failed attempts its spans link to. */
  rerunOf?: EarlierTrace;
}

/** The trace of the job a re-run re-runs (status.fromJob), as persisted there. */
export interface EarlierTrace {
  traceId: string;
  jobUid: string;
  jobSpanId: string;
  sampled: boolean;
  /** The attempt number of the failed attempts it re-runs. */
  failedAttempt: number;
}

export interface SpanEnv {
  resource: Resource;
  version: string;
  /** OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (unset: no limit). */
  limits?: SpanLimits;
}

export interface SpanLimits {
  attributeCount?: number;
  attributeValueLength?: number;
}

/**
 * Attributes within the span limits, as the SDK applies them: string values (and strings in arrays) cut to
 * the length limit, attributes beyond the count limit dropped (the operator's own come first, so they stay).
 */
export function limitAttributes(
  attributes: Attributes,
  limits: SpanLimits | undefined,
): { attributes: Attributes; dropped: number } {
  if (!limits) return { attributes, dropped: 0 };
  const out: Attributes = {};
  const max = limits.attributeValueLength;
  const cut = (v: string): string => (max === undefined ? v : v.slice(0, max));
  let dropped = 0;
  let kept = 0;
  for (const [k, v] of Object.entries(attributes)) {
    if (limits.attributeCount !== undefined && kept >= limits.attributeCount) {
      dropped++;
      continue;
    }
    if (typeof v === 'string') out[k] = cut(v);
    else if (Array.isArray(v)) out[k] = v.map((x: unknown) => (typeof x === 'string' ? cut(x) : x));
    else out[k] = v;
    kept++;
  }
  return { attributes: out, dropped };
}

export function jobTraceOf(job: MapReduceJob, trace: TraceStatus & { traceID: string }): JobTrace {
  const jt: JobTrace = {
    traceId: trace.traceID,
    jobUid: job.metadata.uid!,
    sampled: trace.sampled,
    random: trace.random ?? false,
    common: {
      ...(job.spec.telemetry?.attributes ?? {}),
      [Attr.K8sNamespace]: job.metadata.namespace!,
      [Attr.JobName]: job.metadata.name!,
    },
  };
  if (trace.traceState) jt.traceState = trace.traceState;
  if (trace.parentSpanID) jt.parentSpanId = trace.parentSpanID;
  const from = job.status?.fromJob;
  if (from?.traceID && from.spanID) {
    jt.rerunOf = {
      traceId: from.traceID,
      jobUid: from.uid,
      jobSpanId: from.spanID,
      sampled: from.sampled ?? false,
      failedAttempt: from.failedAttempt,
    };
  }
  return jt;
}

/** A link into the earlier job's trace (its ids derive from its uid too, so none needs a lookup). */
function earlierLink(earlier: EarlierTrace, spanIdThere: string, type: string): Link {
  return {
    context: { traceId: earlier.traceId, spanId: spanIdThere, traceFlags: earlier.sampled ? 1 : 0 },
    attributes: { [Attr.LinkType]: type },
  };
}

export function spanContextOf(jt: JobTrace, key: SpanKey): SpanContext {
  const sc: SpanContext = {
    traceId: jt.traceId,
    spanId: spanId(jt.traceId, jt.jobUid, key),
    traceFlags: traceFlagsOf(jt),
  };
  if (jt.traceState) sc.traceState = new TraceState(jt.traceState);
  return sc;
}

function hr(d: Date): HrTime {
  return millisToHrTime(d.getTime());
}

interface SpanParts {
  name: string;
  key: SpanKey;
  parent?: SpanContext;
  start: Date;
  end: Date;
  attributes: Attributes;
  error?: string;
  events?: TimedEvent[];
  links?: Link[];
}

function makeSpan(jt: JobTrace, env: SpanEnv, parts: SpanParts): ReadableSpan {
  const context = spanContextOf(jt, parts.key);
  // Kubernetes timestamps have one-second resolution, so a pod can start and end in the same second; and
  // clocks of nodes differ. A span still gets a positive duration (backends rewrite zero-length spans).
  const end =
    parts.end.getTime() - parts.start.getTime() < MIN_SPAN_DURATION_MS
      ? new Date(parts.start.getTime() + MIN_SPAN_DURATION_MS)
      : parts.end;
  // The span's own attributes first: over the count limit, the job's user attributes are dropped.
  const limited = limitAttributes({ ...parts.attributes, ...jt.common, ...parts.attributes }, env.limits);
  const span: ReadableSpan = {
    name: parts.name,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    startTime: hr(parts.start),
    endTime: hr(end),
    duration: hrTimeDuration(hr(parts.start), hr(end)),
    status: parts.error
      ? { code: SpanStatusCode.ERROR, message: parts.error }
      : { code: SpanStatusCode.UNSET },
    attributes: limited.attributes,
    links: parts.links ?? [],
    events: parts.events ?? [],
    ended: true,
    resource: env.resource,
    instrumentationScope: { name: INSTRUMENTATION_SCOPE, version: env.version },
    droppedAttributesCount: limited.dropped,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
  if (parts.parent) Object.assign(span, { parentSpanContext: parts.parent });
  return span;
}

function jobParent(jt: JobTrace): SpanContext | undefined {
  if (!jt.parentSpanId) return undefined;
  const parent: SpanContext = {
    traceId: jt.traceId,
    spanId: jt.parentSpanId,
    traceFlags: traceFlagsOf(jt),
  };
  if (jt.traceState) parent.traceState = new TraceState(jt.traceState);
  return parent;
}

/** The job's span; `cancelled` when the job was deleted before it ended (it then ends at the deletion). */
export function jobSpan(
  jt: JobTrace,
  env: SpanEnv,
  job: MapReduceJob,
  status: MapReduceJobStatus,
  start: Date,
  end: Date,
  cancelled = false,
): ReadableSpan {
  const failed = failedCondition(status);
  const outcome = cancelled ? Outcome.Cancelled : failed ? Outcome.Failed : Outcome.Succeeded;
  return makeSpan(jt, env, {
    name: SpanName.Job,
    key: { kind: 'job' },
    parent: jobParent(jt),
    start,
    end,
    attributes: {
      [Attr.JobUid]: jt.jobUid,
      [Attr.JobTotalItems]: status.totalItems ?? 0,
      [Attr.JobMaxParallel]: effectiveSpec(job.spec).parallelism,
      [Attr.JobSucceededItems]: status.succeededItems ?? 0,
      [Attr.JobFailedItems]: status.failedItems ?? 0,
      [Attr.JobRetries]: status.retries ?? 0,
      [Attr.JobPhase]: status.phase ?? 'Pending',
      [Attr.JobOutcome]: outcome,
      ...(failed ? { [Attr.FailureReason]: failed.reason, [Attr.ErrorType]: failed.reason } : {}),
    },
    error: failed ? `${failed.reason}: ${failed.message}` : undefined,
    links: jt.rerunOf ? [earlierLink(jt.rerunOf, jt.rerunOf.jobSpanId, LinkType.RerunOf)] : [],
  });
}

export function phaseSpan(
  jt: JobTrace,
  env: SpanEnv,
  phase: 'map' | 'reduce',
  parallelism: number,
  counts: { succeeded: number; failed: number },
  start: Date,
  end: Date,
  error?: string,
): ReadableSpan {
  return makeSpan(jt, env, {
    name: phase === PHASE_MAP ? SpanName.MapPhase : SpanName.ReducePhase,
    key: { kind: phase },
    parent: spanContextOf(jt, { kind: 'job' }),
    start,
    end,
    attributes: {
      [Attr.PhaseType]: phase,
      [Attr.PhaseParallelism]: parallelism,
      [Attr.PhaseSucceeded]: counts.succeeded,
      [Attr.PhaseFailed]: counts.failed,
    },
    error,
  });
}

function conditionTime(pod: V1Pod, type: string): Date | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === type && x.status === 'True');
  return toDate(c?.lastTransitionTime);
}

function agentKey(o: { phase: 'map' | 'reduce'; index: number; attempt: number }): SpanKey {
  return { kind: 'agent', phase: o.phase, index: o.index, attempt: o.attempt };
}

/** The span context of an agent attempt's span: its pod's TRACEPARENT. */
export function agentSpanContext(
  jt: JobTrace,
  target: { phase: 'map' | 'reduce'; index: number; attempt: number },
): SpanContext {
  return spanContextOf(jt, agentKey(target));
}

/**
 * One pod attempt, from the pod's creation to its container's termination (the pod's own timestamps). An
 * attempt stopped because its job ended or was deleted carries the time of that end in its pod's
 * cancelled-at annotation (written before the pod was deleted): it is "cancelled" (not an error) and ends
 * then. Pure: the same pod gives the same span, whichever replica builds it, whenever.
 */
export function agentSpan(
  jt: JobTrace,
  env: SpanEnv,
  o: PodObservation,
  itemId: string | undefined,
  reduceLinks: { index: number; attempt: number }[] = [],
): ReadableSpan {
  const pod = o.pod;
  const container = mainContainerStatus(pod);
  const startedAt = toDate(container?.state?.terminated?.startedAt ?? container?.state?.running?.startedAt);
  const start = o.createdAt ?? startedAt ?? new Date(0);
  const cancelled = o.cancelledAt !== undefined;
  const end = o.cancelledAt ?? o.finishedAt ?? start;
  const events: TimedEvent[] = [];
  const scheduled = conditionTime(pod, 'PodScheduled');
  if (scheduled)
    events.push({ name: SpanEventName.PodScheduled, time: hr(scheduled), droppedAttributesCount: 0 });
  if (startedAt)
    events.push({ name: SpanEventName.ContainerStarted, time: hr(startedAt), droppedAttributesCount: 0 });
  if (o.state !== 'active' && o.finishedAt && (!cancelled || o.finishedAt <= end)) {
    events.push({
      name: SpanEventName.ContainerTerminated,
      time: hr(o.finishedAt),
      attributes: o.exitCode !== undefined ? { [Attr.AgentExitCode]: o.exitCode } : {},
      droppedAttributesCount: 0,
    });
  }
  let error: string | undefined;
  if (o.state === 'failed' && !cancelled) {
    error = o.reason ?? 'Unknown';
    events.push({
      name: SpanEventName.Exception,
      time: hr(end),
      attributes: {
        [Attr.ExceptionType]: error,
        [Attr.ExceptionMessage]: `attempt ${o.attempt} of ${o.phase === PHASE_MAP ? `item ${o.index}` : 'the reduce'} failed: ${error}`,
      },
      droppedAttributesCount: 0,
    });
  }
  // An attempt still running when its job ended was cancelled: its outcome says so, but it is no error of
  // the agent's (status unset, no error.type), as the semantic conventions have it for cancelled work.

  const links: Link[] = [];
  if (o.attempt > 0) {
    links.push({
      context: spanContextOf(jt, agentKey({ ...o, attempt: o.attempt - 1 })),
      attributes: { [Attr.LinkType]: LinkType.PreviousAttempt },
    });
  } else if (o.phase === PHASE_MAP && jt.rerunOf) {
    // A re-run item's first attempt replaces the earlier job's last, failed attempt of the same item.
    const earlier = jt.rerunOf;
    const failedKey = agentKey({ phase: PHASE_MAP, index: o.index, attempt: earlier.failedAttempt });
    const there = spanId(earlier.traceId, earlier.jobUid, failedKey);
    links.push(earlierLink(earlier, there, LinkType.ReplacesFailedAttempt));
  }
  for (const m of reduceLinks.slice(0, MAX_REDUCE_LINKS)) {
    links.push({
      context: spanContextOf(jt, agentKey({ phase: PHASE_MAP, ...m })),
      attributes: { [Attr.LinkType]: LinkType.MapResult },
    });
  }

  const attributes: Attributes = {
    [Attr.PhaseType]: o.phase,
    [Attr.Attempt]: o.attempt,
    [Attr.K8sPodName]: o.name,
    [Attr.AgentDurationMs]: Math.max(MIN_SPAN_DURATION_MS, end.getTime() - start.getTime()),
    [Attr.AgentOutcome]: cancelled
      ? Outcome.Cancelled
      : o.state === 'succeeded'
        ? Outcome.Succeeded
        : o.state === 'failed'
          ? Outcome.Failed
          : Outcome.Cancelled,
  };
  if (o.phase === PHASE_MAP) attributes[Attr.ItemIndex] = o.index;
  if (itemId !== undefined) attributes[Attr.ItemId] = itemId;
  if (pod.metadata?.uid) attributes[Attr.K8sPodUid] = pod.metadata.uid;
  if (pod.spec?.nodeName) attributes[Attr.K8sNodeName] = pod.spec.nodeName;
  if (o.exitCode !== undefined && !cancelled) attributes[Attr.AgentExitCode] = o.exitCode;
  if (error) {
    attributes[Attr.FailureReason] = error;
    attributes[Attr.ErrorType] = error;
  }

  const parentKind = o.phase === PHASE_MAP ? 'map' : 'reduce';
  return makeSpan(jt, env, {
    name: SpanName.Agent,
    key: agentKey(o),
    parent: spanContextOf(jt, { kind: parentKind }),
    start,
    end,
    attributes,
    error,
    events,
    links,
  });
}
