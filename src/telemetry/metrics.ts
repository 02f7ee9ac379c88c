// Metrics as controller hooks. Counters and histograms count what each status write records (so an
// attempt counts once); gauges are read from the informer caches at collection time, so they are right
// after a restart.
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { isFinished } from '../api/phases.js';
import type { MapReduceJob } from '../api/types.js';
import { failedCondition } from '../controller/conditions.js';
import type {
  ControllerHooks,
  PodDecorations,
  ReconcileOutcome,
  ReconcileRecord,
} from '../controller/hooks.js';
import type { PodToCreate } from '../controller/jobstate.js';
import type { V1Pod } from '@kubernetes/client-node';
import type { DeliveryObserver, ExportFailure } from './delivery.js';
import { Outcome } from './names.js';
import type { ControllerGauges } from './gauges.js';
import {
  AGENT_DURATION_BUCKETS_S,
  CONTROLLER_DURATION_BUCKETS_S,
  JOB_DURATION_BUCKETS_S,
  Metric,
  MetricAttr,
} from './metricnames.js';

export interface MetricsOptions {
  /** Put mapreduce.job.name on metrics (one series per job; off for clusters with very many jobs). */
  perJob: boolean;
  gauges: () => ControllerGauges;
  /** Spans waiting for delivery (none without tracing). */
  spansPending?: () => number;
}

/** Counted attempts remembered at most (by pod uid); the oldest is forgotten first. */
export const MAX_COUNTED_PODS = 100_000;

/** The same instrument on several meters (one per metric pipeline). */
class Fanout {
  constructor(private readonly parts: (Counter | Histogram)[]) {}
  add(value: number, attributes: Attributes): void {
    for (const p of this.parts) (p as Counter).add(value, attributes);
  }
  record(value: number, attributes: Attributes): void {
    for (const p of this.parts) (p as Histogram).record(value, attributes);
  }
}

export class MetricsHooks implements ControllerHooks, DeliveryObserver {
  private readonly counters: Record<string, Fanout> = {};
  /**
   * Pods whose attempt was counted: a superseded attempt's pod may stay (held for its span) and be reported
   * again, even after its release (a stale cache); it counts once.
   */
  private readonly counted = new Set<string>();

