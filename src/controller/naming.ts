// Deterministic names for a job's pods and ConfigMaps: the same job, item and attempt always give the
// same name, so a create after a crash hits AlreadyExists instead of making a duplicate.
import { createHash } from 'node:crypto';

/** Pod names are used as the pod's hostname: a DNS-1123 label. */
export const MAX_NAME_LENGTH = 63;
/** Hex characters of sha256(job name) that stand in for the cut part of a long job name. */
const HASH_LENGTH = 8;

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, HASH_LENGTH);
}

/** `<job>-<suffix>`, with the job name cut and hashed when the whole would exceed 63 characters. */
export function childName(jobName: string, suffix: string): string {
  const full = `${jobName}-${suffix}`;
  if (full.length <= MAX_NAME_LENGTH) return full;
  const room = MAX_NAME_LENGTH - suffix.length - HASH_LENGTH - 2;
  const prefix = jobName.slice(0, Math.max(0, room)).replace(/[-.]+$/, '');
  return `${prefix}-${shortHash(jobName)}-${suffix}`.replace(/^-/, '');
}

export function agentPodName(jobName: string, index: number, attempt: number): string {
  return childName(jobName, `${index}-${attempt}`);
}

export function reducePodName(jobName: string, attempt: number): string {
  return childName(jobName, `reduce-${attempt}`);
}

/** A results piece, named by the first item index it holds. */
export function resultsConfigMapName(jobName: string, first: number): string {
  return childName(jobName, `results-${first}`);
}

export function itemsConfigMapName(jobName: string, shard: number): string {
  return childName(jobName, `items-${shard}`);
}

/** The work queue's key of a job: namespace/name. */
export function jobKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
