// Builders for the tracing hooks' tests: a job as persisted (its status and trace as earlier reconciles wrote
// them), a pod as the cluster shows it (uid, item id, cancelled-at), the hooks over a real SpanDelivery into
// the SDK's InMemorySpanExporter, and spans as plain values to compare.
//   persistedJob(makeJob('wc').items(['a'])).traced().succeeded(at(0), at(10)).obj()
//   clusterPod(mapPod(0).running().tracked()).itemId('a').cancelledAt(at(10)).obj()
import type { Attributes, HrTime, SpanStatus } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_CANCELLED_AT, ENV_ITEM_ID } from '../../src/api/constants.js';
import type { DeliveredUnit, MapReduceJob, MapReduceJobStatus, TraceStatus } from '../../src/api/types.js';
import type { ReconcileRecord } from '../../src/controller/hooks.js';
import { SpanDelivery } from '../../src/telemetry/delivery.js';
import { jobTraceId, spanId } from '../../src/telemetry/ids.js';
import { TracingHooks } from '../../src/telemetry/tracing.js';
import { HARNESS_UID } from './controllerharness.js';
import type { JobBuilder } from './jobbuilder.js';
import type { AgentPodBuilder } from './podstates.js';
import { T0 } from './podstates.js';

/** The uid of every job built here (the controller harness's too, so span ids agree). */
export const JOB_UID = HARNESS_UID;
export const JOB_KEY = 'ns/wc';

/** A span id of the job's own trace. */
export function idOf(key: Parameters<typeof spanId>[2], traceId = jobTraceId(JOB_UID)): string {
  return spanId(traceId, JOB_UID, key);
}

/** A job as a reconcile reads it after earlier ones: metadata as the API server gives it, status as written. */
export class PersistedJobBuilder {
  private readonly job: MapReduceJob;

  constructor(from: JobBuilder) {
    this.job = from.obj();
    this.job.metadata = {
      ...this.job.metadata,
      namespace: 'ns',
      uid: JOB_UID,
      generation: 1,
      resourceVersion: '7',
      creationTimestamp: T0,
    };
    this.job.status = {};
  }

  /** The trace its first reconcile chose: the job's own trace id, sampled, started by operator 0.1.0. */
  traced(trace: Partial<TraceStatus> = {}): this {
    const traceId = jobTraceId(JOB_UID);
    this.status.traceID = traceId;
    this.status.trace = {
      spanID: idOf({ kind: 'job' }, traceId),
      sampled: true,
      random: true,
      operatorVersion: '0.1.0',
      ...trace,
    };
    return this;
  }

  unsampled(): this {
    return this.traced({ sampled: false });
  }

  running(start: Date): this {
    Object.assign(this.status, { phase: 'Running', startTime: start.toISOString() });
    return this;
  }

  /** The map phase ended at `mapEnd`; the reduce runs. */
  reducing(start: Date, mapEnd: Date): this {
    this.running(start).status.phase = 'Reducing';
    this.trace.mapEndTime = mapEnd.toISOString();
    return this;
  }

  /** Ended at `end`; with `mapEnd`, after a reduce phase from then. */
  succeeded(start: Date, end: Date, mapEnd?: Date): this {
    if (mapEnd) this.reducing(start, mapEnd);
    else this.running(start);
    Object.assign(this.status, { phase: 'Succeeded', completionTime: end.toISOString(), activeItems: 0 });
    this.status.conditions = [
      {
        type: 'Complete',
        status: 'True',
        reason: 'Completed',
        message: 'done',
        lastTransitionTime: end.toISOString(),
      },
    ];
    return this;
  }

  failed(start: Date, end: Date, reason: string, message: string): this {
    this.running(start);
    Object.assign(this.status, { phase: 'Failed', completionTime: end.toISOString(), activeItems: 0 });
    this.status.conditions = [
      { type: 'Failed', status: 'True', reason, message, lastTransitionTime: end.toISOString() },
    ];
    return this;
  }

