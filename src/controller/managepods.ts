// managePods: the only place that creates, deletes and releases pods (BackgroundReleaser, below, releases
// pods whose spans were just delivered, and removes finished pods whose record is complete, between
// reconciles). Creation goes in slow-start batches (1, 2, 4, ...), stopping at the first batch with a
// failure, as the Job controller does, so a broken template costs one failed call, not `parallelism` of them.
// A pod that goes is deleted (its grace period runs) and loses its tracking finalizer; a pod kept for
// `kubectl logs` only loses the finalizer. A held pod (its telemetry not yet delivered) is deleted all the
// same but keeps its finalizer: the data plane never waits for telemetry, and the pod stays readable until its
// span is delivered.
import { PatchStrategy } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import pLimit from 'p-limit';
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
  /**
   * Finished pods of `delete` are handed to this after the creates instead of being waited for (a job's running
   * reconciles). Without it they are deleted here (a job being deleted, or strays).
   */
  background?: BackgroundReleaser;
}

export interface ManageResult {
  created: V1Pod[];
  deleted: number;
  /** Pods whose tracking finalizer this call removed. */
  released: V1Pod[];
  /** The first creation error, if a batch failed (the rest of the creations were not tried). */
  createError?: Error;
  /** Finished pods handed to `background` now. */
  handedOver?: number;
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
 * Removes a finished pod: deleted with no grace period first, then released unless held (onReleased told). Nothing
 * runs, so the pod goes as soon as it has no finalizer: with the delete when it was released already, else with
 * the release. In this order a pod costs every watcher two events (its deletion marked, then gone) rather than
 * three (released, its deletion marked, gone: a delete with no grace period writes the mark before it removes the
 * pod), and no simulated kubelet deletes it again (kwok's pod-delete stage waits for the finalizers to go). A pod
 * already being deleted is only released.
 */
async function removeFinishedPod(
  core: Pick<PodClient, 'patchNamespacedPod' | 'deleteNamespacedPod'>,
  pod: V1Pod,
  held: boolean,
  onReleased: (pod: V1Pod) => void,
): Promise<void> {
  const releases = !held && isTracked(pod);
  if (!pod.metadata?.deletionTimestamp) {
    try {
      await core.deleteNamespacedPod({
        namespace: pod.metadata!.namespace!,
        name: pod.metadata!.name!,
        gracePeriodSeconds: 0,
      });
    } catch (err) {
      // Gone already: as released as it will be (the hooks forget it), and the callers count the 404 as done.
      if (isNotFound(err) && releases) onReleased(pod);
      throw err;
    }
  }
  if (releases) {
    await releasePod(core, pod);
    onReleased(pod);
  }
}

/**
 * Finalizer patches in flight at once outside a reconcile: a batch of delivered spans (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
 * 512 by default) releases its pods at this pace instead of opening hundreds of requests at once.
 */
export const MAX_BACKGROUND_RELEASES_IN_FLIGHT = 32;

/**
 * Finished pods being removed at once outside a reconcile (a delete and a release each, one after the other). A
 * results flush makes a few hundred pods removable at once, and the reconciles' creates queue behind their writes
 * at the API server: from a pod's end to its slot's next pod took up to 1.9 s with 32 at once, 0.36 s with 4
 * (500 items at parallelism 20, 500 ms pods, two runs each; the longest turnaround of bench/timeline.ts).
 */
export const MAX_BACKGROUND_REMOVALS_IN_FLIGHT = 4;

/**
 * Finished pods handed to BackgroundReleaser.remove, remembered (the latest this many; those waiting or in flight are
 * never forgotten) so a reconcile on a cache that still shows one, or an older version of it, does not hand it over
 * again. The cache shows a removed pod gone within a second; a results flush hands over a few hundred.
 */
export const MAX_REMEMBERED_REMOVALS = 10_000;

/** Backoff of a pod whose removal failed (other than 404) before a reconcile may hand it over again. */
export const REMOVAL_RETRY_BASE_MS = 1_000;
export const REMOVAL_RETRY_MAX_MS = 5 * 60_000;
/** The job is requeued this long after a failed removal's backoff, so its reconcile finds the backoff over. */
export const REMOVAL_RETRY_MARGIN_MS = 100;

/** A pod's key among BackgroundReleaser's removals: its uid (its name until the API server gave it one). */
function removalKey(pod: V1Pod): string {
  return pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

/** A pod handed to BackgroundReleaser.remove. */
interface Removal {
  /** Waiting for a slot or in flight; done (or seen gone); failed (handed over again from retryAtMs). */
  state: 'queued' | 'done' | 'failed';
  /** Done with its finalizer released, or with none to release: nothing is left to do for it. */
  released: boolean;
  failures: number;
  retryAtMs: number;
}

/**
 * Pod calls outside any reconcile:
 * - release() (at most MAX_BACKGROUND_RELEASES_IN_FLIGHT at a time): pods whose record is complete lose their
 *   tracking finalizer as soon as what held them is settled (their attempt's span delivered), so the window in
 *   which a crash makes a new leader deliver a span again is one request's rather than one reconcile's;
 * - remove() (at most MAX_BACKGROUND_REMOVALS_IN_FLIGHT pods at a time): finished pods whose record is complete
 *   go (deleted, then released unless held: removeFinishedPod). A reconcile hands them over and goes on: the
 *   202 deletions of a results flush took a reconcile 2.7 s, during which no replacement pod was created (500
 *   items at parallelism 20). Finished pods count for nothing in the job's state, so no expectation waits for them. A pod is handed
 *   over once; again only if its removal failed (after a backoff, its job requeued for it: onRetry), or if it was
 *   held then and is tracked and releasable now (the telemetry's own release of it failed).
 */
export class BackgroundReleaser {
  private readonly releaseLimit = pLimit(MAX_BACKGROUND_RELEASES_IN_FLIGHT);
  private readonly removalLimit = pLimit(MAX_BACKGROUND_REMOVALS_IN_FLIGHT);
  private readonly removals = new Map<string, Removal>();
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly core: Pick<PodClient, 'patchNamespacedPod' | 'deleteNamespacedPod'>,
    private readonly log: Logger,
    private readonly callbacks: {
      /** Pods remove() released (for the hooks' released()). */
      onReleased?: (pods: readonly V1Pod[]) => void;
      /**
       * A removal or a release failed: the pod's job should be reconciled again after this long, to hand it over
       * (or release it) again.
       */
      onRetry?: (pod: V1Pod, afterMs: number) => void;
    } = {},
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Resolves with the pods released (or gone already); never rejects. */
  async release(pods: readonly V1Pod[]): Promise<V1Pod[]> {
    const started = performance.now();
    const released: V1Pod[] = [];
    await Promise.all(
      pods.map((pod) =>
        this.releaseLimit(async () => {
          try {
            await releasePod(this.core, pod);
            released.push(pod);
          } catch (err) {
            // Nothing else may reconcile its job soon (a pod update that changes nothing does not): asked for.
            this.log.debug(
              { err, pod: pod.metadata?.name },
              'could not release pod; its job is reconciled again to release it',
            );
            this.callbacks.onRetry?.(pod, REMOVAL_RETRY_BASE_MS);
          }
        }),
      ),
    );
    this.log.debug(
      { pods: pods.length, released: released.length, ms: Math.round(performance.now() - started) },
      'released pods whose spans were delivered',
    );
    return released;
  }

  /**
   * Removes these finished pods in the background: each deleted with no grace period and released (unless in
   * `hold`). Returns how many were handed over now (see the class comment for which are skipped).
   */
  remove(pods: readonly V1Pod[], hold: ReadonlySet<V1Pod>): number {
    let handed = 0;
    for (const pod of pods) {
      const key = removalKey(pod);
      const known = this.removals.get(key);
      const held = hold.has(pod);
      if (known && !this.again(known, pod, held)) continue;
      const removal: Removal = {
        state: 'queued',
        released: false,
        failures: known?.failures ?? 0,
        retryAtMs: 0,
      };
      this.remember(key, removal);
      const work = this.removalLimit(() => this.removeOne(pod, held, removal));
      this.pending.add(work);
      void work.finally(() => this.pending.delete(work));
      handed++;
    }
    return handed;
  }

  /** The informer saw the pod go: nothing is left to do for it, whatever a stale cache shows later. */
  gone(pod: V1Pod): void {
    const known = this.removals.get(removalKey(pod));
    if (known && known.state !== 'queued') Object.assign(known, { state: 'done', released: true });
  }

  /** Resolves once every removal handed over so far is done. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  /**
   * Removals not started yet are dropped (the next leader's reconciles hand those pods over again); resolves
   * once those in flight are done.
   */
  stop(): Promise<void> {
    this.stopped = true;
    return this.idle();
  }

  /** Whether a pod handed over before is to be handed over again. */
  private again(known: Removal, pod: V1Pod, held: boolean): boolean {
    if (known.state === 'queued') return false;
    if (known.state === 'failed') return this.nowMs() >= known.retryAtMs;
    // Done while held (deleted, its finalizer kept): the release is left, once it is due and not done by then.
    return !known.released && !held && isTracked(pod);
  }

  /** Keeps the removal as the newest; forgets the oldest finished ones beyond MAX_REMEMBERED_REMOVALS. */
  private remember(key: string, removal: Removal): void {
    this.removals.delete(key);
    this.removals.set(key, removal);
    if (this.removals.size <= MAX_REMEMBERED_REMOVALS) return;
    for (const [k, r] of this.removals) {
      if (r.state === 'queued') continue;
      this.removals.delete(k);
      if (this.removals.size <= MAX_REMEMBERED_REMOVALS) return;
    }
  }

  private async removeOne(pod: V1Pod, held: boolean, removal: Removal): Promise<void> {
    const name = pod.metadata!.name!;
    if (this.stopped) {
      this.removals.delete(removalKey(pod));
      return;
    }
    try {
      const tracked = isTracked(pod);
      await removeFinishedPod(this.core, pod, held, (p) => this.callbacks.onReleased?.([p]));
      Object.assign(removal, { state: 'done', released: !held || !tracked });
    } catch (err) {
      if (isNotFound(err)) {
        Object.assign(removal, { state: 'done', released: true }); // gone already
        return;
      }
      removal.failures++;
      const afterMs = Math.min(REMOVAL_RETRY_BASE_MS * 2 ** (removal.failures - 1), REMOVAL_RETRY_MAX_MS);
      Object.assign(removal, { state: 'failed', retryAtMs: this.nowMs() + afterMs });
      this.log.warn(
        { err, pod: name, failures: removal.failures, retryInMs: afterMs },
        'could not remove finished pod; its job is reconciled again after a backoff',
      );
      this.callbacks.onRetry?.(pod, afterMs + REMOVAL_RETRY_MARGIN_MS);
    }
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
  const toDelete = changes.delete
    .filter((p) => !(hold.has(p) && p.metadata?.deletionTimestamp && !needsMark(p)))
    .slice(0, MAX_POD_CHANGES_PER_SYNC);
  const background = changes.background;
  const deletes = background ? toDelete.filter((p) => !isTerminated(p)) : toDelete;
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
          await removeFinishedPod(core, pod, hold.has(pod), (p) => result.released.push(p));
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
  if (background) result.handedOver = background.remove(toDelete.filter(isTerminated), hold);
  return result;
}
