// Every telemetry name the operator emits: span names, attribute keys, event names, the env vars and
// annotations that carry trace context. They are a contract (docs/telemetry.md); change them only with it.

export const INSTRUMENTATION_SCOPE = 'mapreduce-operator';
export const DEFAULT_SERVICE_NAME = 'mapreduce-operator';

export const SpanName = {
  Job: 'mapreduce.job.execute',
  MapPhase: 'mapreduce.phase.map',
  ReducePhase: 'mapreduce.phase.reduce',
  Agent: 'mapreduce.agent.execute',
} as const;

export const Attr = {
  JobName: 'mapreduce.job.name',
  JobUid: 'mapreduce.job.uid',
  JobTotalItems: 'mapreduce.job.total_items',
  JobMaxParallel: 'mapreduce.job.max_parallel',
  JobSucceededItems: 'mapreduce.job.succeeded_items',
  JobFailedItems: 'mapreduce.job.failed_items',
  JobRetries: 'mapreduce.job.retries',
  JobPhase: 'mapreduce.job.phase',
  /** succeeded, failed, or cancelled (deleted before it ended). */
  JobOutcome: 'mapreduce.job.outcome',
  PhaseType: 'mapreduce.phase.type',
  PhaseParallelism: 'mapreduce.phase.parallelism',
  PhaseSucceeded: 'mapreduce.phase.succeeded_count',
  PhaseFailed: 'mapreduce.phase.failed_count',
  ItemIndex: 'mapreduce.item.index',
  ItemId: 'mapreduce.item.id',
  Attempt: 'mapreduce.attempt',
  AgentDurationMs: 'mapreduce.agent.duration_ms',
  AgentExitCode: 'mapreduce.agent.exit_code',
  AgentOutcome: 'mapreduce.agent.outcome',
  FailureReason: 'mapreduce.failure.reason',
  LinkType: 'mapreduce.link.type',
  K8sNamespace: 'k8s.namespace.name',
  K8sPodName: 'k8s.pod.name',
  K8sPodUid: 'k8s.pod.uid',
  K8sNodeName: 'k8s.node.name',
  K8sClusterUid: 'k8s.cluster.uid',
  K8sClusterName: 'k8s.cluster.name',
  K8sContainerName: 'k8s.container.name',
  ServiceName: 'service.name',
  /** Semantic conventions: the class of error on a span whose status is Error. */
  ErrorType: 'error.type',
  ExceptionType: 'exception.type',
  ExceptionMessage: 'exception.message',
} as const;

export const SpanEventName = {
  PodScheduled: 'pod.scheduled',
  ContainerStarted: 'container.started',
  ContainerTerminated: 'container.terminated',
  Exception: 'exception',
} as const;

/** Agent and job outcomes (attributes mapreduce.agent.outcome, mapreduce.job.outcome). */
export const Outcome = {
  Succeeded: 'succeeded',
  Failed: 'failed',
  /** The attempt was still running when its job ended (or the job was deleted before its end). */
  Cancelled: 'cancelled',
} as const;

/** Env vars per "Environment Variables as Context Propagation Carriers". */
export const ENV_TRACEPARENT = 'TRACEPARENT';
export const ENV_TRACESTATE = 'TRACESTATE';
export const ENV_BAGGAGE = 'BAGGAGE';
export const ENV_OTEL_RESOURCE_ATTRIBUTES = 'OTEL_RESOURCE_ATTRIBUTES';
/** Downward-API env the pod's OTEL_RESOURCE_ATTRIBUTES refers to with $(VAR). */
export const ENV_POD_NAME = 'MAPREDUCE_POD_NAME';
export const ENV_POD_UID = 'MAPREDUCE_POD_UID';
export const ENV_NODE_NAME = 'MAPREDUCE_NODE_NAME';

/** On a job: a traceparent its trace becomes a child of (like spec.telemetry.parentTraceparent). */
export const ANNOTATION_PARENT_TRACEPARENT = 'mapreduce.dev/traceparent';
/** On a job, beside a parent traceparent: the W3C tracestate that goes with it (to the pods' TRACESTATE). */
export const ANNOTATION_PARENT_TRACESTATE = 'mapreduce.dev/tracestate';
/** On a pod: the traceparent of its agent span, written before the pod exists. */
export const ANNOTATION_POD_TRACEPARENT = 'mapreduce.dev/traceparent';

/** Baggage keys the operator sets on every pod. */
export const BaggageKey = {
  JobName: 'mapreduce.job.name',
  Namespace: 'k8s.namespace.name',
  ItemIndex: 'mapreduce.item.index',
} as const;

/** Event reason for a malformed parent traceparent. */
export const REASON_INVALID_TRACEPARENT = 'InvalidTraceparent';
/** Event reason for spec.telemetry.baggage entries left out of BAGGAGE (over the W3C limits). */
export const REASON_BAGGAGE_TRUNCATED = 'BaggageTruncated';

/**
 * W3C Baggage limits (https://www.w3.org/TR/baggage/#limits): a propagator may drop what is beyond them,
 * so the operator keeps within them itself, its own entries first.
 */
export const BAGGAGE_MAX_MEMBERS = 180;
export const BAGGAGE_MAX_BYTES = 8192;

/** Warning Event: spans of the job were given up (a permanent export error, or --span-delivery-timeout passed). */
export const REASON_SPANS_DROPPED = 'SpansDropped';
/** Warning Event: the job's spans have waited longer than DELIVERY_DELAYED_AFTER_MS to be delivered. */
export const REASON_SPANS_DELAYED = 'SpansDelayed';

/** Values of mapreduce.link.type on span links. */
export const LinkType = {
  PreviousAttempt: 'previous_attempt',
  MapResult: 'map_result',
  /** A re-run's job span to the earlier job's job span (spec.input.fromJob). */
  RerunOf: 'rerun_of',
  /** A re-run item's first attempt to the earlier job's failed attempt it replaces. */
  ReplacesFailedAttempt: 'replaces_failed_attempt',
} as const;
