// Names the operator writes onto Kubernetes objects: labels, annotations, env vars, condition reasons.
// They are part of the API: users select pods by these labels and agents read these env vars.

export const LABEL_JOB_NAME = 'mapreduce.dev/job-name';
export const LABEL_ITEM_INDEX = 'mapreduce.dev/item-index';
export const LABEL_ATTEMPT = 'mapreduce.dev/attempt';
export const LABEL_PHASE = 'mapreduce.dev/phase';
/** On the operator's ConfigMaps: `items` (the input snapshot) or `results`. */
export const LABEL_STORE = 'mapreduce.dev/store';

/**
 * On every pod the operator creates, removed only once the attempt is recorded (KEP-2307's job tracking):
 * a pod deleted by anyone stays readable until then, so no attempt, result or retry count is lost.
 */
export const FINALIZER_TRACKING = 'mapreduce.dev/tracking';

/**
 * On a pod whose attempt was stopped because its job ended or was deleted: when (RFC 3339), written before
 * the pod is deleted, so the attempt's span ends then and says "cancelled", whoever builds it later.
 */
export const ANNOTATION_CANCELLED_AT = 'mapreduce.dev/cancelled-at';

/**
 * On a results piece: the job's resourceVersion its writer read, on which the status write that lists the
 * piece is conditioned. Once the job has moved past it, a piece no status lists never will be (resultstore.ts).
 */
export const ANNOTATION_WRITTEN_AT_VERSION = 'mapreduce.dev/written-at-job-version';

/**
 * On a job: set (with the resourceVersion read) to move the job past the version a results piece records, so
 * the status write of that piece's writer (a paused replica) can only conflict and the piece can be replaced.
 * `<piece name>@<the version moved past>`; nothing reads it.
 */
export const ANNOTATION_RESULTS_FENCE = 'mapreduce.dev/results-fence';

/**
 * On a sampled job while its spans are not yet delivered: the job stays readable when deleted, so its spans
 * (ended as cancelled) still go out, then the finalizer is removed.
 */
export const FINALIZER_TELEMETRY = 'mapreduce.dev/telemetry';

export const PHASE_MAP = 'map';
export const PHASE_REDUCE = 'reduce';

export const ENV_JOB_NAME = 'MAPREDUCE_JOB_NAME';
export const ENV_ITEM_INDEX = 'MAPREDUCE_ITEM_INDEX';
export const ENV_ITEM_ID = 'MAPREDUCE_ITEM_ID';
export const ENV_ATTEMPT = 'MAPREDUCE_ATTEMPT';
export const ENV_ITEM = 'MAPREDUCE_ITEM';
export const ENV_ITEM_FILE = 'MAPREDUCE_ITEM_FILE';
export const ENV_RESULTS_DIR = 'MAPREDUCE_RESULTS_DIR';
export const ENV_TOTAL_ITEMS = 'MAPREDUCE_TOTAL_ITEMS';
export const ENV_SUCCEEDED_ITEMS = 'MAPREDUCE_SUCCEEDED_ITEMS';
export const ENV_FAILED_ITEMS = 'MAPREDUCE_FAILED_ITEMS';

export const ITEM_MOUNT_DIR = '/var/run/mapreduce/item';
export const ITEM_FILE_NAME = 'item.json';
export const RESULTS_MOUNT_DIR = '/var/run/mapreduce/results';

/** Condition and Event reasons: stable codes users can alert on. */
export const Reason = {
  InputNotFound: 'InputNotFound',
  InputInvalid: 'InputInvalid',
  DuplicateItemId: 'DuplicateItemId',
  FailedItemsExceeded: 'FailedItemsExceeded',
  ReduceFailed: 'ReduceFailed',
  Completed: 'Completed',
  Suspended: 'Suspended',
  Resumed: 'Resumed',
  Started: 'Started',
  Running: 'Running',
  Reducing: 'Reducing',
  ItemFailed: 'ItemFailed',
  ItemRetried: 'ItemRetried',
  ResultTruncated: 'ResultTruncated',
  PodCreateFailed: 'PodCreateFailed',
  PodTemplateInvalid: 'PodTemplateInvalid',
  DeadlineExceeded: 'DeadlineExceeded',
  SourceJobNotFound: 'SourceJobNotFound',
  SourceJobNotFinished: 'SourceJobNotFinished',
  SourceJobHasNoFailedItems: 'SourceJobHasNoFailedItems',
  SourceJobInOtherNamespace: 'SourceJobInOtherNamespace',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
