// A recording API client and recording hooks for the controller's unit tests, as the Job controller's tests
// inject a fake clientset: every call is written to one shared log, answers and failures are scripted per
// test. It answers what the test tells it to; it does not imitate the API server.
import { ApiException } from '@kubernetes/client-node';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import type { MapReduceJob } from '../../src/api/types.js';
import type {
  CoreClient,
  JobClient,
  JobReader,
  ObjectCache,
  PodClient,
} from '../../src/controller/clients.js';
import type { ControllerHooks, PodDecorations } from '../../src/controller/hooks.js';
import type { PodToCreate } from '../../src/controller/jobstate.js';
import { deepFreeze } from './freeze.js';

type Method = keyof CoreClient | keyof JobClient | keyof JobReader | keyof PodClient;

interface Failure {
  method: Method;
  /** The call's target (namespace/name) or, for creates, the created object's name; undefined: any. */
  target?: string;
  code: number;
  message?: string;
}

/** A failed call as client-node reports it; with a message, the body is the API server's Status. */
export function apiError(code: number, message?: string): ApiException<string> {
  const body = message
    ? JSON.stringify({ kind: 'Status', status: 'Failure', message, code })
    : `status ${code}`;
  return new ApiException(code, `HTTP ${code}`, body, {});
}

function describeTarget(t: PodToCreate): string {
  return t.phase === 'map' ? `map ${t.index}/${t.attempt}` : `reduce ${t.attempt}`;
}

export class RecordingClient implements CoreClient, JobClient, JobReader, PodClient {
  /** Every call, in order, shared with RecordingHooks: "createNamespacedPod ns/wc-0-0". */
  readonly log: string[] = [];
  /** What list/read of ConfigMaps answer. */
  configMaps: V1ConfigMap[] = [];
  /** The bodies of status writes, in order. */
  readonly statusWrites: MapReduceJob[] = [];
  /** Pods created, as sent. */
  readonly createdPods: V1Pod[] = [];
  /** Names of pods deleted. */
  readonly deletedPods: string[] = [];
  /** Events recorded: reason and message. */
  readonly events: { reason: string; message: string }[] = [];
  private readonly failures: Failure[] = [];
  private resourceVersion = 100;

  /** Makes every call of `method` on `target` (or on anything) fail with HTTP `code`. */
  fail(method: Method, code: number, target?: string, message?: string): this {
    this.failures.push({ method, code, target, message });
    return this;
  }

  private call(method: Method, target: string, detail = ''): void {
    this.log.push(`${method} ${target}${detail ? ` ${detail}` : ''}`);
    const failure = this.failures.find(
      (f) => f.method === method && (f.target === undefined || f.target === target),
    );
    if (failure) throw apiError(failure.code, failure.message);
  }

  createNamespacedPod(param: { namespace: string; body: V1Pod }): Promise<V1Pod> {
    this.call('createNamespacedPod', `${param.namespace}/${param.body.metadata?.name}`);
    this.createdPods.push(param.body);
    return Promise.resolve(param.body);
  }

  deleteNamespacedPod(param: { namespace: string; name: string }): Promise<void> {
    this.call('deleteNamespacedPod', `${param.namespace}/${param.name}`);
    this.deletedPods.push(param.name);
    return Promise.resolve();
  }

  patchNamespacedPod(param: {
    namespace: string;
    name: string;
    body: { metadata?: Record<string, unknown> };
    patchStrategy: string;
  }): Promise<void> {
    const released = param.body.metadata?.['$deleteFromPrimitiveList/finalizers'];
    this.call(
      'patchNamespacedPod',
      `${param.namespace}/${param.name}`,
      released ? 'release' : JSON.stringify(param.body),
    );
    return Promise.resolve();
  }

  /** What readNamespacedPod answers (404 for other names). */
  pods: V1Pod[] = [];

  readNamespacedPod(param: { namespace: string; name: string }): Promise<V1Pod> {
    this.call('readNamespacedPod', `${param.namespace}/${param.name}`);
    const found = this.pods.find((p) => p.metadata?.name === param.name);
    if (!found) throw apiError(404);
    return Promise.resolve(found);
  }

  readNamespacedConfigMap(param: { namespace: string; name: string }): Promise<V1ConfigMap> {
    this.call('readNamespacedConfigMap', `${param.namespace}/${param.name}`);
    const found = this.configMaps.find((c) => c.metadata?.name === param.name);
    if (!found) throw apiError(404);
    return Promise.resolve(found);
  }

