// Which job owns an object: the one owner reference the operator writes, and the one way it is read back;
// and whether a pod is still tracked (its finalizer).
import type { V1ObjectMeta, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { FINALIZER_TRACKING, LABEL_JOB_NAME } from '../api/constants.js';
import { API_VERSION, KIND } from '../api/types.js';
import type { MapReduceJob } from '../api/types.js';

/** On every pod and ConfigMap a job makes: garbage-collected with the job, and the job's controller. */
export function ownerReference(job: MapReduceJob): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: job.metadata.name!,
    uid: job.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The MapReduceJob that controls an object, if any. */
export function controllingJob(obj: { metadata?: V1ObjectMeta }): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find(
    (o) => o.controller === true && o.apiVersion === API_VERSION && o.kind === KIND,
  );
}

/** True for an object this very job (same uid, not an earlier job of the same name) controls. */
export function isControlledBy(obj: { metadata?: V1ObjectMeta }, job: MapReduceJob): boolean {
  return controllingJob(obj)?.uid === job.metadata.uid;
}

/** The pod still carries the operator's tracking finalizer: its attempt is not yet released. */
export function isTracked(pod: V1Pod): boolean {
  return pod.metadata?.finalizers?.includes(FINALIZER_TRACKING) ?? false;
}

/**
 * The job names a pod is indexed under (CacheIndex): its controlling job's, and its job-name label's. Each job's
 * reconcile reads its own pods and its name's strays (tracked, controlled by no live job of that name) from the
 * one entry for its name.
 */
export function jobNamesOf(pod: V1Pod): string[] {
  const names: string[] = [];
  const controller = controllingJob(pod)?.name;
  const label = pod.metadata?.labels?.[LABEL_JOB_NAME];
  if (controller !== undefined) names.push(controller);
  if (label !== undefined && label !== controller) names.push(label);
  return names;
}
