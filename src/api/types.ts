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

export interface InputSpec {
  /** Inline work items; exactly one of items and configMapRef is set. */
  items?: JsonValue[];
  configMapRef?: ConfigMapInputRef;
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
}

export interface MapReduceJob {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: MapReduceJobSpec;
  status?: MapReduceJobStatus;
}
