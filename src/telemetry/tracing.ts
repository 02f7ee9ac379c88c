// Tracing as controller hooks: each job is one trace whose span ids derive from the job's uid (ids.ts), whose
// sampling decision and phase times are kept in its status (tracestate.ts), whose pods carry their attempt's
// span context (podenv.ts). Spans are built from persisted state only (spans.ts, phasespans.ts) after the
// status write that ends them, and handed to delivery (delivery.ts), which never holds the controller back.
// Until a unit settles, what it was built from stays: the pod's tracking finalizer, the job's telemetry
// finalizer, the job-level unit unmarked in status.trace.delivered.
import type { V1Pod } from '@kubernetes/client-node';
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PHASE_MAP } from '../api/constants.js';
import { isFinished } from '../api/phases.js';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import { jobKey } from '../controller/naming.js';
import type { ControllerHooks, PodDecorations, ReconcileRecord } from '../controller/hooks.js';
import type { JobEvent, PodToCreate } from '../controller/jobstate.js';
import { isTracked } from '../controller/ownership.js';
import { observePod } from '../controller/podobservation.js';
import type { PodObservation } from '../controller/podobservation.js';
import type { JobNews, SpanDelivery } from './delivery.js';
import { DELIVERY_DELAYED_AFTER_MS } from './delivery.js';
import { Attr, REASON_SPANS_DELAYED, REASON_SPANS_DROPPED } from './names.js';
import { endedUnits, jobUnits } from './phasespans.js';
import { traceContextForPod } from './podenv.js';
import { agentSpan, jobTraceOf } from './spans.js';
import type { SpanEnv, SpanLimits } from './spans.js';
import { parseReduceLinks, traceIdsOf, tracedStatus, updateTraceStatus } from './tracestate.js';

/** trace_flags in log lines: the job's trace sampled, or not (yet). */
const TRACE_FLAGS_SAMPLED = '01';
const TRACE_FLAGS_NONE = '00';

/** When to look again at a job whose spans delivery could not take now (its memory bound was reached). */
export const DELIVERY_FULL_RETRY_MS = 1_000;

/**
 * Pods released in the background, remembered (the latest this many) so a reconcile on a cache that still shows
 * one tracked holds it instead of releasing it again. The cache catches up within the informer's lag, a fraction
 * of a second, when at most a few hundred pods are released (MAX_BACKGROUND_RELEASES_IN_FLIGHT at a time);
 * 10,000 uids are well beyond that, and under 1 MB.
 */
export const MAX_REMEMBERED_BACKGROUND_RELEASES = 10_000;

export interface TracingOptions {
  delivery: SpanDelivery;
  /** The resource of the job's spans: the operator's, without what names one replica (setup.ts). */
  resource: Resource;
  version: string;
  defaultRatio: number;
  clusterName?: string;
  /** k8s.cluster.uid, if resource detection found it. */
  clusterUid?: string;
  /** The span limits of the OTEL_* variables. */
  limits?: SpanLimits;
  /**
   * Removes the tracking finalizer of pods whose record is complete, outside a reconcile (managepods.ts'
   * BackgroundReleaser); resolves with those released. Without it, pods are released by their job's next
   * reconcile only.
   */
  release?: (pods: readonly V1Pod[]) => Promise<V1Pod[]>;
}

/** A unit's id: the pod's uid for an attempt, "<job uid>/map" or "<job uid>/end" for the job-level spans. */
function unitId(job: MapReduceJob, unit: string): string {
  return `${job.metadata.uid!}/${unit}`;
}

/** An attempt's span can be built once its end is persisted: terminated, or stopped with its job. */
function hasEnded(o: PodObservation): boolean {
  return o.state !== 'active' || o.cancelledAt !== undefined;
}

export class TracingHooks implements ControllerHooks {
  /** News a status write was to record, until it is written (a failed write gives it back). */
  private readonly unwritten = new Map<string, JobNews>();
  /**
   * Pods whose attempt's span is handed to delivery after the status recording their end was written (so
   * their record is complete), by uid: released as soon as the span is delivered (see delivered()).
   */
  private readonly releasable = new Map<string, { pod: V1Pod; jobKey: string }>();
  /** Uids of pods whose release is in flight: a reconcile meanwhile holds them (deletes but not releases). */
  private readonly releasing = new Set<string>();
  /**
   * Uids of pods released in the background, oldest first (MAX_REMEMBERED_BACKGROUND_RELEASES): held as well, as
   * the cache may not show the release yet. Without this a reconcile released them again: the bench counted 0.35
   * finalizer patches per attempt beyond the one needed, most answered 404 (the pod gone already).
   */
  private readonly releasedInBackground = new Set<string>();