  counts(c: { total: number; succeeded: number; failed?: number; retries?: number }): this {
    Object.assign(this.status, {
      totalItems: c.total,
      succeededItems: c.succeeded,
      failedItems: c.failed ?? 0,
      retries: c.retries ?? 0,
    });
    return this;
  }

  /** Job-level units an earlier reconcile marked settled. */
  delivered(...units: DeliveredUnit[]): this {
    this.trace.delivered = units;
    return this;
  }

  /** Deleted by someone at this time; the telemetry finalizer keeps it readable. */
  deleting(at: Date): this {
    this.job.metadata.deletionTimestamp = at;
    this.job.metadata.finalizers = ['mapreduce.dev/telemetry'];
    return this;
  }

  obj(): MapReduceJob {
    return structuredClone(this.job);
  }

  private get status(): MapReduceJobStatus {
    return this.job.status!;
  }

  private get trace(): TraceStatus {
    if (!this.status.trace) throw new Error('traced() first');
    return this.status.trace;
  }
}

export function persistedJob(from: JobBuilder): PersistedJobBuilder {
  return new PersistedJobBuilder(from);
}

/** A pod as the cluster shows it: what podstates.ts builds, with the uid and env the operator's pods have. */
export class ClusterPodBuilder {
  private readonly pod: V1Pod;

  constructor(from: AgentPodBuilder) {
    this.pod = from.obj();
    this.pod.metadata!.uid = `uid-${this.pod.metadata!.name}`;
  }

  /** MAPREDUCE_ITEM_ID, as the pod builder sets it on a map pod. */
  itemId(id: string): this {
    const main = this.pod.spec!.containers[0]!;
    main.env = [...(main.env ?? []), { name: ENV_ITEM_ID, value: id }];
    return this;
  }

  /** Stopped with its job at this time (what managePods writes before deleting a held running pod). */
  cancelledAt(at: Date): this {
    const meta = this.pod.metadata!;
    meta.annotations = { ...(meta.annotations ?? {}), [ANNOTATION_CANCELLED_AT]: at.toISOString() };
    return this;
  }

  createdAt(at: Date): this {
    this.pod.metadata!.creationTimestamp = at;
    return this;
  }

  scheduledAt(at: Date, node: string): this {
    this.pod.spec!.nodeName = node;
    this.pod.status = {
      ...this.pod.status,
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: at }],
    };
    return this;
  }

  obj(): V1Pod {
    return structuredClone(this.pod);
  }
}

export function clusterPod(from: AgentPodBuilder): ClusterPodBuilder {
  return new ClusterPodBuilder(from);
}

/** What a reconcile would record: the persisted status as the status to write, nothing new finished. */
export function quietRecord(job: MapReduceJob, now: Date): ReconcileRecord {
  return {
    job,
    status: structuredClone(job.status ?? {}),
    finished: [],
    itemId: () => undefined,
    now,
    events: [],
  };
}

