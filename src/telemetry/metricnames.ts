// Metric names, units and buckets: a contract (docs/metrics.md). Prometheus sees them with dots as
// underscores, `_total` on counters and `_seconds` on durations (mapreduce_agent_duration_seconds_bucket).

export const Metric = {
  JobsStarted: 'mapreduce.jobs.started',
  JobsCompleted: 'mapreduce.jobs.completed',
  JobsFailed: 'mapreduce.jobs.failed',
  AgentsStarted: 'mapreduce.agents.started',
  AgentsCompleted: 'mapreduce.agents.completed',
  AgentsFailed: 'mapreduce.agents.failed',
  AgentsRetried: 'mapreduce.agents.retried',
  AgentDuration: 'mapreduce.agent.duration',
  JobDuration: 'mapreduce.job.duration',
  AgentsActive: 'mapreduce.agents.active',
  QueueDepth: 'mapreduce.queue.depth',
  Reconciles: 'mapreduce.controller.reconciles',
  ReconcileErrors: 'mapreduce.controller.reconcile.errors',
  ReconcileDuration: 'mapreduce.controller.reconcile.duration',
  WorkQueueDepth: 'mapreduce.workqueue.depth',
  WorkQueueDuration: 'mapreduce.workqueue.queue_duration',
  /** Spans every exporter accepted. */
  SpansDelivered: 'mapreduce.telemetry.spans.delivered',
  /** Spans in export requests that failed (each failed request, before any retry), by kind. */
  SpansFailed: 'mapreduce.telemetry.spans.failed',
  /** Spans given up, by reason: permanent, tooLarge, timeout. */
  SpansDropped: 'mapreduce.telemetry.spans.dropped',
  /** Spans waiting to be delivered. */
  SpansPending: 'mapreduce.telemetry.spans.pending',
  /** From a span's hand-over to delivery until every exporter accepted it. */
  DeliveryDuration: 'mapreduce.telemetry.delivery.duration',
} as const;

/** Instruments measured in seconds; the Prometheus endpoint names them with a `_seconds` suffix. */
export const SECONDS_METRICS = [
  Metric.AgentDuration,
  Metric.JobDuration,
  Metric.ReconcileDuration,
  Metric.WorkQueueDuration,
  Metric.DeliveryDuration,
] as const;

export const MetricAttr = {
  Namespace: 'k8s.namespace.name',
  JobName: 'mapreduce.job.name',
  Phase: 'mapreduce.phase.type',
  Reason: 'reason',
  Result: 'result',
  /** On mapreduce.agent.duration: succeeded or failed (the span's mapreduce.agent.outcome). */
  Outcome: 'mapreduce.agent.outcome',
  /** Why export requests failed (transient, permanent, tooLarge) or spans were dropped (permanent, tooLarge, timeout). */
  ErrorType: 'error.type',
} as const;

/** Batch work: from 100 ms to 4 hours. */
export const AGENT_DURATION_BUCKETS_S = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400,
];
/** Whole jobs: from 1 s to a day. */
export const JOB_DURATION_BUCKETS_S = [
  1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400,
];
/** Reconciles and queue waits: controller-runtime's buckets, 5 ms to 60 s. */
export const CONTROLLER_DURATION_BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60,
];