  constructor(private readonly options: TracingOptions) {}

  /** The spans' resource and scope version: from what the trace recorded at its start, so every replica agrees. */
  private spanEnv(status: MapReduceJobStatus): SpanEnv {
    const t = status.trace;
    const attributes = { ...this.options.resource.attributes };
    delete attributes['service.version'];
    delete attributes[Attr.K8sClusterUid];
    // k8s.namespace.name on a job's spans is the job's namespace (a span attribute): the operator's own
    // namespace would say otherwise in the resource, so the spans' resource leaves it out (metrics keep it).
    delete attributes[Attr.K8sNamespace];
    const version = t?.operatorVersion ?? this.options.version;
    attributes['service.version'] = version;
    if (t?.clusterUID) attributes[Attr.K8sClusterUid] = t.clusterUID;
    const env: SpanEnv = { resource: resourceFromAttributes(attributes), version };
    if (this.options.limits) env.limits = this.options.limits;
    return env;
  }

  private sampled(status: MapReduceJobStatus | undefined): boolean {
    return status?.trace?.sampled === true && status.traceID !== undefined;
  }

  decorateStatus(r: ReconcileRecord): void {
    const fresh = !r.status.trace;
    updateTraceStatus(r, this.options.defaultRatio);
    if (fresh && r.status.trace) {
      r.status.trace.operatorVersion = this.options.version;
      if (this.options.clusterUid) r.status.trace.clusterUID = this.options.clusterUid;
    }
    if (!this.sampled(r.status)) return;
    const trace = r.status.trace!;
    // Job-level units delivery has settled are marked, so no replica delivers them again.
    const delivered = new Set(trace.delivered ?? []);
    for (const unit of ['map', 'end'] as const)
      if (this.options.delivery.settled(unitId(r.job, unit))) delivered.add(unit);
    if (delivered.size > 0) trace.delivered = (['map', 'end'] as const).filter((u) => delivered.has(u));
    const key = jobKey(r.job.metadata.namespace!, r.job.metadata.name!);
    const news = this.takeNews(key);
    if (news.dropped > 0) {
      trace.spansDropped = (trace.spansDropped ?? 0) + news.dropped;
      r.events.push(droppedEvent(news.dropped));
    }
    if (news.delayed) r.events.push(delayedEvent());
  }

  private takeNews(key: string): JobNews {
    const taken = this.options.delivery.takeNews(key);
    const before = this.unwritten.get(key);
    const news = before
      ? { dropped: before.dropped + taken.dropped, delayed: before.delayed || taken.delayed }
      : taken;
    if (news.dropped > 0 || news.delayed) this.unwritten.set(key, news);
    return news;
  }

  decoratePod(job: MapReduceJob, status: MapReduceJobStatus, target: PodToCreate): PodDecorations {
    return traceContextForPod(job, status, target, {
      name: this.options.clusterName,
      uid: this.options.clusterUid,
    });
  }

