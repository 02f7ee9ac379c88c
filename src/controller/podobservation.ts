// What a pod tells the controller about one attempt: which item, which attempt, and how it ended.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import {
  ANNOTATION_CANCELLED_AT,
  ENV_ITEM_ID,
  LABEL_ATTEMPT,
  LABEL_ITEM_INDEX,
  LABEL_PHASE,
  LABEL_JOB_NAME,
  PHASE_MAP,
  PHASE_REDUCE,
} from '../api/constants.js';
import { controllingJob, isTracked } from './ownership.js';

export type AttemptState = 'active' | 'succeeded' | 'failed';

export interface PodObservation {
  pod: V1Pod;
  name: string;
  phase: typeof PHASE_MAP | typeof PHASE_REDUCE;
  /** The item index; -1 for the reduce pod. */
  index: number;
  attempt: number;
  state: AttemptState;
  exitCode?: number;
  /** Why the attempt failed: OOMKilled, DeadlineExceeded, Evicted, "exit code N", ... */
  reason?: string;
  /** The main container's termination message: the item's result. */
  message?: string;
  createdAt?: Date;
  finishedAt?: Date;
  /** Stopped because the job ended or was deleted: when (the pod's cancelled-at annotation). */
  cancelledAt?: Date;
  /** The work item's id, as the pod was given it (MAPREDUCE_ITEM_ID); map attempts only. */
  itemId?: string;
}

/**
 * The main container's status: the one named like the template's first container. A real kubelet lists
 * statuses sorted by name, so the first status may be a sidecar's (say `aaa-sidecar`).
 */
export function mainContainerStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const main = pod.spec?.containers?.[0]?.name;
  const statuses = pod.status?.containerStatuses ?? [];
  return main === undefined ? statuses[0] : statuses.find((s) => s.name === main);
}

function parseNonNegativeInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** A Kubernetes timestamp (the client gives Date or string) as a Date; undefined when absent or invalid. */
export function toDate(value: Date | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * What each pod object was read as. A cached pod is never changed in place (an update replaces the object), and
 * every reconcile, span hand-over and gauge reads all of a job's pods again: a --cpu-prof of a 2,000-item job
 * spent over half of computeJobState's time re-reading unchanged pods.
 */
const observed = new WeakMap<V1Pod, PodObservation | null>();

/**
 * Reads one of the operator's pods; undefined for a pod without the operator's labels. The same pod object
 * gives the same (frozen) observation: callers share it and must not change it, nor the pod after reading it.
 */
export function observePod(pod: V1Pod): PodObservation | undefined {
  let obs = observed.get(pod);
  if (obs === undefined) {
    obs = readPod(pod) ?? null;
    if (obs) Object.freeze(obs);
    observed.set(pod, obs);
  }
  return obs ?? undefined;
}

function readPod(pod: V1Pod): PodObservation | undefined {
  const labels = pod.metadata?.labels ?? {};
  const phase = labels[LABEL_PHASE];
  if (phase !== PHASE_MAP && phase !== PHASE_REDUCE) return undefined;
  const attempt = parseNonNegativeInt(labels[LABEL_ATTEMPT]);
  const index = phase === PHASE_REDUCE ? -1 : parseNonNegativeInt(labels[LABEL_ITEM_INDEX]);
  if (attempt === undefined || index === undefined) return undefined;

  const main = mainContainerStatus(pod);
  const terminated = main?.state?.terminated;
  const obs: PodObservation = {
    pod,
    name: pod.metadata?.name ?? '',
    phase,
    index,
    attempt,
    state: 'active',
    createdAt: toDate(pod.metadata?.creationTimestamp),
  };
  const cancelledAt = toDate(pod.metadata?.annotations?.[ANNOTATION_CANCELLED_AT]);
  if (cancelledAt) obs.cancelledAt = cancelledAt;
  const itemId = pod.spec?.containers?.[0]?.env?.find((e) => e.name === ENV_ITEM_ID)?.value;
  if (itemId !== undefined) obs.itemId = itemId;
  if (terminated?.message !== undefined) obs.message = terminated.message;
  if (terminated?.exitCode !== undefined) obs.exitCode = terminated.exitCode;

  switch (pod.status?.phase) {
    case 'Succeeded':
      obs.state = 'succeeded';
      obs.finishedAt = toDate(terminated?.finishedAt) ?? lastConditionTime(pod);
      break;
    case 'Failed':
      obs.state = 'failed';
      obs.finishedAt = toDate(terminated?.finishedAt) ?? lastConditionTime(pod);
      obs.reason = failureReason(pod);
      break;
    default:
      if (pod.metadata?.deletionTimestamp) {
        // Deleted by someone else before it finished: the attempt is lost and counts as failed.
        obs.state = 'failed';
        obs.finishedAt = toDate(pod.metadata.deletionTimestamp);
        obs.reason = 'PodDeleted';
      }
  }
  return obs;
}

function lastConditionTime(pod: V1Pod): Date | undefined {
  const times = (pod.status?.conditions ?? [])
    .map((c) => toDate(c.lastTransitionTime))
    .filter((d): d is Date => d !== undefined);
  return times.length ? new Date(Math.max(...times.map((d) => d.getTime()))) : undefined;
}

/** The reason a failed pod gives, most specific first: the kubelet's pod reason, the container's, the exit code. */
export function failureReason(pod: V1Pod): string {
  const podReason = pod.status?.reason; // DeadlineExceeded, Evicted
  if (podReason) return podReason;
  const terminated = mainContainerStatus(pod)?.state?.terminated;
  if (terminated?.reason && terminated.reason !== 'Error' && terminated.reason !== 'Completed')
    return terminated.reason;
  if (terminated?.exitCode !== undefined) return `exit code ${terminated.exitCode}`;
  return 'Unknown';
}

/**
 * What of a pod its job's reconcile acts on, compared element by element (sameFacts): the attempt it is and how
 * it ended, whether it is still tracked or being deleted, and whose it is. An update that leaves these as they
 * were (the scheduler's binding; the kubelet's Pending, Running, Ready) changes nothing the reconcile decides,
 * so it does not reconcile the job (Controller.podChanged). What else telemetry reads of a pod (its node, its
 * conditions' times, when its container started) is read once the attempt has ended, from the pod then.
 */
export function reconcileFacts(pod: V1Pod): readonly unknown[] {
  const o = observePod(pod);
  return [
    o?.phase,
    o?.index,
    o?.attempt,
    o?.state,
    o?.exitCode,
    o?.reason,
    o?.message,
    o?.finishedAt?.getTime(),
    o?.cancelledAt?.getTime(),
    pod.metadata?.deletionTimestamp !== undefined,
    isTracked(pod),
    controllingJob(pod)?.uid,
    pod.metadata?.labels?.[LABEL_JOB_NAME],
  ];
}

export function sameFacts(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
