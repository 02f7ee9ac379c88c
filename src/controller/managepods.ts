// managePods: the only place that creates, deletes and releases pods (BackgroundReleaser, below, releases
// pods whose spans were just delivered, between reconciles). Creation goes in slow-start batches
// (1, 2, 4, ...), stopping at the first batch with a failure, as the Job controller does, so a broken
// template costs one failed call, not `parallelism` of them. A pod that goes is deleted (its grace period
// runs) and loses its tracking finalizer; a pod kept for `kubectl logs` only loses the finalizer. A held
// pod (its telemetry not yet delivered) is deleted all the same but keeps its finalizer: the data plane
// never waits for telemetry, and the pod stays readable until its span is delivered.
import { PatchStrategy } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ANNOTATION_CANCELLED_AT, FINALIZER_TRACKING } from '../api/constants.js';
import { ForeignObjectError, isConflict, isNotFound } from '../apierrors.js';
import type { PodClient } from './clients.js';
import type { Expectations } from './expectations.js';
import { controllingJob, isTracked } from './ownership.js';

/** First slow-start batch size. */
export const SLOW_START_INITIAL_BATCH = 1;
/**
 * Pods created, and pods deleted or released, in one reconcile at most (the Job controller's
 * MaxPodCreateDeletePerSync): a job of 10,000 running pods that fails does not fire 20,000 calls at once.
 * The rest follow in the next reconciles, which these changes' own watch events bring.
 */
export const MAX_POD_CHANGES_PER_SYNC = 500;

export interface PodChanges {
  create: V1Pod[];
  delete: V1Pod[];
  /** Pods to keep, without their tracking finalizer. */
  release?: V1Pod[];
  /** Pods of `delete` and `release` that keep their tracking finalizer for now. */
  hold?: ReadonlySet<V1Pod>;
  /**
   * The job ended (or is being deleted) at this time: a held pod still running is annotated with it before it
   * is deleted, so its attempt's span says "cancelled" and ends then.
   */
  cancelledAt?: string;
}

export interface ManageResult {
  created: V1Pod[];
  deleted: number;
  /** Pods whose tracking finalizer this call removed. */
  released: V1Pod[];
  /** The first creation error, if a batch failed (the rest of the creations were not tried). */
  createError?: Error;
}

/** The existing pod of this name has the owner the pod we tried to create names. */
async function isOurs(core: Pick<PodClient, 'readNamespacedPod'>, pod: V1Pod): Promise<boolean> {
  try {
    const existing = await core.readNamespacedPod({
      namespace: pod.metadata!.namespace!,
      name: pod.metadata!.name!,
    });
    return controllingJob(existing)?.uid === pod.metadata?.ownerReferences?.[0]?.uid;
  } catch (err) {
    if (isNotFound(err)) return false; // gone since: the next reconcile creates it
    throw err;
  }
}

