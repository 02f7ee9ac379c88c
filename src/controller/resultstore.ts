// Item results (termination messages) in ConfigMaps owned by the job, keyed by item index, so they
// outlive the pods and the operator. Writes are merge patches: idempotent, and no read is needed.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { LABEL_JOB_NAME, LABEL_STORE } from '../api/constants.js';
import type { MapReduceJob } from '../api/types.js';
import { ForeignObjectError, isInvalid, isNotFound } from '../apierrors.js';
import type { CoreClient } from './clients.js';
import { resultsConfigMapName } from './naming.js';
import { ownerReference } from './ownership.js';

/** A termination message is at most 4 KiB, so 200 of them stay under a ConfigMap's 1 MiB. */
export const RESULTS_PER_SHARD = 200;
const STORE_RESULTS = 'results';

export function resultsShardOf(index: number): number {
  return Math.floor(index / RESULTS_PER_SHARD);
}

export function resultsShardNames(jobName: string, totalItems: number): string[] {
  const count = Math.ceil(totalItems / RESULTS_PER_SHARD);
  return Array.from({ length: count }, (_, shard) => resultsConfigMapName(jobName, shard));
}

/** Groups results by shard. Pure. */
export function groupResults(results: Map<number, string>): Map<number, Record<string, string>> {
  const byShard = new Map<number, Record<string, string>>();
  for (const [index, result] of results) {
    const shard = resultsShardOf(index);
    const data = byShard.get(shard) ?? {};
    data[String(index)] = result;
    byShard.set(shard, data);
  }
  return byShard;
}

export class ResultStore {
  constructor(private readonly core: CoreClient) {}

  async record(job: MapReduceJob, results: Map<number, string>): Promise<void> {
    const namespace = job.metadata.namespace!;
    const jobName = job.metadata.name!;
    for (const [shard, data] of groupResults(results)) {
      const name = resultsConfigMapName(jobName, shard);
      // A JSON patch that first tests the owner: a ConfigMap of the same name left by an earlier job of the
      // same name (its garbage collection still pending) is never written into.
      const body = [
        { op: 'test', path: '/metadata/ownerReferences/0/uid', value: job.metadata.uid },
        ...Object.entries(data).map(([index, result]) => ({
          op: 'add',
          path: `/data/${index}`,
          value: result,
        })),
      ];
      try {
        await this.core.patchNamespacedConfigMap(
          { namespace, name, body },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
      } catch (err) {
        if (isInvalid(err)) throw new ForeignObjectError('ConfigMap', namespace, name);
        if (!isNotFound(err)) throw err;
        await this.create(job, name, data);
      }
    }
  }

  private async create(job: MapReduceJob, name: string, data: Record<string, string>): Promise<void> {
    const namespace = job.metadata.namespace!;
    const jobName = job.metadata.name!;
    await this.core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name,
          labels: { [LABEL_JOB_NAME]: jobName, [LABEL_STORE]: STORE_RESULTS },
          ownerReferences: [ownerReference(job)],
        },
        data,
      },
    });
  }
}
