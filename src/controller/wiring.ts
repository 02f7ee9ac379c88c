// The factory: real API clients and informers wired to the controller and its work loop. Telemetry hooks
// are made from the caches (the gauges read them), so nothing needs the controller before it exists.
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { LABEL_JOB_NAME } from '../api/constants.js';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import { resolveInChild } from '../input/isolated.js';
import type { MapReduceJob } from '../api/types.js';
import { CacheIndex } from './cacheindex.js';
import type { ObjectCache } from './clients.js';
import { Controller } from './controller.js';
import type { EventRecorder } from './events.js';
import { Expectations } from './expectations.js';
import type { ControllerHooks } from './hooks.js';
import { ResilientInformer } from './informer.js';
import type { Informer } from './informer.js';
import { ItemStore } from './itemstore.js';
import { MultiNamespaceInformer } from './multinamespace.js';
import { BackgroundReleaser } from './managepods.js';
import { jobKey } from './naming.js';
import { controllingJob, jobNamesOf } from './ownership.js';
import { PodApi } from './podapi.js';
import type { ControllerOptions } from './jobstate.js';
import { transformJob, transformPod } from './podtransform.js';
import { ResultStore } from './resultstore.js';
import { WorkLoop } from './workloop.js';
import { WorkQueue } from './workqueue.js';

export interface ControllerConfig extends ControllerOptions {
  /** Namespaces to watch, one informer pair each; empty for all namespaces (one cluster-wide pair). */
  namespaces: readonly string[];
  concurrency: number;
}

/** What telemetry may read (the gauges): the caches and the queue; and how it releases pods it held. */
export interface ControllerView {
  jobs: ObjectCache<MapReduceJob>;
  pods: ObjectCache<V1Pod>;
  queue: WorkQueue;
  /** Removes the tracking finalizer of pods whose record is complete (BackgroundReleaser). */
  releasePods: (pods: readonly V1Pod[]) => Promise<V1Pod[]>;
}

export interface RunningController {
  /**
   * Starts the informers, resolving once their caches are filled. A standby replica does this too, so its
   * caches are warm when it takes over; the events they see wait in the queue until the workers start.
   */
  startCaches(): Promise<void>;
  /** Starts the workers (the leader only). */
  startWorkers(): void;
  /** Why the work loop is wedged (for /healthz), or undefined while it works. */
  wedged(): string | undefined;
  /** Stops taking work, waits for in-flight reconciles and pod removals (queued ones are dropped), stops the informers. */
  stop(): Promise<void>;
}

/** One informer for all namespaces, one for a single namespace, or one per namespace behind one cache. */
function watching<T>(
  namespaces: readonly string[],
  make: (ns: string | undefined) => Informer<T>,
): Informer<T> {
  if (namespaces.length === 0) return make(undefined);
  if (namespaces.length === 1) return make(namespaces[0]);
  return new MultiNamespaceInformer(new Map(namespaces.map((ns) => [ns, make(ns)])));
}

export function createController(
  kc: KubeConfig,
  config: ControllerConfig,
  log: Logger,
  events: (core: CoreV1Api) => EventRecorder,
  makeHooks: (view: ControllerView) => ControllerHooks,
): RunningController {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const jobsIn = (ns: string | undefined): ResilientInformer<MapReduceJob> =>
    new ResilientInformer<MapReduceJob>(
      kc,
      ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      () =>
        (ns
          ? custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural: PLURAL,
            })
          : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as Promise<
          KubernetesListObject<MapReduceJob>
        >,
      log,
      { transform: transformJob },
    );
  const podsIn = (ns: string | undefined): ResilientInformer<V1Pod> =>
    new ResilientInformer<V1Pod>(
      kc,
      ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
      () =>
        ns
          ? core.listNamespacedPod({ namespace: ns, labelSelector: LABEL_JOB_NAME })
          : core.listPodForAllNamespaces({ labelSelector: LABEL_JOB_NAME }),
      log,
      { labelSelector: LABEL_JOB_NAME, transform: transformPod },
    );
  const jobs = watching(config.namespaces, jobsIn);
  const pods = watching(config.namespaces, podsIn);
  // Attached before every other pod handler: a reconcile enqueued by one reads its job's pods from it.
  const podIndex = new CacheIndex<V1Pod>(jobNamesOf).attach(pods);
  const watched = config.namespaces.length > 0 ? config.namespaces.join(',') : '(all)';
  const queue = new WorkQueue();
  const podApi = new PodApi(kc);
  // Pods it releases while removing them are told to the hooks (made next: they release through it too); a pod
  // whose removal failed has its job reconciled again after the backoff, to hand it over again.
  const releaser = new BackgroundReleaser(podApi, log.child({ component: 'releaser' }), {
    onReleased: (p) => hooks.released(p),
    onRetry: (pod, afterMs) => {
      const job = controllingJob(pod);
      if (job) queue.addAfter(jobKey(pod.metadata!.namespace!, job.name), afterMs);
    },
  });
  const hooks = makeHooks({ jobs, pods, queue, releasePods: (p) => releaser.release(p) });
  const controller = new Controller(
    {
      core,
      podApi,
      releaser,
      jobsApi: custom,
      jobs,
      podIndex,
      items: new ItemStore(core),
      results: new ResultStore(core, custom),
      expectations: new Expectations(),
      events: events(core),
      hooks,
      clock: () => new Date(),
      log,
      resolveInput: (input, text) => resolveInChild(input, text),
    },
    config,
  );
  const enqueue = (key: string | undefined): void => {
    if (key !== undefined) queue.add(key);
  };
  jobs.on('add', (job) => enqueue(controller.jobChanged(job)));
  jobs.on('update', (job) => enqueue(controller.jobChanged(job)));
  jobs.on('delete', (job) => controller.jobDeleted(job));
  for (const verb of ['add', 'update', 'delete'] as const)
    pods.on(verb, (pod) => enqueue(controller.podChanged(pod, verb)));
  const loop = new WorkLoop(queue, (key) => controller.syncJob(key), hooks, log);

  return {
    async startCaches() {
      await Promise.all([jobs.start(), pods.start()]);
      log.info({ namespace: watched }, 'caches synced');
    },
    startWorkers() {
      log.info({ namespace: watched, concurrency: config.concurrency }, 'controller started');
      loop.start(config.concurrency);
    },
    wedged: () => loop.wedged(),
    async stop() {
      await loop.stop();
      await releaser.stop();
      await Promise.all([jobs.stop(), pods.stop()]);
    },
  };
}
