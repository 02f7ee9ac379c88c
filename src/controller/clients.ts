// The controller's view of the API server: the calls it makes and the caches it reads, as small types, so
// a test can hand it a recording client and plain lists (the real ones are wired in wiring.ts).
import type { CoreV1Api, CustomObjectsApi, PatchStrategy, V1Pod } from '@kubernetes/client-node';

/**
 * The pod calls managePods makes, as plain JSON (podapi.ts): client-node's names, narrower arguments, and no
 * answer where nothing reads one.
 */
export interface PodClient {
  readNamespacedPod(param: { namespace: string; name: string }): Promise<V1Pod>;
  createNamespacedPod(param: { namespace: string; body: V1Pod }): Promise<V1Pod>;
  deleteNamespacedPod(param: { namespace: string; name: string; gracePeriodSeconds?: number }): Promise<void>;
  patchNamespacedPod(param: {
    namespace: string;
    name: string;
    body: object;
    patchStrategy: PatchStrategy;
  }): Promise<void>;
}

/** Other core API calls: the job's item and result ConfigMaps, a ConfigMap input, Events (a re-run patches an earlier job's result pieces: rerun.ts). */
export type CoreClient = Pick<
  CoreV1Api,
  | 'readNamespacedConfigMap'
  | 'listNamespacedConfigMap'
  | 'createNamespacedConfigMap'
  | 'deleteNamespacedConfigMap'
  | 'patchNamespacedConfigMap'
  | 'createNamespacedEvent'
  | 'patchNamespacedEvent'
>;

/** Writes to MapReduceJobs: the status, the telemetry finalizer, and the delete once the TTL has passed. */
export type JobClient = Pick<
  CustomObjectsApi,
  'replaceNamespacedCustomObjectStatus' | 'patchNamespacedCustomObject' | 'deleteNamespacedCustomObject'
>;

/**
 * A MapReduceJob read past the cache, and moved past a resourceVersion (resultstore.ts, before it replaces a
 * results piece).
 */
export type JobReader = Pick<CustomObjectsApi, 'getNamespacedCustomObject' | 'patchNamespacedCustomObject'>;

/** What the controller reads from an informer's cache. */
export interface ObjectCache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}
