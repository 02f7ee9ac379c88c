// The real Controller around one job, with a recording client, plain-list caches and a settable clock.
// `sync()` runs one syncJob as it is; `reconcile(now, pods)` plays the cluster's part between reconciles
// (pods appear, the cache catches up with the status write and the deletions), so telemetry tests go
// through the controller's own order of hooks rather than a copy of it.
import { LABEL_JOB_NAME, LABEL_STORE } from '../../src/api/constants.js';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { MapReduceJob, MapReduceJobStatus } from '../../src/api/types.js';
import { Controller } from '../../src/controller/controller.js';
import { KubernetesEventRecorder } from '../../src/controller/events.js';
import { Expectations } from '../../src/controller/expectations.js';
import type { ControllerHooks } from '../../src/controller/hooks.js';
import { noopHooks } from '../../src/controller/hooks.js';
import { ANNOTATION_TOTAL_ITEMS, ItemStore, shardItems } from '../../src/controller/itemstore.js';
import { BackgroundReleaser } from '../../src/controller/managepods.js';
import type { ControllerOptions } from '../../src/controller/jobstate.js';
import { jobNamesOf, ownerReference } from '../../src/controller/ownership.js';
import { ResultStore } from '../../src/controller/resultstore.js';
import { resolveItems } from '../../src/input/resolve.js';
import type { JobBuilder } from './jobbuilder.js';
import { at } from './podstates.js';
import { FrozenCopyCache, ListCache, RecordingClient } from './recording.js';

export const HARNESS_OPTIONS: ControllerOptions = {
  keepFailedPods: 1,
  retryBackoffBaseMs: 1000,
  retryBackoffMaxMs: 8000,
};
export const HARNESS_UID = 'uid-1';

export class ControllerHarness {
  readonly client = new RecordingClient();
  /** Deep-frozen copies: the controller must not write into a cached job. */
  readonly jobs = new FrozenCopyCache<MapReduceJob>();
  readonly pods = new ListCache<V1Pod>();
  readonly expectations: Expectations;
  readonly items: ItemStore;
  readonly controller: Controller;
  readonly releaser: BackgroundReleaser;
  readonly job: MapReduceJob;
  readonly key: string;
  now: Date;
  private podVersion = 100;

  constructor(
    builder: JobBuilder,
    options: {
      /** Hooks, given the client so they can write into its call log. */
      hooks?: (client: RecordingClient) => ControllerHooks;
      status?: MapReduceJobStatus;
      now?: Date;
      controller?: ControllerOptions;
    } = {},
  ) {
    this.now = options.now ?? at(0);
    this.job = builder.obj();
    this.job.metadata = {
      ...this.job.metadata,
      namespace: 'ns',
      uid: HARNESS_UID,
      generation: 1,
      resourceVersion: '7',
    };
    if (options.status) this.job.status = options.status;
    this.key = `ns/${this.job.metadata.name}`;
    this.jobs.items = [this.job];
    this.expectations = new Expectations(() => this.now.getTime());
    this.items = new ItemStore(this.client);
    const silent = pino({ level: 'silent' });
    const hooks = options.hooks?.(this.client) ?? noopHooks;
    this.releaser = new BackgroundReleaser(this.client, silent, {
      onReleased: (p) => hooks.released(p),
    });
    this.controller = new Controller(
      {
        core: this.client,
        podApi: this.client,
        releaser: this.releaser,
        jobsApi: this.client,
        jobs: this.jobs,
        // The pod index as the wiring's CacheIndex answers it, over the plain list.
        podIndex: { get: (ns, value) => this.pods.list(ns).filter((p) => jobNamesOf(p).includes(value)) },
        items: this.items,
        results: new ResultStore(this.client, this.client),
        expectations: this.expectations,
        events: new KubernetesEventRecorder(this.client, silent, 'test', () => this.now),
        hooks,
        clock: () => this.now,
        log: silent,
      },
      options.controller ?? HARNESS_OPTIONS,
    );
  }

  /** The job's input snapshot, as an earlier reconcile stored it. */
  withSnapshot(): this {
    const name = this.job.metadata.name!;
    const items = resolveItems(this.job.spec.input);
    this.client.configMaps.push(
      ...shardItems(name, items).map((s): V1ConfigMap => ({
        metadata: {
          name: s.name,
          namespace: 'ns',
          labels: { [LABEL_JOB_NAME]: name, [LABEL_STORE]: 'items' },
          annotations: { [ANNOTATION_TOTAL_ITEMS]: String(items.length) },
          ownerReferences: [ownerReference(this.job)],
        },
        data: s.data,
      })),
    );
    return this;
  }

  /**
   * Puts pods into the cache, owned by the job; a pod replaces the cached one of the same name. Each gets a new
   * resourceVersion, as each change the API server stores does.
   */
  withPods(pods: V1Pod[]): this {
    for (const pod of pods) {
      pod.metadata!.ownerReferences = [ownerReference(this.job)];
      pod.metadata!.resourceVersion = String(++this.podVersion);
      this.pods.items = [...this.pods.items.filter((p) => p.metadata?.name !== pod.metadata?.name), pod];
    }
    return this;
  }

  /** One syncJob, exactly as the work loop calls it; then the pod removals it handed over, done. */
  async sync(): Promise<number | undefined> {
    const again = await this.controller.syncJob(this.key);
    await this.releaser.idle();
    return again;
  }

  /**
   * At `now`, with these pods now in the cache: the cache has caught up with every earlier create and
   * delete, one syncJob runs, and the cache then shows its status write and its deletions.
   */
  async reconcile(now: Date, pods: V1Pod[] = []): Promise<number | undefined> {
    this.now = now;
    this.withPods(pods);
    this.expectations.forget(this.key);
    const writes = this.client.statusWrites.length;
    const deletes = this.client.deletedPods.length;
    const result = await this.sync();
    const written = this.client.statusWrites[writes];
    if (written) {
      this.job.status = written.status;
      this.job.metadata.resourceVersion = written.metadata.resourceVersion;
    }
    const deleted = new Set(this.client.deletedPods.slice(deletes));
    this.pods.items = this.pods.items.filter((p) => !deleted.has(p.metadata!.name!));
    return result;
  }

  /** Event reasons recorded so far, in order. */
  eventReasons(): string[] {
    return this.client.events.map((e) => e.reason);
  }

  /** A created pod's env (fieldRefs as "fieldRef:PATH") and annotations. */
  created(): { env: Record<string, string>; annotations: Record<string, string> }[] {
    return this.client.createdPods.map((p) => ({
      env: Object.fromEntries(
        (p.spec?.containers[0]?.env ?? []).map((e) => [
          e.name,
          e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`,
        ]),
      ),
      annotations: p.metadata?.annotations ?? {},
    }));
  }
}
