// Tracing as controller hooks: each job is one trace whose span ids derive from the job's uid (ids.ts), whose
// sampling decision and phase times are kept in its status, and whose spans are exported when their end is
// recorded, with the times the cluster recorded. Nothing lives only in this process's memory.
import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  CompositePropagator,
  TraceState,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { EnvironmentSetter } from '@opentelemetry/propagator-env-carrier';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { V1EnvVar } from '@kubernetes/client-node';
import { PHASE_MAP } from '../api/constants.js';
import { isFinished, isPastMap } from '../api/phases.js';
import type { MapReduceJob, MapReduceJobStatus, TraceStatus } from '../api/types.js';
import { failedCondition } from '../controller/conditions.js';
import { effectiveSpec } from '../controller/defaults.js';
import type { ControllerHooks, PodDecorations, ReconcileRecord } from '../controller/hooks.js';
import type { AttemptFinished, JobEvent, PodToCreate } from '../controller/jobstate.js';
import type { DurableSpanExporter } from './exporter.js';
import { jobTraceId, spanId } from './ids.js';
import {
  ANNOTATION_PARENT_TRACEPARENT,
  ANNOTATION_PARENT_TRACESTATE,
  ANNOTATION_POD_TRACEPARENT,
  Attr,
  BaggageKey,
  ENV_NODE_NAME,
  ENV_OTEL_RESOURCE_ATTRIBUTES,
  ENV_POD_NAME,
  ENV_POD_UID,
  REASON_INVALID_TRACEPARENT,
} from './names.js';
import { decideSampled } from './sampling.js';
import { agentSpan, agentSpanContext, jobSpan, jobTraceOf, MAX_REDUCE_LINKS, phaseSpan } from './spans.js';
import type { JobTrace, SpanEnv } from './spans.js';
import { formatTraceparent, parseTraceparent, TraceParentError } from './traceparent.js';

const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

export interface TracingOptions {
  exporter: DurableSpanExporter;
  /** Resolves to the operator's resource (detection runs in the background). */
  resource: Promise<Resource>;
  version: string;
  defaultRatio: number;
  clusterName?: string;
}

function tracedStatus(status: MapReduceJobStatus): (TraceStatus & { traceID: string }) | undefined {
  return status.traceID && status.trace ? { ...status.trace, traceID: status.traceID } : undefined;
}

function parseReduceLinks(value: string | undefined): { index: number; attempt: number }[] {
  if (!value) return [];
  return value.split(',').map((pair) => {
    const [index, attempt] = pair.split('.').map(Number);
    return { index: index!, attempt: attempt! };
  });
}

/** The parent traceparent a job asks for, or a Warning event when it is malformed. */
function parentOf(
  job: MapReduceJob,
  events: JobEvent[],
): { traceId: string; spanId: string; sampled: boolean } | undefined {
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

export class TracingHooks implements ControllerHooks {
  constructor(private readonly options: TracingOptions) {}

  decorateStatus(r: ReconcileRecord): void {
    const { job, status, now, events } = r;
    const prevPhase = job.status?.phase;
    if (!status.trace) {
      const parent = parentOf(job, events);
      const traceId = parent?.traceId ?? jobTraceId(job.metadata.uid!);
      status.traceID = traceId;
      status.trace = {
        spanID: spanId(traceId, job.metadata.uid!, { kind: 'job' }),
        sampled: decideSampled({
          parentSampled: parent?.sampled,
          jobRatio: job.spec.telemetry?.sampleRatio,
          defaultRatio: this.options.defaultRatio,
          traceId,
        }),
      };
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

  decoratePod(job: MapReduceJob, status: MapReduceJobStatus, target: PodToCreate): PodDecorations {
    const traced = tracedStatus(status);
    if (!traced) return { env: [], annotations: {} };
    const jt = jobTraceOf(job, traced);
    const index = target.phase === PHASE_MAP ? target.index : -1;
    const sc = agentSpanContext(jt, { phase: target.phase, index, attempt: target.attempt });
    const carrier: Record<string, string> = {};
    const entries: Record<string, { value: string }> = {};
    for (const [k, v] of Object.entries(job.spec.telemetry?.baggage ?? {})) entries[k] = { value: v };
    entries[BaggageKey.JobName] = { value: job.metadata.name! };
    entries[BaggageKey.Namespace] = { value: job.metadata.namespace! };
    if (target.phase === PHASE_MAP) entries[BaggageKey.ItemIndex] = { value: String(target.index) };
    const ctx = propagation.setBaggage(
      trace.setSpanContext(ROOT_CONTEXT, sc),
      propagation.createBaggage(entries),
    );
    propagator.inject(ctx, undefined, new EnvironmentSetter(carrier));
    const resourceAttributes = [
      `${Attr.K8sNamespace}=${job.metadata.namespace!}`,
      `${Attr.K8sPodName}=$(${ENV_POD_NAME})`,
      `${Attr.K8sPodUid}=$(${ENV_POD_UID})`,
      `${Attr.K8sNodeName}=$(${ENV_NODE_NAME})`,
      ...(this.options.clusterName ? [`${Attr.K8sClusterName}=${this.options.clusterName}`] : []),
    ].join(',');
    const env: V1EnvVar[] = [
      ...Object.entries(carrier).map(([name, value]) => ({ name, value })),
      { name: ENV_POD_NAME, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: ENV_POD_UID, valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: ENV_NODE_NAME, valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: ENV_OTEL_RESOURCE_ATTRIBUTES, value: resourceAttributes },
    ];
    return {
      env,
      annotations: { [ANNOTATION_POD_TRACEPARENT]: formatTraceparent({ ...sc, sampled: jt.sampled }) },
    };
  }

  async recordFinished(r: ReconcileRecord): Promise<void> {
    const { job, status, finished, itemId, now } = r;
    const traced = tracedStatus(status);
    if (!traced || !traced.sampled) return;
    const resource = await this.options.resource;
    const env: SpanEnv = { resource, version: this.options.version };
    const jt = jobTraceOf(job, traced);
    const spans = this.spansToExport(jt, env, job, status, finished, itemId, now);
    if (spans.length > 0) await this.options.exporter.export(spans);
  }

  private spansToExport(
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

  attemptsStarted(): void {}

  statusWritten(): void {}

  reconciled(): void {}

  logFields(job: MapReduceJob): Record<string, string> {
    const traced = job.status && tracedStatus(job.status);
    if (traced) return { trace_id: traced.traceID, span_id: traced.spanID };
    // Before the first status write: the ids decorateStatus will choose (they derive from the job).
    if (!job.metadata.uid) return {};
    const traceId = parentOf(job, [])?.traceId ?? jobTraceId(job.metadata.uid);
    return { trace_id: traceId, span_id: spanId(traceId, job.metadata.uid, { kind: 'job' }) };
  }
}
