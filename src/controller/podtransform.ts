// What the pod informer keeps of each pod (client-go's SetTransform): only the fields the controller and
// telemetry read, so the cache costs what a pod's outcome costs, not its managedFields, env and volumes.
// A field read from a cached pod must be kept here, or its reader silently sees it absent: the unit tests
// (podtransform.test.ts, and computeJobState's table run on transformed pods) check that readers agree.
import type {
  V1ContainerState,
  V1ContainerStatus,
  V1ObjectMeta,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';
import { ANNOTATION_CANCELLED_AT, ENV_ITEM_ID } from '../api/constants.js';
import { mainContainerStatus } from './podobservation.js';

/** The object's own properties named in keys, those that are set; none of the others. */
function pick<T extends object, K extends keyof T>(obj: T | undefined, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  if (!obj) return out; // absent, or null in the JSON
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

const METADATA_KEPT = [
  'name', // the cache key; every reader
  'namespace', // the cache key; deletes and patches
  'uid', // the agent span's k8s.pod.uid
  'resourceVersion', // the informer tells an update from a relist's unchanged copy
  'labels', // job name, phase, item index, attempt (observePod, podChanged, stray pods)
  'ownerReferences', // the controlling job (controllingJob)
  'finalizers', // the tracking finalizer (isTracked)
  'creationTimestamp', // an attempt's start (observation, span, duration metric)
  'deletionTimestamp', // deleted by someone: the attempt is lost; a deleting pod is not deleted again
] as const satisfies readonly (keyof V1ObjectMeta)[];

const STATUS_KEPT = [
  'phase', // Succeeded, Failed, or still active
  'reason', // the kubelet's reason for a failed pod: DeadlineExceeded, Evicted (failureReason)
] as const satisfies readonly (keyof V1PodStatus)[];

/** The condition fields read: PodScheduled's time (span event) and the last transition (a finish time). */
const CONDITION_KEPT = [
  'type',
  'status',
  'lastTransitionTime',
] as const satisfies readonly (keyof V1PodCondition)[];

/** The outcome (exit code, reason, result message) and when the container ran. */
const TERMINATED_KEPT = [
  'exitCode',
  'reason',
  'message',
  'startedAt',
  'finishedAt',
] as const satisfies readonly (keyof NonNullable<V1ContainerState['terminated']>)[];

/** The main container's status, with its state's read fields only; its name finds it again. */
function keptContainerStatus(status: V1ContainerStatus): V1ContainerStatus {
  const state: V1ContainerState = {};
  if (status.state?.terminated) state.terminated = pick(status.state.terminated, TERMINATED_KEPT);
  if (status.state?.running) state.running = pick(status.state.running, ['startedAt']);
  // image, imageID, ready and restartCount are required by the type but read by nothing.
  return { name: status.name, state } as V1ContainerStatus;
}

/**
 * The pod as the cache keeps it. Kept: metadata name, namespace, uid, resourceVersion, labels,
 * ownerReferences, finalizers, creationTimestamp, deletionTimestamp, the cancelled-at annotation; the first
 * (main) container's name and its MAPREDUCE_ITEM_ID env var, and
 * spec.nodeName (the span's k8s.node.name); status phase and reason, conditions' type, status and
 * lastTransitionTime, and the main container's status (name; terminated exitCode, reason, message, startedAt,
 * finishedAt; running startedAt). Dropped: everything else — managedFields, other annotations, env, volumes, the
 * rest of the spec, sidecars' statuses. Values are shared with the input, not copied; the input is not changed.
 */
export function transformPod(pod: V1Pod): V1Pod {
  const out: V1Pod = { metadata: pick(pod.metadata, METADATA_KEPT) };
  const cancelledAt = pod.metadata?.annotations?.[ANNOTATION_CANCELLED_AT];
  if (cancelledAt !== undefined) out.metadata!.annotations = { [ANNOTATION_CANCELLED_AT]: cancelledAt };
  if (pod.spec) {
    const main = pod.spec.containers?.[0];
    // The item id the agent span names (the rest of the env is not read).
    const itemId = main?.env?.find((e) => e.name === ENV_ITEM_ID);
    out.spec = { containers: main ? [{ name: main.name, ...(itemId ? { env: [itemId] } : {}) }] : [] };
    if (pod.spec.nodeName !== undefined) out.spec.nodeName = pod.spec.nodeName;
  }
  if (pod.status) {
    const status: V1PodStatus = pick(pod.status, STATUS_KEPT);
    if (pod.status.conditions) status.conditions = pod.status.conditions.map((c) => pick(c, CONDITION_KEPT));
    const mainStatus = mainContainerStatus(pod);
    if (mainStatus) status.containerStatuses = [keptContainerStatus(mainStatus)];
    out.status = status;
  }
  return out;
}

/**
 * The job as the cache keeps it: whole but for metadata.managedFields (controller-runtime's
 * TransformStripManagedFields). Nothing reads them, and every reconcile copies the job's metadata (copyJob). A
 * status write sends the metadata without them, and the API server then keeps the stored ones (a client that
 * does not send managedFields does not reset them). The input is not changed.
 */
export function transformJob<T extends { metadata?: V1ObjectMeta }>(job: T): T {
  if (job.metadata?.managedFields === undefined) return job;
  const metadata = { ...job.metadata };
  delete metadata.managedFields;
  return { ...job, metadata };
}
