// The operator's writes to a MapReduceJob's metadata (the telemetry finalizer, the results fence): one merge
// patch each, conditioned on the resourceVersion read, so a stale view gets a conflict and is retried.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import type { MapReduceJob } from '../api/types.js';
import type { JobClient } from './clients.js';

/**
 * Merge-patches `metadata` into the job `namespace/name`, conditioned on `resourceVersion`; returns the job as
 * the API server stored it.
 */
export async function patchJobMetadata(
  api: Pick<JobClient, 'patchNamespacedCustomObject'>,
  target: { namespace: string; name: string; resourceVersion: string | undefined },
  metadata: Pick<V1ObjectMeta, 'finalizers' | 'annotations'>,
): Promise<MapReduceJob> {
  return (await api.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace: target.namespace,
      plural: PLURAL,
      name: target.name,
      body: { metadata: { ...metadata, resourceVersion: target.resourceVersion } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )) as MapReduceJob;
}
