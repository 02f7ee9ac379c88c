// The MapReduceJob API (group mapreduce.dev, version v1alpha1) as TypeScript types.
// crds/mapreduce.dev_mapreducejobs.yaml is the schema the API server enforces; these mirror it.
import type { V1ObjectMeta, V1PodTemplateSpec } from '@kubernetes/client-node';

export const GROUP = 'mapreduce.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MapReduceJob';
export const PLURAL = 'mapreducejobs';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ConfigMapInputRef {
  name: string;
  key: string;
}

export interface SortBy {
  /** JSONPath evaluated against each item; items without a value sort last. */
  path: string;
  order?: 'Ascending' | 'Descending';
}

/**
 * A re-run: the failed items of an earlier job in the same namespace, with their original indexes and ids.
 * Filters (reasons, exitCodes) keep only the failed items that match one of the given values.
 */
export interface FromJobInput {
  name: string;
  /** If set, it must be the job's own namespace: a re-run never reads another namespace. */
  namespace?: string;
  /** Only failed items whose last attempt ended with one of these reasons (e.g. Error, OOMKilled). */
  reasons?: string[];
  /** Only failed items whose last attempt exited with one of these codes. */
  exitCodes?: number[];
  /** The reduce sees the earlier job's succeeded results as well as this job's own (docs/rerun.md). */
  mergeResults?: boolean;
}

export interface InputSpec {
  /** Inline work items; exactly one of items, configMapRef and fromJob is set. */
  items?: JsonValue[];
  configMapRef?: ConfigMapInputRef;
  fromJob?: FromJobInput;
  /** Selects the array of items inside the document (default: the document itself). */
  jsonPath?: string;
  sortBy?: SortBy;
  offset?: number;
  maxItems?: number;
  /** JSONPath of each item's stable id (default: its index). */
  idPath?: string;
}

export interface MapSpec {
  parallelism?: number;
  template: V1PodTemplateSpec;
  backoffLimitPerItem?: number;
  activeDeadlineSeconds?: number;
}

export interface ReduceSpec {
  template: V1PodTemplateSpec;
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
}

export interface FailurePolicy {
  maxFailedItems?: number;
  maxFailedItemsPercent?: number;
}

export interface TelemetrySpec {
  sampleRatio?: number;
  attributes?: Record<string, string>;
  baggage?: Record<string, string>;
  parentTraceparent?: string;
}

export interface MapReduceJobSpec {
  input: InputSpec;
  map: MapSpec;
  reduce?: ReduceSpec;
  failurePolicy?: FailurePolicy;
  suspend?: boolean;
  ttlSecondsAfterFinished?: number;
  /** The whole job's time limit from status.startTime, as a Job's. */
  activeDeadlineSeconds?: number;
  telemetry?: TelemetrySpec;
}

export type JobPhase = 'Pending' | 'Running' | 'Reducing' | 'Succeeded' | 'Failed' | 'Suspended';

/**
 * Complete, Failed and Suspended say what happened (`kubectl wait --for=condition=Complete`); Ready,
 * Reconciling and Stalled are the kstatus conditions GitOps tools wait on (readiness.ts).
 */
export type ConditionType = 'Complete' | 'Failed' | 'Suspended' | 'Ready' | 'Reconciling' | 'Stalled';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** One entry of the dead-letter list: an item that exhausted its retries. */
export interface FailedItemDetail {
  index: number;
  id: string;
  attempts: number;
  reason: string;
  exitCode?: number;
  message?: string;
}

/** The job's trace, chosen at its start and kept with it so every replica and restart continues it. */
export interface TraceStatus {
  /** The job span's id. */
  spanID: string;
  /** The span the job span continues, when the job was given a parent traceparent. */
  parentSpanID?: string;
  traceState?: string;
  /** The head-sampling decision, made once. */
  sampled: boolean;
  /** The trace id's low 56 bits are random (W3C random flag): the job's own ids always, a parent's as it said. */
  random?: boolean;
  /** When the map phase ended and the reduce began. */
  mapEndTime?: string;
  /** Map attempts the reduce span links to, "index.attempt" comma-separated (at most MAX_REDUCE_LINKS). */
  reduceLinks?: string;
  /** The operator version that started the trace: service.version on every span of the job. */
  operatorVersion?: string;
  /** k8s.cluster.uid as known when the trace started: on every span of the job. */
  clusterUID?: string;
  /** Job-level spans settled (delivered or dropped): map (the map phase span), end (reduce phase and job). */
  delivered?: DeliveredUnit[];
  /** Spans of this job given up (permanent export error, or --span-delivery-timeout passed). */
  spansDropped?: number;
}

export type DeliveredUnit = 'map' | 'end';

/** Results a merged re-run's reduce reads from an earlier job: its pieces, and which items they hold. */
export interface CarriedResults {
  job: string;
  /** The first index of every results ConfigMap `<job>-results-<first>` read, as index ranges. */
  resultPieces: string;
  /** The items whose results come from that job, as index ranges. */
  indexes: string;
  count: number;
}

/** What a re-run took from the earlier job, recorded once when it took its items (status.fromJob). */
export interface FromJobStatus {
  name: string;
  uid: string;
  /** The earlier job's item index space (its totalItems, or its own source's): the merged reduce's total. */
  indexSpace: number;
  /** The attempt number of every failed item's last attempt there (its backoffLimitPerItem). */
  failedAttempt: number;
  /** The earlier job's trace (when it was traced): its id, and its job span's id. */
  traceID?: string;
  spanID?: string;
  sampled?: boolean;
  /** With mergeResults: the earlier results the reduce reads, by the job that made them. */
  results?: CarriedResults[];
}

export interface MapReduceJobStatus {
  phase?: JobPhase;
  observedGeneration?: number;
  totalItems?: number;
  activeItems?: number;
  succeededItems?: number;
  failedItems?: number;
  retries?: number;
  startTime?: string;
  completionTime?: string;
  conditions?: Condition[];
  /** Compressed index ranges, e.g. "0-99,120,200-4999". */
  completedIndexes?: string;
  failedIndexes?: string;
  /** The first item index of every results piece (ConfigMap `<job>-results-<first>`), as index ranges. */
  resultPieces?: string;
  /** Items whose result is 4096 bytes or more: the kubelet may have cut its beginning off. */
  truncatedResultIndexes?: string;
  failedItemDetails?: FailedItemDetail[];
  /** The reduce pod's termination message. */
  result?: string;
  /** The job's trace id (W3C, 32 hex digits). */
  traceID?: string;
  trace?: TraceStatus;
  /** A re-run (spec.input.fromJob): what it took from the earlier job. */
  fromJob?: FromJobStatus;
}

export interface MapReduceJob {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: MapReduceJobSpec;
  status?: MapReduceJobStatus;
}
