// ttlSecondsAfterFinished, as the Job controller's TTL-after-finished controller: a finished job is deleted
// (with its pods and ConfigMaps, by owner reference) once the TTL has passed since its completion.
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import type { MapReduceJob } from '../api/types.js';
import { isNotFound } from '../apierrors.js';
import type { JobClient } from './clients.js';

/** Milliseconds until a finished job's TTL passes (<= 0: it has); undefined when it has no TTL. */
export function ttlRemainingMs(job: MapReduceJob, now: Date): number | undefined {
  const ttl = job.spec.ttlSecondsAfterFinished;
  const finishedAt = job.status?.completionTime;
  if (ttl === undefined || finishedAt === undefined) return undefined;
  return Date.parse(finishedAt) + ttl * 1000 - now.getTime();
}

/** Deletes the job, only this very one (uid precondition): a new job of the same name is not touched. */
export async function deleteFinishedJob(api: JobClient, job: MapReduceJob, log: Logger): Promise<void> {
  log.info(
    { ttlSecondsAfterFinished: job.spec.ttlSecondsAfterFinished },
    'deleting finished job: its TTL has passed',
  );
  try {
    await api.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: job.metadata.namespace!,
      plural: PLURAL,
      name: job.metadata.name!,
      propagationPolicy: 'Background',
      body: { preconditions: { uid: job.metadata.uid } },
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