  listNamespacedConfigMap(param: { namespace: string; labelSelector?: string }): Promise<{
    items: V1ConfigMap[];
  }> {
    this.call('listNamespacedConfigMap', param.namespace, param.labelSelector);
    // Equality terms only (k=v,k2=v2): all the controller uses.
    const terms = (param.labelSelector ?? '').split(',').filter(Boolean);
    const matches = (cm: V1ConfigMap): boolean =>
      terms.every((term) => {
        const [k, v] = term.split('=');
        return cm.metadata?.labels?.[k!] === v;
      });
    return Promise.resolve({ items: this.configMaps.filter(matches) });
  }

  createNamespacedConfigMap(param: { namespace: string; body: V1ConfigMap }): Promise<V1ConfigMap> {
    const keys = Object.keys(param.body.data ?? {}).join(',');
    this.call('createNamespacedConfigMap', `${param.namespace}/${param.body.metadata?.name}`, `[${keys}]`);
    if (this.configMaps.some((c) => c.metadata?.name === param.body.metadata?.name)) throw apiError(409);
    // Stored with a uid and resourceVersion, as the API server gives them (the body sent is left as it is).
    const stored = {
      ...param.body,
      metadata: {
        ...param.body.metadata,
        uid: param.body.metadata?.uid ?? `cm-uid-${++this.resourceVersion}`,
        resourceVersion: String(++this.resourceVersion),
      },
    };
    this.configMaps.push(stored);
    return Promise.resolve(stored);
  }

  /** Honours preconditions on uid and resourceVersion (409 on a mismatch), as the API server does. */
  deleteNamespacedConfigMap(param: {
    namespace: string;
    name: string;
    body?: { preconditions?: { uid?: string; resourceVersion?: string } };
  }): Promise<never> {
    this.call('deleteNamespacedConfigMap', `${param.namespace}/${param.name}`);
    const found = this.configMaps.find((c) => c.metadata?.name === param.name);
    if (!found) throw apiError(404);
    const pre = param.body?.preconditions ?? {};
    if (
      (pre.uid !== undefined && pre.uid !== found.metadata?.uid) ||
      (pre.resourceVersion !== undefined && pre.resourceVersion !== found.metadata?.resourceVersion)
    )
      throw apiError(409);
    this.configMaps = this.configMaps.filter((c) => c !== found);
    return Promise.resolve({} as never);
  }

  /** A merge patch of metadata: a resourceVersion in it is a precondition (409 on a mismatch). */
  patchNamespacedConfigMap(param: {
    namespace: string;
    name: string;
    body: { metadata?: V1ConfigMap['metadata'] };
  }): Promise<V1ConfigMap> {
    this.call('patchNamespacedConfigMap', `${param.namespace}/${param.name}`, JSON.stringify(param.body));
    const found = this.configMaps.find((c) => c.metadata?.name === param.name);
    if (!found) throw apiError(404);
    const { resourceVersion, annotations, ...rest } = param.body.metadata ?? {};
    if (
      resourceVersion !== undefined &&
      found.metadata?.resourceVersion !== undefined &&
      resourceVersion !== found.metadata.resourceVersion
    )
      throw apiError(409);
    Object.assign(found.metadata!, rest);
    if (annotations) found.metadata!.annotations = { ...found.metadata!.annotations, ...annotations };
    found.metadata!.resourceVersion = String(++this.resourceVersion);
    return Promise.resolve(found);
  }

  createNamespacedEvent(param: {
    namespace: string;
    body: { reason?: string; message?: string };
  }): Promise<never> {
    this.call('createNamespacedEvent', param.namespace, param.body.reason);
    this.events.push({ reason: param.body.reason ?? '', message: param.body.message ?? '' });
    return Promise.resolve({} as never);
  }

  patchNamespacedEvent(param: { namespace: string; name: string; body: { count?: number } }): Promise<never> {
    this.call('patchNamespacedEvent', `${param.namespace}/${param.name}`, `count=${param.body.count}`);
    return Promise.resolve({} as never);
  }

  replaceNamespacedCustomObjectStatus(param: {
    namespace: string;
    name: string;
    body: object;
  }): Promise<MapReduceJob> {
    this.call('replaceNamespacedCustomObjectStatus', `${param.namespace}/${param.name}`);
    const body = structuredClone(param.body) as MapReduceJob;
    this.statusWrites.push(body);
    body.metadata.resourceVersion = String(++this.resourceVersion);
    return Promise.resolve(body);
  }

  /** The bodies of job patches (the telemetry finalizer), in order. */
  readonly jobPatches: object[] = [];