/** The pod's phase is final: Succeeded or Failed. */
export function isTerminated(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Marks a running pod as stopped with its job (a merge patch of one annotation). */
async function markCancelled(
  core: Pick<PodClient, 'patchNamespacedPod'>,
  pod: V1Pod,
  at: string,
): Promise<void> {
  await core.patchNamespacedPod({
    namespace: pod.metadata!.namespace!,
    name: pod.metadata!.name!,
    body: { metadata: { annotations: { [ANNOTATION_CANCELLED_AT]: at } } },
    patchStrategy: PatchStrategy.MergePatch,
  });
}

/** Removes the tracking finalizer, and only it (a strategic merge patch: no read, no index to race on). */
export async function releasePod(core: Pick<PodClient, 'patchNamespacedPod'>, pod: V1Pod): Promise<void> {
  try {
    await core.patchNamespacedPod({
      namespace: pod.metadata!.namespace!,
      name: pod.metadata!.name!,
      body: { metadata: { '$deleteFromPrimitiveList/finalizers': [FINALIZER_TRACKING] } },
      patchStrategy: PatchStrategy.StrategicMergePatch,
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Finalizer patches in flight at once outside a reconcile: a batch of delivered spans (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
 * 512 by default) releases its pods at this pace instead of opening hundreds of requests at once.
 */
export const MAX_BACKGROUND_RELEASES_IN_FLIGHT = 32;

/**
 * Releases pods whose record is complete as soon as what held them is settled (their attempt's span delivered),
 * outside any reconcile, so the window in which a crash makes a new leader deliver a span again is one
 * request's rather than one reconcile's. Only the tracking finalizer goes (releasePod); deleting stays with
 * managePods. A failure is logged and left to the job's next reconcile, which still sees the pod tracked.
 */
export class BackgroundReleaser {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly core: Pick<PodClient, 'patchNamespacedPod'>,
    private readonly log: Logger,
  ) {}

  /** Resolves with the pods released (or gone already); never rejects. */
  async release(pods: readonly V1Pod[]): Promise<V1Pod[]> {
    const started = performance.now();
    const released: V1Pod[] = [];
    await Promise.all(
      pods.map(async (pod) => {
        await this.slot();
        try {
          await releasePod(this.core, pod);
          released.push(pod);
        } catch (err) {
          this.log.debug(
            { err, pod: pod.metadata?.name },
            'could not release pod (the next reconcile of its job will)',
          );
        } finally {
          this.free();
        }
      }),
    );
    this.log.debug(
      { pods: pods.length, released: released.length, ms: Math.round(performance.now() - started) },
      'released pods whose spans were delivered',
    );
    return released;
  }

  private async slot(): Promise<void> {
    if (this.inFlight < MAX_BACKGROUND_RELEASES_IN_FLIGHT) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiter, or frees it. */
  private free(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }
}

export async function managePods(
  core: PodClient,
  expectations: Expectations,
  key: string,
  changes: PodChanges,
  log: Logger,
): Promise<ManageResult> {
  const result: ManageResult = { created: [], deleted: 0, released: [] };
  const hold = changes.hold ?? new Set<V1Pod>();
  const needsMark = (p: V1Pod): boolean =>
    changes.cancelledAt !== undefined &&
    hold.has(p) &&
    !isTerminated(p) &&
    p.metadata?.annotations?.[ANNOTATION_CANCELLED_AT] === undefined;
  // A held pod already being deleted has nothing to do until it is released (unless it is to be marked).
  const deletes = changes.delete
    .filter((p) => !(hold.has(p) && p.metadata?.deletionTimestamp && !needsMark(p)))
    .slice(0, MAX_POD_CHANGES_PER_SYNC);
  const releases = (changes.release ?? [])
    .filter((p) => isTracked(p) && !hold.has(p))
    .slice(0, MAX_POD_CHANGES_PER_SYNC - deletes.length);
  const release = async (pod: V1Pod): Promise<void> => {
    if (!isTracked(pod) || hold.has(pod)) return;
    await releasePod(core, pod);
    result.released.push(pod);
  };
  const creates = changes.create.slice(0, MAX_POD_CHANGES_PER_SYNC);

  await Promise.all([
    ...deletes.map(async (pod) => {
      const name = pod.metadata!.name!;
      // Only a delete this call issues is expected: a pod already being deleted was counted as deleted when
      // the cache showed its deletionTimestamp (Controller.podChanged), and may be gone by now (released in
      // the background meanwhile): an expectation raised for it would wait for an event that came already.
      const issuesDelete = !pod.metadata?.deletionTimestamp;
      if (issuesDelete) expectations.expectDelete(key, name);
      try {
        if (isTerminated(pod)) {
          // Nothing runs, so no grace period: released first, the pod is gone with the delete itself.
          await release(pod);
          if (!pod.metadata?.deletionTimestamp)
            await core.deleteNamespacedPod({
              namespace: pod.metadata!.namespace!,
              name,
              gracePeriodSeconds: 0,
            });
        } else {
          // A running attempt is stopped as a kubelet stops any pod: SIGTERM, its grace period, then SIGKILL.
          if (needsMark(pod)) await markCancelled(core, pod, changes.cancelledAt!);
          if (!pod.metadata?.deletionTimestamp)
            await core.deleteNamespacedPod({ namespace: pod.metadata!.namespace!, name });
          await release(pod);
        }
        result.deleted++;
      } catch (err) {
        if (issuesDelete) expectations.observedDelete(key, name);
        if (!isNotFound(err)) log.warn({ err, pod: name }, 'could not delete pod');
      }
    }),
    ...releases.map(async (pod) => {
      try {
        await release(pod);
      } catch (err) {
        log.warn({ err, pod: pod.metadata?.name }, 'could not release pod');
      }
    }),
  ]);

  let batch = SLOW_START_INITIAL_BATCH;
  for (let start = 0; start < creates.length; start += batch, batch *= 2) {
    const pods = creates.slice(start, start + batch);
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
          // AlreadyExists: an earlier reconcile made it and the cache has not shown it yet (it will), unless
          // the pod is another owner's (an earlier job of the same name, still going).
          if (isConflict(err) && (await isOurs(core, pod))) return;
          expectations.observedCreate(key, name);
          if (isConflict(err)) errors.push(new ForeignObjectError('pod', pod.metadata!.namespace!, name));
          else errors.push(err instanceof Error ? err : new Error(String(err)));
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
