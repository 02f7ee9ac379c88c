// A results piece ConfigMap as an earlier reconcile (or another replica) of a job left it, for the tests of
// what the store and syncJob do with a piece found under a name they need.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { ANNOTATION_WRITTEN_AT_VERSION, LABEL_JOB_NAME, LABEL_STORE } from '../../src/api/constants.js';
import type { MapReduceJob } from '../../src/api/types.js';
import { ownerReference } from '../../src/controller/ownership.js';

/**
 * The piece `<job>-results-<first>` holding `data`, owned by `owner` (at resourceVersion 50); `writtenAt`: the
 * job's resourceVersion it records (none: a piece of an operator from before that annotation).
 */
export function leftPiece(
  owner: MapReduceJob,
  first: number,
  data: Record<string, string>,
  writtenAt?: string,
): V1ConfigMap {
  const job = owner.metadata.name!;
  return {
    metadata: {
      name: `${job}-results-${first}`,
      namespace: owner.metadata.namespace,
      uid: `piece-${first}`,
      resourceVersion: '50',
      labels: { [LABEL_JOB_NAME]: job, [LABEL_STORE]: 'results' },
      ...(writtenAt ? { annotations: { [ANNOTATION_WRITTEN_AT_VERSION]: writtenAt } } : {}),
      ownerReferences: [ownerReference(owner)],
    },
    immutable: true,
    data,
  };
}
