// managePods: the only place that creates or deletes pods. Creation goes in slow-start batches
// (1, 2, 4, ...), stopping at the first batch with a failure, as the Job controller does, so a broken
// template costs one failed call, not `parallelism` of them.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from '../apierrors.js';
import type { CoreClient } from './clients.js';
import type { Expectations } from './expectations.js';

/** First slow-start batch size. */
export const SLOW_START_INITIAL_BATCH = 1;

export interface PodChanges {
  create: V1Pod[];
  delete: V1Pod[];
}

export interface ManageResult {
  created: V1Pod[];
  deleted: number;
  /** The first creation error, if a batch failed (the rest of the creations were not tried). */
  createError?: Error;
}

export async function managePods(
  core: Pick<CoreClient, 'createNamespacedPod' | 'deleteNamespacedPod'>,
  expectations: Expectations,
  key: string,
  changes: PodChanges,
  log: Logger,
): Promise<ManageResult> {
  const result: ManageResult = { created: [], deleted: 0 };

  await Promise.all(
    changes.delete.map(async (pod) => {
      const name = pod.metadata!.name!;
      expectations.expectDelete(key, name);
      try {
        await core.deleteNamespacedPod({ namespace: pod.metadata!.namespace!, name, gracePeriodSeconds: 0 });
        result.deleted++;
      } catch (err) {
        expectations.observedDelete(key, name);
        if (!isNotFound(err)) log.warn({ err, pod: name }, 'could not delete pod');
      }
    }),
  );

  let batch = SLOW_START_INITIAL_BATCH;
  for (let start = 0; start < changes.create.length; start += batch, batch *= 2) {
    const pods = changes.create.slice(start, start + batch);
    const errors: Error[] = [];
    await Promise.all(
      pods.map(async (pod) => {
        const name = pod.metadata!.name!;
        expectations.expectCreate(key, name);
        try {
          result.created.push(
            await core.createNamespacedPod({ namespace: pod.metadata!.namespace!, body: pod }),
          );
        } catch (err) {
          // AlreadyExists: an earlier reconcile made it and the cache has not shown it yet; it will.
          if (isConflict(err)) return;
          expectations.observedCreate(key, name);
          errors.push(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
    if (errors.length > 0) {
      result.createError = errors[0];
      break;
    }
  }
  return result;
}
