// The MapReduceJob controller: informers feed a work queue of job keys; syncJob reconciles one job:
// compute what is true (computeJobState), change pods (managePods), write status once.
import { isDeepStrictEqual } from 'node:util';
import { ApiException, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { LABEL_JOB_NAME, PHASE_MAP, Reason } from '../api/constants.js';
import { API_VERSION, GROUP, PLURAL, VERSION } from '../api/types.js';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import { InputError } from '../input/resolve.js';
import { setCondition } from './conditions.js';
import type { EventRecorder } from './events.js';
import { Expectations } from './expectations.js';
import type {
  ControllerGauges,
  ControllerHooks,
  JobGauge,
  ReconcileOutcome,
  ReconcileRecord,
} from './hooks.js';
import { noopHooks } from './hooks.js';
import { ResilientInformer } from './informer.js';
import { loadInput } from './inputloader.js';
import { ItemStore, ItemTooLargeError } from './itemstore.js';
import type { StoredItem } from './itemstore.js';
import { computeJobState } from './jobstate.js';
import type { ControllerOptions, JobEvent, JobState, PodToCreate } from './jobstate.js';
import { managePods } from './managepods.js';
import { parseIndexRanges } from './indexranges.js';
import { observePod } from './podobservation.js';
import { buildAgentPod, buildReducePod } from './podbuilder.js';
import { ResultStore, resultsShardNames } from './resultstore.js';
import { WorkQueue } from './workqueue.js';

/** How long a reconcile waits for the cache to show its own status write before going ahead anyway. */
export const STATUS_CACHE_WAIT_MS = 10_000;

export interface ControllerConfig extends ControllerOptions {
  /** Namespace to watch; undefined for all namespaces. */
  namespace?: string;
  concurrency: number;
}

export function jobKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

export class Controller {
  readonly queue = new WorkQueue();
  readonly expectations = new Expectations();
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly jobs: ResilientInformer<MapReduceJob>;
  private readonly pods: ResilientInformer<V1Pod>;
  private readonly items: ItemStore;
  private readonly results: ResultStore;
  /** Status writes the job cache may not show yet: key -> the resourceVersion the write replaced, and when. */
  private readonly statusWrites = new Map<string, { replacedRV: string; at: number }>();
  private stopping = false;
  private workers: Promise<void>[] = [];

  constructor(
    kc: KubeConfig,
    private readonly config: ControllerConfig,
    private readonly log: Logger,
    private readonly events: EventRecorder,
    private readonly hooks: ControllerHooks = noopHooks,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.items = new ItemStore(this.core);
    this.results = new ResultStore(this.core);
    const ns = config.namespace;
    const jobsPath = ns
      ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`
      : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    this.jobs = new ResilientInformer<MapReduceJob>(
      kc,
      jobsPath,
      () =>
        (ns
          ? this.custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural: PLURAL,
            })
          : this.custom.listClusterCustomObject({
              group: GROUP,
              version: VERSION,
              plural: PLURAL,
            })) as Promise<KubernetesListObject<MapReduceJob>>,
      log,
    );
    const podsPath = ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods';
    this.pods = new ResilientInformer<V1Pod>(
      kc,
      podsPath,
      () =>
        ns
          ? this.core.listNamespacedPod({ namespace: ns, labelSelector: LABEL_JOB_NAME })
          : this.core.listPodForAllNamespaces({ labelSelector: LABEL_JOB_NAME }),
      log,
      LABEL_JOB_NAME,
    );
    this.jobs.on('add', (job) => this.enqueueJob(job));
    this.jobs.on('update', (job) => this.enqueueJob(job));
    this.jobs.on('delete', (job) => {
      const key = jobKey(job.metadata.namespace!, job.metadata.name!);
      this.expectations.forget(key);
      this.statusWrites.delete(key);
      this.items.forget(job.metadata.uid!);
    });
    this.pods.on('add', (pod) => this.podEvent(pod, 'add'));
    this.pods.on('update', (pod) => this.podEvent(pod, 'update'));
    this.pods.on('delete', (pod) => this.podEvent(pod, 'delete'));
  }

  private enqueueJob(job: MapReduceJob): void {
    this.queue.add(jobKey(job.metadata.namespace!, job.metadata.name!));
  }

  private podEvent(pod: V1Pod, verb: 'add' | 'update' | 'delete'): void {
    const owner = pod.metadata?.ownerReferences?.find((o) => o.controller && o.apiVersion === API_VERSION);
    if (!owner) return;
    const key = jobKey(pod.metadata!.namespace!, owner.name);
    if (verb === 'add') this.expectations.observedCreate(key, pod.metadata!.name!);
    if (verb === 'delete') this.expectations.observedDelete(key, pod.metadata!.name!);
    this.queue.add(key);
  }

  /** Starts the informers (resolving once their caches are filled) and the workers. */
  async start(): Promise<void> {
    await Promise.all([this.jobs.start(), this.pods.start()]);
    this.log.info(
      { namespace: this.config.namespace ?? '(all)', concurrency: this.config.concurrency },
      'controller started',
    );
    for (let i = 0; i < this.config.concurrency; i++) this.workers.push(this.worker());
  }

  /** Stops taking work and waits for in-flight reconciles to finish their writes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.shutdown();
    await Promise.all(this.workers);
    await Promise.all([this.jobs.stop(), this.pods.stop()]);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined || this.stopping) return;
      const waitedMs = this.queue.waitedMs(key);
      const started = performance.now();
      let result: ReconcileOutcome['result'] = 'success';
      try {
        const requeueAfterMs = await this.syncJob(key);
        this.queue.forget(key);
        if (requeueAfterMs !== undefined) {
          result = 'requeue';
          this.queue.addAfter(key, requeueAfterMs);
        }
      } catch (err) {
        result = 'error';
        const conflict = err instanceof ApiException && err.code === 409;
        this.log[conflict ? 'debug' : 'error']({ err, job: key }, 'reconcile failed; retrying');
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
        this.hooks.reconciled({ result, durationMs: performance.now() - started, waitedMs });
      }
    }
  }

  /** Reconciles one job. Returns when to look again, if time alone can change something. */
  async syncJob(key: string): Promise<number | undefined> {
    const [namespace, name] = splitKey(key);
    const cached = this.jobs.get(name, namespace);
    const log = this.log.child({ job: key, ...(cached ? this.hooks.logFields(cached) : {}) });
    if (!cached) {
      log.debug('job is gone; its pods and ConfigMaps go with it (owner references)');
      return undefined;
    }
    if (!this.expectations.satisfied(key)) {
      log.debug('waiting for the cache to show this job’s pod creations and deletions');
      return undefined;
    }
    // The cache only moves forward: once it no longer holds the version our last write replaced, it
    // shows that write (or something newer).
    const written = this.statusWrites.get(key);
    if (written && cached.metadata.resourceVersion === written.replacedRV) {
      const waited = this.clock().getTime() - written.at;
      if (waited < STATUS_CACHE_WAIT_MS) {
        log.debug('waiting for the cache to show the last status write');
        return STATUS_CACHE_WAIT_MS - waited;
      }
    }
    this.statusWrites.delete(key);
    const job = structuredClone(cached);
    const now = this.clock();

    if (job.status?.phase === 'Succeeded' || job.status?.phase === 'Failed') {
      const ttl = await this.handleTTL(job, now, log);
      if (ttl === 'deleted') return undefined;
      const pods = this.ownedPods(job);
      if (pods.length > 0) {
        const state = computeJobState({
          job,
          totalItems: job.status.totalItems ?? 0,
          itemId: String,
          pods,
          now,
          options: this.config,
        });
        await managePods(this.core, this.expectations, key, { create: [], delete: state.delete }, log);
      }
      return ttl;
    }

    let items: StoredItem[];
    try {
      items = await this.itemsOf(job, log);
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
      itemId: (i) => items[i]?.id ?? String(i),
      pods: this.ownedPods(job),
      now,
      options: this.config,
    });
    const record: ReconcileRecord = {
      job,
      status: state.status,
      finished: state.finishedAttempts,
      itemId: (i) => items[i]?.id,
      now,
      events: state.events,
    };
    this.hooks.decorateStatus(record);

    // Results are stored before the status that counts them, so a crash in between loses nothing.
    await this.results.record(job, state.newResults);
    const podsToCreate = state.create.map((target) => this.buildPod(job, target, items, state));
    // Spans of what this reconcile records are accepted before any pod goes and before the status says so.
    await this.hooks.recordFinished(record);
    const managed = await managePods(
      this.core,
      this.expectations,
      key,
      { create: podsToCreate, delete: state.delete },
      log,
    );
    if (managed.createError) {
      state.events.push({
        type: 'Warning',
        reason: Reason.PodCreateFailed,
        message: `could not create pod: ${managed.createError.message}`,
      });
    }
    this.hooks.attemptsStarted(
      job,
      state.create.filter((_, i) =>
        managed.created.some((p) => p.metadata?.name === podsToCreate[i]?.metadata?.name),
      ),
    );

    await this.commit(record, log);
    if (state.finished && job.spec.ttlSecondsAfterFinished !== undefined)
      return job.spec.ttlSecondsAfterFinished * 1000;
    if (managed.createError) throw managed.createError;
    return state.requeueAfterMs;
  }

  /** Current values for the gauges, from the caches alone (so they are right after a restart). */
  gauges(): ControllerGauges {
    // One pass over the pod cache, grouped by owning job: a scrape must not cost jobs × pods.
    const podsByOwner = new Map<string, V1Pod[]>();
    for (const pod of this.pods.list()) {
      const owner = pod.metadata?.ownerReferences?.find((o) => o.controller)?.uid;
      if (!owner) continue;
      const list = podsByOwner.get(owner) ?? [];
      list.push(pod);
      podsByOwner.set(owner, list);
    }
    const jobs: JobGauge[] = [];
    for (const job of this.jobs.list()) {
      const status = job.status ?? {};
      if (status.totalItems === undefined) continue; // not started: nothing to report yet
      const completed = parseIndexRanges(status.completedIndexes ?? '');
      const failed = parseIndexRanges(status.failedIndexes ?? '');
      let active = 0;
      const started = new Set<number>();
      for (const pod of podsByOwner.get(job.metadata.uid!) ?? []) {
        const o = observePod(pod);
        if (!o) continue;
        if (o.state === 'active') active++;
        if (o.phase === PHASE_MAP && !completed.has(o.index) && !failed.has(o.index)) started.add(o.index);
      }
      // A finished job reports 0 until it is deleted, so its series falls to 0 rather than going stale.
      const mapping =
        status.phase !== 'Reducing' && status.phase !== 'Succeeded' && status.phase !== 'Failed';
      const pending = mapping
        ? Math.max(0, status.totalItems - completed.size - failed.size - started.size)
        : 0;
      jobs.push({ namespace: job.metadata.namespace!, name: job.metadata.name!, active, pending });
    }
    return { jobs, workQueueDepth: this.queue.length };
  }

  private ownedPods(job: MapReduceJob): V1Pod[] {
    return this.pods
      .list(job.metadata.namespace)
      .filter((p) => p.metadata?.ownerReferences?.some((o) => o.controller && o.uid === job.metadata.uid));
  }

  /** The job's items: from its snapshot, or resolved from its input and snapshotted on first sight. */
  private async itemsOf(job: MapReduceJob, log: Logger): Promise<StoredItem[]> {
    if (job.status?.totalItems !== undefined) {
      const stored = await this.items.read(job);
      if (stored.length !== job.status.totalItems) {
        throw new InputError(
          'InputInvalid',
          `the job's input snapshot (ConfigMaps labelled ${LABEL_JOB_NAME}=${job.metadata.name}) has ${stored.length} items, expected ${job.status.totalItems}; were they deleted?`,
        );
      }
      return stored;
    }
    const resolved = await loadInput(this.core, job);
    log.info({ items: resolved.length }, 'input resolved; writing the input snapshot');
    return this.items.write(job, resolved);
  }

  private buildPod(job: MapReduceJob, target: PodToCreate, items: StoredItem[], state: JobState): V1Pod {
    const decorations = this.hooks.decoratePod(job, state.status, target);
    if (target.phase === PHASE_MAP) {
      const item = items[target.index]!;
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
    return buildReducePod({
      job,
      attempt: target.attempt,
      totalItems: items.length,
      succeededItems: state.status.succeededItems ?? 0,
      failedItems: state.status.failedItems ?? 0,
      resultsConfigMaps: resultsShardNames(job.metadata.name!, items.length),
      extraEnv: decorations.env,
      extraAnnotations: decorations.annotations,
    });
  }

  private async failJob(
    job: MapReduceJob,
    reason: string,
    message: string,
    now: Date,
    log: Logger,
  ): Promise<void> {
    log.warn({ reason }, message);
    const status: MapReduceJobStatus = {
      ...(job.status ?? {}),
      phase: 'Failed',
      observedGeneration: job.metadata.generation,
      completionTime: now.toISOString(),
      conditions: setCondition(job.status?.conditions ?? [], 'Failed', 'True', reason, message, now),
    };
    const events: JobEvent[] = [{ type: 'Warning', reason, message }];
    const record: ReconcileRecord = { job, status, finished: [], itemId: () => undefined, now, events };
    this.hooks.decorateStatus(record);
    await this.hooks.recordFinished(record);
    await this.commit(record, log);
  }

  /** The end of every reconcile that records something: the one status write, then its hooks and Events. */
  private async commit(record: ReconcileRecord, log: Logger): Promise<void> {
    await this.writeStatus(record.job, record.status, log);
    this.hooks.statusWritten(record);
    for (const event of record.events) await this.events.record(record.job, event);
  }

  /** One status write per reconcile, with the resourceVersion read: a conflict means the cache was stale. */
  private async writeStatus(job: MapReduceJob, status: MapReduceJobStatus, log: Logger): Promise<void> {
    if (isDeepStrictEqual(job.status ?? {}, status)) return;
    const updated = (await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: job.metadata.namespace!,
      plural: PLURAL,
      name: job.metadata.name!,
      body: { ...job, status },
    })) as MapReduceJob;
    const key = jobKey(job.metadata.namespace!, job.metadata.name!);
    if (updated.metadata.resourceVersion !== job.metadata.resourceVersion) {
      this.statusWrites.set(key, { replacedRV: job.metadata.resourceVersion!, at: this.clock().getTime() });
    }
    if (job.status?.phase !== status.phase)
      log.info({ phase: status.phase, previous: job.status?.phase }, 'job phase changed');
  }

  /** Deletes a finished job once ttlSecondsAfterFinished has passed; otherwise says when to look again. */
  private async handleTTL(
    job: MapReduceJob,
    now: Date,
    log: Logger,
  ): Promise<number | 'deleted' | undefined> {
    const ttl = job.spec.ttlSecondsAfterFinished;
    const finishedAt = job.status?.completionTime;
    if (ttl === undefined || finishedAt === undefined) return undefined;
    const remaining = Date.parse(finishedAt) + ttl * 1000 - now.getTime();
    if (remaining > 0) return remaining;
    log.info({ ttlSecondsAfterFinished: ttl }, 'deleting finished job: its TTL has passed');
    try {
      await this.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: job.metadata.namespace!,
        plural: PLURAL,
        name: job.metadata.name!,
        propagationPolicy: 'Background',
        body: { preconditions: { uid: job.metadata.uid } },
      });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    }
    return 'deleted';
  }

  /** Depth of the work queue, for metrics. */
  get queueDepth(): number {
    return this.queue.length;
  }
}