/** An exporter whose callbacks wait until the test opens it: delivery is in flight meanwhile. */
export class GatedExporter implements SpanExporter {
  readonly received: ReadableSpan[] = [];
  private waiting: ((r: ExportResult) => void)[] = [];
  private opened = false;

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.received.push(...spans);
    if (this.opened) done({ code: ExportResultCode.SUCCESS });
    else this.waiting.push(done);
  }

  open(): void {
    this.opened = true;
    for (const done of this.waiting.splice(0)) done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** An exporter that answers every request with `error` (a failed export), recording each request. */
export class RefusingExporter implements SpanExporter {
  readonly requests: ReadableSpan[][] = [];

  constructor(private readonly error: Error) {}

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.requests.push(spans);
    done({ code: ExportResultCode.FAILED, error: this.error });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** An exporter that accepts every request, recording each. */
export class RecordingExporter implements SpanExporter {
  readonly requests: ReadableSpan[][] = [];

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.requests.push(spans);
    done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TracingFixture {
  hooks: TracingHooks;
  delivery: SpanDelivery;
  /** Where spans go unless another exporter was given. */
  memory: InMemorySpanExporter;
  /** Job keys delivery reported news of, in order. */
  news: string[];
  /** Delivery's log lines, "warn: ..." and "info: ...". */
  logs: string[];
  /** Resolves once delivery has nothing pending: every unit submitted so far is settled. */
  settled(): Promise<void>;
  spans(): ReadableSpan[];
}

export interface FixtureOptions {
  version?: string;
  clusterUid?: string;
  clusterName?: string;
  defaultRatio?: number;
  /** The operator's resource as detected (setup.ts); service.name only by default. */
  resource?: Attributes;
  exporter?: SpanExporter;
  /** Delivery's clock. */
  clock?: () => number;
  /** Releases pods as the controller's BackgroundReleaser would (wired to delivery's onDelivered). */
  release?: (pods: readonly V1Pod[]) => Promise<V1Pod[]>;
}

/** Tracing hooks as main.ts wires them, over a real SpanDelivery. */
export function tracingFixture(options: FixtureOptions = {}): TracingFixture {
  const memory = new InMemorySpanExporter();
  const news: string[] = [];
  const logs: string[] = [];
  const late: { hooks?: TracingHooks } = {};
  const delivery = new SpanDelivery({
    exporters: [options.exporter ?? memory],
    onNews: (key) => news.push(key),
    onDelivered: (ids) => late.hooks?.delivered(ids),
    log: {
      warn: (_fields, message) => logs.push(`warn: ${message}`),
      info: (_fields, message) => logs.push(`info: ${message}`),
    },
    sleep: () => Promise.resolve(),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const hooks = new TracingHooks({
    delivery,
    resource: resourceFromAttributes(options.resource ?? { 'service.name': 'mapreduce-operator' }),
    version: options.version ?? '0.1.0',
    defaultRatio: options.defaultRatio ?? 1,
    ...(options.clusterName !== undefined ? { clusterName: options.clusterName } : {}),
    ...(options.clusterUid !== undefined ? { clusterUid: options.clusterUid } : {}),
    ...(options.release ? { release: options.release } : {}),
  });
  late.hooks = hooks;
  return {
    hooks,
    delivery,
    memory,
    news,
    logs,
    settled: async () => {
      for (let i = 0; i < 1000 && delivery.pending > 0; i++) await new Promise((r) => setTimeout(r, 1));
      if (delivery.pending > 0) throw new Error(`${delivery.pending} spans still pending`);
    },
    spans: () => memory.getFinishedSpans(),
  };
}

/** A span as plain values: what a backend receives of it, times as ISO strings (and the raw HrTimes). */
export interface SpanView {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceFlags: number;
  traceState: string | undefined;
  start: string;
  end: string;
  hrTimes: [HrTime, HrTime, HrTime];
  status: SpanStatus;
  attributes: Attributes;
  events: { name: string; time: string; attributes: Attributes | undefined }[];
  links: { spanId: string; attributes: Attributes | undefined }[];
  resource: Attributes;
  scope: { name: string; version: string | undefined };
}

export function iso(t: HrTime): string {
  return new Date(hrTimeToMilliseconds(t)).toISOString();
}

export function viewOf(span: ReadableSpan): SpanView {
  const sc = span.spanContext();
  return {
    name: span.name,
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    traceFlags: sc.traceFlags,
    traceState: sc.traceState?.serialize(),
    start: iso(span.startTime),
    end: iso(span.endTime),
    hrTimes: [span.startTime, span.endTime, span.duration],
    status: span.status,
    attributes: span.attributes,
    events: span.events.map((e) => ({ name: e.name, time: iso(e.time), attributes: e.attributes })),
    links: span.links.map((l) => ({ spanId: l.context.spanId, attributes: l.attributes })),
    resource: span.resource.attributes,
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version },
  };
}

/** Spans as views, in span id order (delivery's order is not the point). */
export function viewsOf(spans: readonly ReadableSpan[]): SpanView[] {
  return spans.map(viewOf).sort((a, b) => a.spanId.localeCompare(b.spanId));
}
