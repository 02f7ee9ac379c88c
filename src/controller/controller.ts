// syncJob reconciles one job, as the Job controller's: compute what is true (computeJobState), store the
// results, hand the spans over, change pods (managePods), write status once. Everything it talks to comes
// in through the constructor (wiring.ts wires the real ones), so a test can drive it with a recording client.
import { isDeepStrictEqual } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { FINALIZER_TELEMETRY, LABEL_JOB_NAME, PHASE_MAP, Reason } from '../api/constants.js';
import { isFinished } from '../api/phases.js';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import type { FromJobStatus, MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import { apiMessage, isInvalid, isNotFound } from '../apierrors.js';
import { InputError } from '../input/resolve.js';
import type { CacheIndex } from './cacheindex.js';
import type { JobClient, CoreClient, ObjectCache, PodClient } from './clients.js';
import { setCondition } from './conditions.js';
import type { EventRecorder } from './events.js';
import type { Expectations } from './expectations.js';
import type { ControllerHooks, ReconcileRecord } from './hooks.js';
import type { InputResolver } from '../input/isolated.js';
import { loadInput } from './inputloader.js';
import { ItemTooLargeError } from './itemstore.js';
import type { ItemStore, StoredItem } from './itemstore.js';
import { computeJobState } from './jobstate.js';
import type { ControllerOptions, JobEvent, JobState, PodToCreate } from './jobstate.js';
import { isTerminated, managePods } from './managepods.js';
import type { BackgroundReleaser } from './managepods.js';
import { patchJobMetadata } from './jobpatch.js';
import { jobKey } from './naming.js';
import { controllingJob, isTracked } from './ownership.js';
import { buildAgentPod, buildReducePod } from './podbuilder.js';
import { reconcileFacts, sameFacts, toDate } from './podobservation.js';
import { setReadiness } from './readiness.js';
import { carriedCount, carriedPieceNames, loadRerunInput } from './rerun.js';
import { listPieces } from './resultpieces.js';
import { resultPieceNames } from './resultstore.js';
import type { ResultStore } from './resultstore.js';
import { deleteFinishedJob, ttlRemainingMs } from './ttl.js';

/** How long a reconcile waits for the cache to show its own status write before going ahead anyway. */
export const STATUS_CACHE_WAIT_MS = 10_000;
/** A job waiting on expectations is looked at again this long after they expire, so they have. */
export const EXPECTATIONS_RECHECK_MARGIN_MS = 1_000;
/**
 * A status whose only change is activeItems is written at most this often per job (the Job controller batches its
 * syncs by 1 s alike): 500 items at parallelism 20 with 500 ms pods changed it 181 times in 30 s, each write a
 * serial part of the job's reconciles and an object sent to every watcher. Any other change is written at once.
 */
export const ACTIVE_ONLY_WRITE_INTERVAL_MS = 1_000;

export { jobKey };

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

export interface ControllerDeps {
  core: CoreClient;
  /** The pod calls (podapi.ts). */
  podApi: PodClient;
  /** Removes finished pods whose record is complete, outside the reconcile (managepods.ts). */
  releaser: BackgroundReleaser;
  jobsApi: JobClient;
  /** The job cache: read only, never mutated (syncJob works on a copy). */
  jobs: ObjectCache<MapReduceJob>;
  /** The pod cache by job name (jobNamesOf), read only: a reconcile reads its own job's pods, not the namespace's. */
  podIndex: Pick<CacheIndex<V1Pod>, 'get'>;
  items: ItemStore;
  results: ResultStore;
  expectations: Expectations;
  events: EventRecorder;
  hooks: ControllerHooks;
  clock: () => Date;
  log: Logger;
  /** Resolves a job's input on first sight (a bounded child process in the operator; default: in process). */
  resolveInput?: InputResolver;
}

export class Controller {
  /**
   * Each job's last status write: when (clock ms; for STATUS_CACHE_WAIT_MS and ACTIVE_ONLY_WRITE_INTERVAL_MS), and
   * the resourceVersions it replaced while the job cache may not show it yet (emptied once it does).
   */
  private readonly statusWrites = new Map<string, { replacedRVs: string[]; at: number }>();
  /** A job copy whose finalizers this reconcile patched: the resourceVersion it had before (see writeStatus). */
  private readonly versionsBefore = new WeakMap<MapReduceJob, string>();
  /**
   * Each cached pod's reconcileFacts, by namespace/name (as many as the pod cache holds): an update that leaves
   * them as they were does not reconcile its job. A 500-item job made 3.3 to 3.6 reconciles per pod before, 2.1
   * to 2.6 after (8633643).
   */
  private readonly podFacts = new Map<string, readonly unknown[]>();

  constructor(
    private readonly deps: ControllerDeps,
    private readonly options: ControllerOptions,
  ) {}

  /** An informer saw a job added or changed: the key to reconcile. */
  jobChanged(job: MapReduceJob): string {
    return jobKey(job.metadata.namespace!, job.metadata.name!);
  }

  /** An informer saw a job deleted: forget what was kept for it (its pods and ConfigMaps go by owner). */
  jobDeleted(job: MapReduceJob): void {
    const key = jobKey(job.metadata.namespace!, job.metadata.name!);
    this.deps.expectations.forget(key);
    this.statusWrites.delete(key);
    this.deps.items.forget(job.metadata.uid!);
    this.deps.hooks.jobGone(job);
  }

  /**
   * An informer saw one of the jobs' pods come, change or go: the owning job's key, to reconcile. A tracked
   * pod whose job is gone (or orphaned it) is looked up by its job-name label, so its finalizer is released.
   */
  podChanged(pod: V1Pod, verb: 'add' | 'update' | 'delete'): string | undefined {
    if (verb === 'delete') this.deps.releaser.gone(pod);
    const name =
      controllingJob(pod)?.name ?? (isTracked(pod) ? pod.metadata?.labels?.[LABEL_JOB_NAME] : undefined);
    const changed = this.changesFacts(pod, name === undefined ? 'delete' : verb);
    if (!name) return undefined;
    const key = jobKey(pod.metadata!.namespace!, name);
    if (verb === 'add') this.deps.expectations.observedCreate(key, pod.metadata!.name!);
    // A pod being deleted counts as deleted (as the Job controller has it): a held pod keeps its finalizer
    // until its span is delivered, and the job's reconciles must not wait for that.
    if (verb === 'delete' || pod.metadata?.deletionTimestamp)
      this.deps.expectations.observedDelete(key, pod.metadata!.name!);
    return changed ? key : undefined;
  }

  /**
   * Whether this event may change what its job's reconcile decides: any add or delete, an update that changes
   * reconcileFacts. A pod of no job (an orphan released, or a label removed) is forgotten as a deleted one is.
   */
  private changesFacts(pod: V1Pod, verb: 'add' | 'update' | 'delete'): boolean {
    const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    if (verb === 'delete') {
      this.podFacts.delete(podKey);
      return true;
    }
    const facts = reconcileFacts(pod);
    const before = this.podFacts.get(podKey);
    this.podFacts.set(podKey, facts);
    return verb === 'add' || before === undefined || !sameFacts(before, facts);
  }

  /** Reconciles one job. Returns when to look again, if time alone can change something. */
  async syncJob(key: string): Promise<number | undefined> {
    const { hooks, expectations } = this.deps;
    const [namespace, name] = splitKey(key);
    const cached = this.deps.jobs.get(name, namespace);
    const log = this.deps.log.child({ job: key, ...(cached ? hooks.logFields(cached) : {}) });
    if (!cached) {
      log.debug('job is gone; its pods and ConfigMaps go with it (owner references)');
      await this.releaseStrays(key, this.podsOf(namespace, name, undefined).strays, log);
      return undefined;
    }
    if (!expectations.satisfied(key)) {
      log.debug('waiting for the cache to show this job’s pod creations and deletions');
      // Their events end the wait; if one was missed, only a reconcile notices the expectations expired.
      return expectations.expiresInMs(key) + EXPECTATIONS_RECHECK_MARGIN_MS;
    }
    const waitMs = this.statusCacheWaitMs(key, cached);
    if (waitMs > 0) {
      log.debug('waiting for the cache to show the last status write');
      return waitMs;
    }
    const job = copyJob(cached); // so we don't mutate the shared cache
    const { owned, strays } = this.podsOf(namespace, name, job.metadata.uid);
    await this.releaseStrays(key, strays, log);
    if (job.metadata.deletionTimestamp) return this.syncDeleting(key, job, owned, log);
    const now = this.deps.clock();
    if (isFinished(job.status?.phase)) return this.syncFinished(key, job, owned, now, log);

    let items: StoredItem[];
    let fromJob: FromJobStatus | undefined;
    try {
      ({ items, fromJob } = await this.itemsOf(job, log));
    } catch (err) {
      if (err instanceof InputError || err instanceof ItemTooLargeError) {
        const reason = err instanceof InputError ? err.reason : Reason.InputInvalid;
        await this.failJob(job, reason, err.message, now, log);
        return undefined;
      }
      throw err;
    }

    const state = computeJobState({
      job,
      totalItems: items.length,
      ...(job.spec.input.fromJob ? { itemIndexes: items.map((item) => item.index) } : {}),
      itemId: (i) => itemAt(items, i)?.id ?? String(i),
      pods: owned,
      now,
      options: this.options,
    });
    // A re-run records what it took from the earlier job once, with the first status that counts its items.
    if (fromJob) state.status.fromJob = fromJob;
    const record: ReconcileRecord = {
      job,
      status: state.status,
      finished: state.finishedAttempts,
      itemId: (i) => itemAt(items, i)?.id,
      now,
      events: state.events,
    };
    hooks.decorateStatus(record);

    await this.syncJobFinalizer(job, record.status, owned.filter(isTracked).length, log);
    // Results are stored before the status that counts them, so a crash in between loses nothing; after the
    // finalizer's patch, so each piece records the resourceVersion the status write is conditioned on; before
    // the pods are built, as a reduce pod mounts the pieces the status lists.
    const stored = await this.deps.results.record(job, state.newPieces);
    if (stored.length > 0) record.status.resultPieces = listPieces(job.status?.resultPieces, stored);
    if (
      stored.length !== state.newPieces.length ||
      stored.some((first, i) => state.newPieces[i]!.first !== first)
    )
      log.info(
        { planned: state.newPieces.map((p) => p.first), listed: stored },
        'a results piece left under a name this reconcile needed is listed as it is; the other results went beside it',
      );
    const podsToCreate = state.create.map((target) => this.buildPod(job, target, items, state));
    // Pods whose telemetry is not delivered yet keep their finalizer; nothing else waits for telemetry.
    const hold = hooks.unsettled(job, [...state.delete, ...state.release]);
    const managed = await managePods(
      this.deps.podApi,
      expectations,
      key,
      {
        create: podsToCreate,
        delete: state.delete,
        release: state.release,
        hold,
        cancelledAt: state.finished ? record.status.completionTime : undefined,
        background: this.deps.releaser,
      },
      log,
    );
    hooks.released(managed.released);
    const created = new Set(managed.created.map((p) => p.metadata?.name));
    hooks.attemptsStarted(
      job,
      state.create.filter((_, i) => created.has(podsToCreate[i]?.metadata?.name)),
    );
    if (managed.createError && isInvalid(managed.createError)) {
      // Every attempt would be refused the same way: the job ends here instead of retrying forever.
      const message = `the API server refused the job's pod: ${apiMessage(managed.createError)}`;
      await this.failJob(job, Reason.PodTemplateInvalid, message, now, log, record);
      return undefined;
    }
    if (managed.createError) {
      state.events.push({
        type: 'Warning',
        reason: Reason.PodCreateFailed,
        message: `could not create pod: ${apiMessage(managed.createError)}`,
      });
    }

    const deferredMs = this.deferActiveOnly(key, job.status, record.status);
    await this.commit(record, log);
    if (state.finished) await this.sweepResults(job, record.status, log);
    // From what the status now says: the spans of the attempts it ended (and of those still held), and of
    // the phases and the job if it ended them. Handed over; never waited for.
    const again = hooks.deliver({ ...job, status: record.status }, [
      ...hold,
      ...state.finishedAttempts.map((f) => f.observation.pod),
    ]);
    if (managed.createError) throw managed.createError;
    const ttl =
      state.finished && job.spec.ttlSecondsAfterFinished !== undefined
        ? job.spec.ttlSecondsAfterFinished * 1000
        : undefined;
    return earliest(earliest(ttl ?? state.requeueAfterMs, again), deferredMs);
  }

  /**
   * When the new status differs from the written one in activeItems alone, and the last write is younger than
   * ACTIVE_ONLY_WRITE_INTERVAL_MS: keeps the written count (so nothing is written now) and says when to look again.
   */
  private deferActiveOnly(
    key: string,
    written: MapReduceJobStatus | undefined,
    status: MapReduceJobStatus,
  ): number | undefined {
    if (!written || written.activeItems === status.activeItems) return undefined;
    const sinceMs = this.deps.clock().getTime() - (this.statusWrites.get(key)?.at ?? -Infinity);
    // (A wall clock stepped back makes it negative: written then, rather than held until the clock catches up.)
    if (sinceMs < 0 || sinceMs >= ACTIVE_ONLY_WRITE_INTERVAL_MS) return undefined;
    if (!isDeepStrictEqual({ ...written, activeItems: status.activeItems }, status)) return undefined;
    status.activeItems = written.activeItems;
    return ACTIVE_ONLY_WRITE_INTERVAL_MS - sinceMs;
  }

  /**
   * Once the status that ends the job is written: its results pieces that status does not list go (left by a
   * leader killed between a piece and the status listing it). Best effort: the job's record is exact without
   * it (the reduce pod and `kubectl mapreduce results` read only listed pieces), so a failure is logged, not
   * retried, and the pieces go with the job.
   */
  private async sweepResults(job: MapReduceJob, status: MapReduceJobStatus, log: Logger): Promise<void> {
    try {
      const deleted = await this.deps.results.sweep(job, status.resultPieces);
      if (deleted.length > 0)
        log.info({ pieces: deleted }, 'deleted results pieces the status does not list');
    } catch (err) {
      log.warn({ err }, 'could not delete results pieces the status does not list; they go with the job');
    }
  }

  /**
   * A job being deleted. Without the telemetry finalizer nothing holds the garbage collector back: its pods
   * are released. With it (a sampled job whose spans are not all delivered), its running pods are stopped and
   * marked cancelled at the deletion, its spans (ended as cancelled) are handed over, and the finalizers go as
   * their spans settle.
   */
  private async syncDeleting(
    key: string,
    job: MapReduceJob,
    owned: V1Pod[],
    log: Logger,
  ): Promise<number | undefined> {
    const { hooks, expectations } = this.deps;
    if (!job.metadata.finalizers?.includes(FINALIZER_TELEMETRY)) {
      log.debug('job is being deleted; releasing its pods');
      await managePods(this.deps.podApi, expectations, key, { create: [], delete: [], release: owned }, log);
      return undefined;
    }
    log.debug('job is being deleted; delivering its spans before it goes');
    const tracked = owned.filter(isTracked);
    const hold = hooks.unsettled(job, tracked);
    const running = owned.filter((p) => !isTerminated(p));
    const cancelledAt = job.status?.completionTime ?? toDate(job.metadata.deletionTimestamp)?.toISOString();
    const managed = await managePods(
      this.deps.podApi,
      expectations,
      key,
      {
        create: [],
        delete: running,
        release: tracked.filter((p) => !running.includes(p)), // a running one is released by its delete
        hold,
        cancelledAt,
      },
      log,
    );
    hooks.released(managed.released);
    const record = this.quietRecord(job);
    hooks.decorateStatus(record);
    await this.commit(record, log);
    const again = hooks.deliver({ ...job, status: record.status }, [...hold]);
    await this.syncJobFinalizer(job, record.status, tracked.length - managed.released.length, log);
    return again;
  }

  /** A record of a reconcile that ends no attempt: only telemetry's news goes into its status. */
  private quietRecord(job: MapReduceJob): ReconcileRecord {
    return {
      job,
      status: structuredClone({ ...job.status, observedGeneration: job.metadata.generation }),
      finished: [],
      itemId: () => undefined,
      now: this.deps.clock(),
      events: [],
    };
  }

  /**
   * Adds the telemetry finalizer to a job whose spans telemetry must deliver, and removes it once they are
   * settled (and the job ended or is being deleted). One merge patch, with the resourceVersion read: a
   * conflict means the cache was stale, and the work queue retries. The job's resourceVersion moves on, so the
   * status write that follows uses the new one.
   */
  private async syncJobFinalizer(
    job: MapReduceJob,
    status: MapReduceJobStatus,
    trackedPods: number,
    log: Logger,
  ): Promise<void> {
    const finalizers = job.metadata.finalizers ?? [];
    const has = finalizers.includes(FINALIZER_TELEMETRY);
    const wants = this.deps.hooks.holdsJob({ ...job, status }, trackedPods);
    if (has === wants) return;
    const next = wants
      ? [...finalizers, FINALIZER_TELEMETRY]
      : finalizers.filter((f) => f !== FINALIZER_TELEMETRY);
    try {
      const patched = await patchJobMetadata(
        this.deps.jobsApi,
        {
          namespace: job.metadata.namespace!,
          name: job.metadata.name!,
          resourceVersion: job.metadata.resourceVersion,
        },
        { finalizers: next },
      );
      job.metadata.finalizers = next;
      if (!this.versionsBefore.has(job)) this.versionsBefore.set(job, job.metadata.resourceVersion!);
      job.metadata.resourceVersion = patched.metadata.resourceVersion;
    } catch (err) {
      if (isNotFound(err) && !wants) return; // gone: nothing left to hold
      throw err;
    }
    log.debug(
      { finalizer: FINALIZER_TELEMETRY, added: wants },
      wants ? 'telemetry finalizer added' : 'telemetry finalizer removed',
    );
  }

  /**
   * How long to wait for the cache to show this job's last status write (0: go ahead). The cache only moves
   * forward: once it no longer holds the version that write replaced, it shows the write or something newer.
   */
  private statusCacheWaitMs(key: string, cached: MapReduceJob): number {
    const written = this.statusWrites.get(key);
    if (written && written.replacedRVs.includes(cached.metadata.resourceVersion!)) {
      const waited = this.deps.clock().getTime() - written.at;
      if (waited < STATUS_CACHE_WAIT_MS) return STATUS_CACHE_WAIT_MS - waited;
    }
    if (written) written.replacedRVs = [];
    return 0;
  }

  /**
   * A finished job: its spans handed over (again, after a restart) until they are settled, its leftover pods
   * released as their spans settle, and the job deleted once its TTL has passed.
   */
  private async syncFinished(
    key: string,
    job: MapReduceJob,
    pods: V1Pod[],
    now: Date,
    log: Logger,
  ): Promise<number | undefined> {
    const { hooks } = this.deps;
    // A finished job reads its items no more: its snapshot leaves memory (it stays in its ConfigMaps).
    this.deps.items.forget(job.metadata.uid!);
    const remaining = ttlRemainingMs(job, now);
    if (remaining !== undefined && remaining <= 0) {
      await deleteFinishedJob(this.deps.jobsApi, job, log);
      return undefined;
    }
    // A spec edit after the end (say, a new TTL) is observed, or GitOps tools would wait on it forever; and
    // telemetry's news (spans delivered or dropped) is recorded.
    const record = this.quietRecord(job);
    hooks.decorateStatus(record);
    let hold = new Set<V1Pod>();
    let released = 0;
    if (pods.length > 0) {
      const state = computeJobState({
        job,
        totalItems: job.status?.totalItems ?? 0,
        itemId: String,
        pods,
        now,
        options: this.options,
      });
      hold = hooks.unsettled(job, [...state.delete, ...state.release]);
      const managed = await managePods(
        this.deps.podApi,
        this.deps.expectations,
        key,
        {
          create: [],
          delete: state.delete,
          release: state.release,
          hold,
          cancelledAt: job.status?.completionTime,
          background: this.deps.releaser,
        },
        log,
      );
      hooks.released(managed.released);
      released = managed.released.length;
    }
    await this.commit(record, log);
    const again = hooks.deliver({ ...job, status: record.status }, [...hold]);
    await this.syncJobFinalizer(job, record.status, pods.filter(isTracked).length - released, log);
    return earliest(remaining, again);
  }

  /**
   * The namespace's pods of this job name, from the pod index: those the live job (uid) controls, and the
   * strays — still tracked but controlled by no live job of that name (an earlier
   * job's of the same name, or orphaned by a deletion with propagationPolicy=Orphan).
   */
  private podsOf(
    namespace: string,
    name: string,
    liveUid: string | undefined,
  ): { owned: V1Pod[]; strays: V1Pod[] } {
    const owned: V1Pod[] = [];
    const strays: V1Pod[] = [];
    for (const p of this.deps.podIndex.get(namespace, name)) {
      const controller = controllingJob(p);
      if (liveUid !== undefined && controller?.uid === liveUid) owned.push(p);
      else if (p.metadata?.labels?.[LABEL_JOB_NAME] === name && isTracked(p)) strays.push(p);
    }
    return { owned, strays };
  }

  /** Strays lose the tracking finalizer and nothing else: they are not this job's to delete. */
  private async releaseStrays(key: string, strays: V1Pod[], log: Logger): Promise<void> {
    if (strays.length === 0) return;
    log.info({ pods: strays.length }, 'releasing pods no live job of this name controls');
    await managePods(
      this.deps.podApi,
      this.deps.expectations,
      key,
      { create: [], delete: [], release: strays },
      log,
    );
  }

  /**
   * The job's items: from its snapshot, or resolved from its input and snapshotted on first sight (a re-run's
   * from the earlier job's snapshot, with what it took from that job to record).
   */
  private async itemsOf(
    job: MapReduceJob,
    log: Logger,
  ): Promise<{ items: StoredItem[]; fromJob?: FromJobStatus }> {
    if (job.status?.totalItems !== undefined) {
      const stored = await this.deps.items.read(job);
      if (stored.length !== job.status.totalItems) {
        throw new InputError(
          'InputInvalid',
          `the job's input snapshot (ConfigMaps labelled ${LABEL_JOB_NAME}=${job.metadata.name}) has ${stored.length} items, expected ${job.status.totalItems}; were they deleted?`,
        );
      }
      return { items: stored };
    }
    if (job.spec.input.fromJob) {
      const rerun = await loadRerunInput(this.deps.core, this.deps.jobs, job);
      log.info(
        { items: rerun.items.length, from: rerun.fromJob.name },
        'failed items of the earlier job taken; writing the input snapshot',
      );
      return { items: await this.deps.items.write(job, rerun.items), fromJob: rerun.fromJob };
    }
    const resolved = await loadInput(this.deps.core, job, this.deps.resolveInput);
    log.info({ items: resolved.length }, 'input resolved; writing the input snapshot');
    return { items: await this.deps.items.write(job, resolved) };
  }

  private buildPod(job: MapReduceJob, target: PodToCreate, items: StoredItem[], state: JobState): V1Pod {
    const decorations = this.deps.hooks.decoratePod(job, state.status, target);
    if (target.phase === PHASE_MAP) {
      const item = itemAt(items, target.index)!;
      return buildAgentPod({
        job,
        index: target.index,
        id: item.id,
        itemJSON: item.json,
        attempt: target.attempt,
        itemsConfigMap: item.shard,
        extraEnv: decorations.env,
        extraAnnotations: decorations.annotations,
      });
    }
    // A merged re-run's reduce reads the earlier jobs' results too, as if one job had run every item.
    const merged = job.spec.input.fromJob?.mergeResults === true;
    const fromJob = state.status.fromJob;
    return buildReducePod({
      job,
      attempt: target.attempt,
      totalItems: merged && fromJob ? fromJob.indexSpace : items.length,
      succeededItems: (state.status.succeededItems ?? 0) + (merged ? carriedCount(fromJob) : 0),
      failedItems: state.status.failedItems ?? 0,
      resultsConfigMaps: [
        ...(merged ? carriedPieceNames(fromJob) : []),
        ...resultPieceNames(job.metadata.name!, state.status.resultPieces),
      ],
      extraEnv: decorations.env,
      extraAnnotations: decorations.annotations,
    });
  }

  /**
   * A permanent error: the job fails with a stable reason, a condition and an Event. `from` is what this
   * reconcile had already computed and recorded (results stored, spans handed over), kept in the status.
   */
  private async failJob(
    job: MapReduceJob,
    reason: string,
    message: string,
    now: Date,
    log: Logger,
    from?: ReconcileRecord,
  ): Promise<void> {
    log.warn({ reason }, message);
    const base = from?.status ?? job.status ?? {};
    const status: MapReduceJobStatus = {
      ...base,
      phase: 'Failed',
      observedGeneration: job.metadata.generation,
      completionTime: now.toISOString(),
      conditions: setCondition(base.conditions ?? [], 'Failed', 'True', reason, message, now),
      ...(from ? { activeItems: 0 } : {}), // its running pods are deleted with the job's end
    };
    setReadiness(status, now);
    const events: JobEvent[] = [...(from?.events ?? []), { type: 'Warning', reason, message }];
    const record: ReconcileRecord = {
      job,
      status,
      finished: from?.finished ?? [],
      itemId: from?.itemId ?? (() => undefined),
      now,
      events,
    };
    if (!from) this.deps.hooks.decorateStatus(record); // a record's status was decorated already
    await this.commit(record, log);
    this.deps.hooks.deliver({ ...job, status }, []);
  }

  /** The end of every reconcile that records something: the one status write, then its hooks and Events. */
  private async commit(record: ReconcileRecord, log: Logger): Promise<void> {
    await this.writeStatus(record.job, record.status, log);
    this.deps.hooks.statusWritten(record);
    for (const event of record.events) await this.deps.events.record(record.job, event);
  }

  /** One status write per reconcile, with the resourceVersion read: a conflict means the cache was stale. */
  private async writeStatus(job: MapReduceJob, status: MapReduceJobStatus, log: Logger): Promise<void> {
    if (isDeepStrictEqual(job.status ?? {}, status)) return;
    const updated = (await this.deps.jobsApi.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: job.metadata.namespace!,
      plural: PLURAL,
      name: job.metadata.name!,
      // Only what the status subresource reads: the API server keeps the rest as it is. (The spec's items
      // may nest deeper than JSON.stringify can go; such a job is failed through here, see copyJob.)
      body: { apiVersion: job.apiVersion, kind: job.kind, metadata: job.metadata, status },
    })) as MapReduceJob;
    const key = jobKey(job.metadata.namespace!, job.metadata.name!);
    const before = this.versionsBefore.get(job);
    this.statusWrites.set(key, {
      replacedRVs:
        updated.metadata.resourceVersion !== job.metadata.resourceVersion
          ? [job.metadata.resourceVersion!, ...(before ? [before] : [])]
          : (this.statusWrites.get(key)?.replacedRVs ?? []),
      at: this.deps.clock().getTime(),
    });
    // A later patch in this reconcile (the telemetry finalizer) goes on from the written version.
    job.metadata.resourceVersion = updated.metadata.resourceVersion;
    if (job.status?.phase !== status.phase)
      log.info({ phase: status.phase, previous: job.status?.phase }, 'job phase changed');
  }
}

/** The stored item of an index: at its place in a job's own 0..n-1 items, else searched (a re-run's). */
function itemAt(items: StoredItem[], index: number): StoredItem | undefined {
  if (items[index]?.index === index) return items[index];
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.index < index) lo = mid + 1;
    else hi = mid;
  }
  return items[lo]?.index === index ? items[lo] : undefined;
}

/** The sooner of two delays; undefined when neither is set. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * A cached job to work on. A reconcile changes its metadata (the written resourceVersion, the telemetry
 * finalizer) and builds a new status from its status, so those two are copied; the spec is shared, never
 * changed (pods are built from copies of its templates; the unit harness hands out deep-frozen jobs to prove
 * it). Copying the whole job was 15% of syncJob's CPU in a --cpu-prof of a 500-item job, and an inline
 * item nested thousands of levels deep (the API server takes 10,000) would overflow structuredClone's stack.
 */
function copyJob(cached: MapReduceJob): MapReduceJob {
  const copy: MapReduceJob = { ...cached, metadata: structuredClone(cached.metadata) };
  if (cached.status !== undefined) copy.status = structuredClone(cached.status);
  return copy;
}