  patchNamespacedCustomObject(param: { namespace: string; name: string; body: object }): Promise<object> {
    const metadata = (param.body as { metadata?: { finalizers?: string[]; annotations?: object } }).metadata;
    this.call(
      'patchNamespacedCustomObject',
      `${param.namespace}/${param.name}`,
      metadata?.annotations
        ? `annotations=${JSON.stringify(metadata.annotations)}`
        : `finalizers=${(metadata?.finalizers ?? []).join(',')}`,
    );
    this.jobPatches.push(structuredClone(param.body));
    return Promise.resolve({ metadata: { resourceVersion: String(++this.resourceVersion) } });
  }

  /** What getNamespacedCustomObject answers (a read past the cache); undefined: 404. */
  storedJob: MapReduceJob | undefined;

  getNamespacedCustomObject(param: { namespace: string; name: string }): Promise<object> {
    this.call('getNamespacedCustomObject', `${param.namespace}/${param.name}`);
    if (!this.storedJob) throw apiError(404);
    return Promise.resolve(structuredClone(this.storedJob));
  }

  deleteNamespacedCustomObject(param: {
    namespace: string;
    name: string;
    body?: { preconditions?: { uid?: string } };
  }): Promise<object> {
    const uid = param.body?.preconditions?.uid;
    this.call('deleteNamespacedCustomObject', `${param.namespace}/${param.name}`, uid ? `uid=${uid}` : '');
    return Promise.resolve({});
  }
}

/** Hooks that write each call into the client's log, so the order of I/O and hooks is one list. */
export class RecordingHooks implements ControllerHooks {
  /** Pods (by name) whose telemetry is not settled: unsettled() holds them. */
  readonly unsettledPods = new Set<string>();
  /** What holdsJob answers. */
  holdJob = false;

  constructor(private readonly log: string[]) {}

  decorateStatus(): void {
    this.log.push('hook decorateStatus');
  }

  decoratePod(_job: MapReduceJob, _status: unknown, target: PodToCreate): PodDecorations {
    this.log.push(`hook decoratePod ${describeTarget(target)}`);
    return { env: [], annotations: {} };
  }

  unsettled(_job: MapReduceJob, pods: readonly V1Pod[]): Set<V1Pod> {
    return new Set(pods.filter((p) => this.unsettledPods.has(p.metadata?.name ?? '')));
  }

  deliver(_job: MapReduceJob, pods: readonly V1Pod[]): undefined {
    this.log.push(`hook deliver [${pods.map((p) => p.metadata?.name).join(',')}]`);
    return undefined;
  }

  released(pods: readonly V1Pod[]): void {
    if (pods.length > 0) this.log.push(`hook released [${pods.map((p) => p.metadata?.name).join(',')}]`);
  }

  holdsJob(): boolean {
    return this.holdJob;
  }

  jobGone(): void {
    this.log.push('hook jobGone');
  }

  attemptsStarted(_job: MapReduceJob, started: PodToCreate[]): void {
    this.log.push(`hook attemptsStarted [${started.map(describeTarget).join(',')}]`);
  }

  statusWritten(): void {
    this.log.push('hook statusWritten');
  }

  reconciled(): void {
    this.log.push('hook reconciled');
  }

  logFields(): Record<string, string> {
    return {};
  }
}

/** An informer cache's read side over a plain list. */
export class ListCache<
  T extends { metadata?: { name?: string; namespace?: string } },
> implements ObjectCache<T> {
  constructor(public items: T[] = []) {}

  get(name: string, namespace?: string): T | undefined {
    return this.items.find((o) => o.metadata?.name === name && o.metadata?.namespace === namespace);
  }

  list(namespace?: string): readonly T[] {
    return namespace === undefined
      ? this.items
      : this.items.filter((o) => o.metadata?.namespace === namespace);
  }
}

/**
 * A ListCache that hands out deep-frozen copies, as a reader of an informer's cache must treat what it gets:
 * one that writes into a cached object (say a job's spec, which the controller shares instead of copying)
 * throws.
 */
export class FrozenCopyCache<
  T extends { metadata?: { name?: string; namespace?: string } },
> extends ListCache<T> {
  override get(name: string, namespace?: string): T | undefined {
    const found = super.get(name, namespace);
    return found === undefined ? undefined : deepFreeze(structuredClone(found));
  }

  override list(namespace?: string): readonly T[] {
    return super.list(namespace).map((o) => deepFreeze(structuredClone(o)));
  }
}