  unsettled(job: MapReduceJob, pods: readonly V1Pod[]): Set<V1Pod> {
    const held = new Set<V1Pod>();
    if (!this.sampled(job.status)) return held;
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (
        uid &&
        isTracked(pod) &&
        (!this.options.delivery.settled(uid) || this.releasing.has(uid) || this.releasedInBackground.has(uid))
      )
        held.add(pod);
    }
    return held;
  }

  deliver(job: MapReduceJob, pods: readonly V1Pod[]): number | undefined {
    const status = job.status;
    const traced = status && tracedStatus(status);
    if (!status || !traced || !traced.sampled) return undefined;
    const { delivery } = this.options;
    const key = jobKey(job.metadata.namespace!, job.metadata.name!);
    const jt = jobTraceOf(job, traced);
    const env = this.spanEnv(status);
    const reduceLinks = parseReduceLinks(status.trace?.reduceLinks);
    let full = false;
    for (const pod of pods) {
      const o = observePod(pod);
      const uid = pod.metadata?.uid;
      if (!o || !uid || !hasEnded(o)) continue;
      const taken = delivery.submit(key, uid, () => [
        agentSpan(
          jt,
          env,
          o,
          o.phase === PHASE_MAP ? o.itemId : undefined,
          o.phase === PHASE_MAP ? [] : reduceLinks,
        ),
      ]);
      if (taken === 'full') full = true;
      else if (this.options.release && isTracked(pod) && !delivery.settled(uid))
        this.releasable.set(uid, { pod, jobKey: key });
    }
    for (const u of jobUnits(jt, env, job, status)) {
      if (delivery.submit(key, unitId(job, u.unit), u.build) === 'full') full = true;
    }
    return full ? DELIVERY_FULL_RETRY_MS : undefined;
  }

  released(pods: readonly V1Pod[]): void {
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid) continue;
      this.releasable.delete(uid);
      this.options.delivery.forget(uid);
    }
  }

  /**
   * Units delivery has just delivered (SpanDelivery's onDelivered): the pods among them whose record is
   * complete lose their tracking finalizer now, not at their job's next reconcile. A crash between the
   * receiver's answer and this release still makes the next leader deliver those spans again; this makes that
   * window one request long. A failed release is left to the reconcile.
   */
  delivered(ids: readonly string[]): void {
    const release = this.options.release;
    if (!release) return;
    const pods: V1Pod[] = [];
    for (const id of ids) {
      const entry = this.releasable.get(id);
      if (!entry) continue;
      this.releasable.delete(id);
      this.releasing.add(id);
      pods.push(entry.pod);
    }
    if (pods.length === 0) return;
    void release(pods).then((released) => {
      for (const pod of pods) this.releasing.delete(pod.metadata!.uid!);
      for (const pod of released) this.rememberReleased(pod.metadata!.uid!);
      this.released(released);
    });
  }

  private rememberReleased(uid: string): void {
    this.releasedInBackground.add(uid);
    if (this.releasedInBackground.size > MAX_REMEMBERED_BACKGROUND_RELEASES) {
      const oldest = this.releasedInBackground.values().next().value;
      if (oldest !== undefined) this.releasedInBackground.delete(oldest);
    }
  }

  holdsJob(job: MapReduceJob, trackedPods: number): boolean {
    const status = job.status;
    if (!this.sampled(status)) return false;
    if (trackedPods > 0) return true;
    if (!isFinished(status!.phase) && !job.metadata.deletionTimestamp) return true;
    return endedUnits(job, status!).some((unit) => !this.options.delivery.settled(unitId(job, unit)));
  }

  jobGone(job: MapReduceJob): void {
    const key = jobKey(job.metadata.namespace!, job.metadata.name!);
    this.unwritten.delete(key);
    for (const [uid, entry] of this.releasable) if (entry.jobKey === key) this.releasable.delete(uid);
    this.options.delivery.forgetJob(key);
    for (const unit of ['map', 'end']) this.options.delivery.forget(unitId(job, unit));
  }

  attemptsStarted(): void {}

  statusWritten(r: ReconcileRecord): void {
    this.unwritten.delete(jobKey(r.job.metadata.namespace!, r.job.metadata.name!));
  }

  reconciled(): void {}

  logFields(job: MapReduceJob): Record<string, string> {
    const ids = traceIdsOf(job);
    if (!ids) return {};
    // W3C flags as two hex digits, as OpenTelemetry writes them in non-OTLP logs; the OTLP log transport
    // needs all three fields to give the record its trace context.
    const flags = job.status?.trace?.sampled ? TRACE_FLAGS_SAMPLED : TRACE_FLAGS_NONE;
    return { trace_id: ids.traceId, span_id: ids.spanId, trace_flags: flags };
  }
}

function droppedEvent(n: number): JobEvent {
  return {
    type: 'Warning',
    reason: REASON_SPANS_DROPPED,
    message: `${n} spans of this job's trace were dropped: the exporter refused them for good, or they were not delivered within --span-delivery-timeout (the operator's log says which; status.trace.spansDropped counts them all)`,
  };
}

function delayedEvent(): JobEvent {
  return {
    type: 'Warning',
    reason: REASON_SPANS_DELAYED,
    message: `spans of this job have waited more than ${DELIVERY_DELAYED_AFTER_MS / 1000} s to be delivered; the job goes on, and its pods keep their tracking finalizers until the spans are delivered or dropped`,
  };
}