  constructor(
    meters: Meter[],
    private readonly options: MetricsOptions,
  ) {
    const counter = (name: string, description: string, unit: string): Fanout =>
      new Fanout(meters.map((m) => m.createCounter(name, { description, unit })));
    const histogram = (name: string, description: string, buckets: number[]): Fanout =>
      new Fanout(
        meters.map((m) =>
          m.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } }),
        ),
      );
    this.counters = {
      [Metric.JobsStarted]: counter(Metric.JobsStarted, 'Jobs whose map phase started', '{job}'),
      [Metric.JobsCompleted]: counter(Metric.JobsCompleted, 'Jobs that succeeded', '{job}'),
      [Metric.JobsFailed]: counter(Metric.JobsFailed, 'Jobs that failed, by reason', '{job}'),
      [Metric.AgentsStarted]: counter(Metric.AgentsStarted, 'Agent pods created (attempts)', '{agent}'),
      [Metric.AgentsCompleted]: counter(Metric.AgentsCompleted, 'Attempts that succeeded', '{agent}'),
      [Metric.AgentsFailed]: counter(
        Metric.AgentsFailed,
        'Attempts that failed with no retry left, by reason',
        '{agent}',
      ),
      [Metric.AgentsRetried]: counter(
        Metric.AgentsRetried,
        'Failed attempts that were retried, by reason',
        '{agent}',
      ),
      [Metric.AgentDuration]: histogram(
        Metric.AgentDuration,
        'Attempt duration, pod creation to container termination',
        AGENT_DURATION_BUCKETS_S,
      ),
      [Metric.JobDuration]: histogram(
        Metric.JobDuration,
        'Job duration, start to completion',
        JOB_DURATION_BUCKETS_S,
      ),
      [Metric.Reconciles]: counter(Metric.Reconciles, 'Reconciles, by result', '{reconcile}'),
      [Metric.ReconcileErrors]: counter(Metric.ReconcileErrors, 'Reconciles that failed', '{reconcile}'),
      [Metric.ReconcileDuration]: histogram(
        Metric.ReconcileDuration,
        'Time one reconcile took',
        CONTROLLER_DURATION_BUCKETS_S,
      ),
      [Metric.WorkQueueDuration]: histogram(
        Metric.WorkQueueDuration,
        'Time a job key waited in the work queue',
        CONTROLLER_DURATION_BUCKETS_S,
      ),
      [Metric.SpansDelivered]: counter(Metric.SpansDelivered, 'Spans every exporter accepted', '{span}'),
      [Metric.SpansFailed]: counter(
        Metric.SpansFailed,
        'Spans in failed export requests (each failure, before any retry), by error.type',
        '{span}',
      ),
      [Metric.SpansDropped]: counter(
        Metric.SpansDropped,
        'Spans given up, by error.type (permanent, tooLarge, timeout)',
        '{span}',
      ),
      [Metric.DeliveryDuration]: histogram(
        Metric.DeliveryDuration,
        'From a span’s hand-over to delivery until every exporter accepted it',
        CONTROLLER_DURATION_BUCKETS_S,
      ),
    };
    const spansPending = this.options.spansPending;
    if (spansPending) {
      for (const meter of meters) {
        meter
          .createObservableGauge(Metric.SpansPending, {
            description: 'Spans waiting to be delivered',
            unit: '{span}',
          })
          .addCallback((result) => result.observe(spansPending()));
      }
    }
    for (const meter of meters) {
      const active = meter.createObservableGauge(Metric.AgentsActive, {
        description: 'Agent pods running or about to run',
        unit: '{agent}',
      });
      const depth = meter.createObservableGauge(Metric.QueueDepth, {
        description: 'Items not started yet',
        unit: '{item}',
      });
      const queue = meter.createObservableGauge(Metric.WorkQueueDepth, {
        description: 'Job keys waiting in the work queue',
        unit: '{key}',
      });
      meter.addBatchObservableCallback(
        (result) => {
          const gauges = this.options.gauges();
          const sums = new Map<string, { attrs: Attributes; active: number; pending: number }>();
          for (const j of gauges.jobs) {
            const attrs = this.jobAttributes(j.namespace, j.name);
            const key = JSON.stringify(attrs);
            const sum = sums.get(key) ?? { attrs, active: 0, pending: 0 };
            sum.active += j.active;
            sum.pending += j.pending;
            sums.set(key, sum);
          }
          for (const s of sums.values()) {
            result.observe(active, s.active, s.attrs);
            result.observe(depth, s.pending, s.attrs);
          }
          result.observe(queue, gauges.workQueueDepth);
        },
        [active, depth, queue],
      );
    }
  }

  private jobAttributes(namespace: string, name: string): Attributes {
    return this.options.perJob
      ? { [MetricAttr.Namespace]: namespace, [MetricAttr.JobName]: name }
      : { [MetricAttr.Namespace]: namespace };
  }

  private of(job: MapReduceJob): Attributes {
    return this.jobAttributes(job.metadata.namespace!, job.metadata.name!);
  }

  decorateStatus(): void {}

  decoratePod(): PodDecorations {
    return { env: [], annotations: {} };
  }

  unsettled(): Set<V1Pod> {
    return new Set();
  }

  deliver(): undefined {
    return undefined;
  }

  // Not forgotten on release: a reconcile on a cache that does not show the release yet reports the pod
  // again. The set is bounded instead (MAX_COUNTED_PODS, oldest first).
  released(_pods: readonly V1Pod[]): void {}

  holdsJob(): boolean {
    return false;
  }

  jobGone(): void {}

  delivered(spans: number, latenciesMs: number[]): void {
    this.counters[Metric.SpansDelivered]!.add(spans, {});
    for (const ms of latenciesMs) this.counters[Metric.DeliveryDuration]!.record(ms / 1000, {});
  }

  failed(spans: number, kind: ExportFailure): void {
    this.counters[Metric.SpansFailed]!.add(spans, { [MetricAttr.ErrorType]: kind });
  }

  dropped(spans: number, why: 'permanent' | 'timeout' | 'tooLarge'): void {
    this.counters[Metric.SpansDropped]!.add(spans, { [MetricAttr.ErrorType]: why });
  }

  attemptsStarted(job: MapReduceJob, started: PodToCreate[]): void {
    for (const target of started)
      this.counters[Metric.AgentsStarted]!.add(1, { ...this.of(job), [MetricAttr.Phase]: target.phase });
  }

  statusWritten(record: ReconcileRecord): void {
    const { job, status } = record;
    const base = this.of(job);
    for (const f of record.finished) {
      const o = f.observation;
      if (o.state === 'active') continue; // cancelled by the job's end: not an outcome of the agent
      const uid = o.pod.metadata?.uid;
      if (uid !== undefined) {
        if (this.counted.has(uid)) continue;
        this.counted.add(uid);
        if (this.counted.size > MAX_COUNTED_PODS) this.counted.delete(this.counted.values().next().value!);
      }
      const attrs = { ...base, [MetricAttr.Phase]: o.phase };
      const reason = o.reason ?? 'Unknown';
      // The semantic conventions' error.type beside the operator's own reason (the same value).
      const failure = { ...attrs, [MetricAttr.Reason]: reason, [MetricAttr.ErrorType]: reason };
      if (o.createdAt && o.finishedAt) {
        const seconds = Math.max(0, (o.finishedAt.getTime() - o.createdAt.getTime()) / 1000);
        const outcome = o.state === 'succeeded' ? Outcome.Succeeded : Outcome.Failed;
        this.counters[Metric.AgentDuration]!.record(seconds, {
          ...attrs,
          [MetricAttr.Outcome]: outcome,
          ...(o.state === 'succeeded' ? {} : { [MetricAttr.ErrorType]: reason }),
        });
      }
      if (o.state === 'succeeded') this.counters[Metric.AgentsCompleted]!.add(1, attrs);
      else if (f.final || f.endedWithJob) this.counters[Metric.AgentsFailed]!.add(1, failure);
      else this.counters[Metric.AgentsRetried]!.add(1, failure);
    }
    const prev = job.status ?? {};
    if (!prev.startTime && status.startTime) this.counters[Metric.JobsStarted]!.add(1, base);
    if (isFinished(status.phase) && !isFinished(prev.phase)) {
      if (status.phase === 'Succeeded') this.counters[Metric.JobsCompleted]!.add(1, base);
      else {
        const reason = failedCondition(status)?.reason ?? 'Unknown';
        this.counters[Metric.JobsFailed]!.add(1, {
          ...base,
          [MetricAttr.Reason]: reason,
          [MetricAttr.ErrorType]: reason,
        });
      }
      const start = status.startTime ?? job.metadata.creationTimestamp;
      if (start && status.completionTime) {
        const seconds = (new Date(status.completionTime).getTime() - new Date(start).getTime()) / 1000;
        this.counters[Metric.JobDuration]!.record(Math.max(0, seconds), base);
      }
    }
  }

  reconciled(outcome: ReconcileOutcome): void {
    this.counters[Metric.Reconciles]!.add(1, { [MetricAttr.Result]: outcome.result });
    if (outcome.result === 'error') this.counters[Metric.ReconcileErrors]!.add(1, {});
    this.counters[Metric.ReconcileDuration]!.record(outcome.durationMs / 1000, {});
    this.counters[Metric.WorkQueueDuration]!.record(outcome.waitedMs / 1000, {});
  }

  logFields(): Record<string, string> {
    return {};
  }
}
