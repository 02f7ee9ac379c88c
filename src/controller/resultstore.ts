// Item results (termination messages) in ConfigMaps owned by the job, so they outlive the pods and the
// operator: append-only pieces (resultpieces.ts), each created once, immutable, named by its first index.
// A piece counts only once the status lists it (status.resultPieces, written after the piece): one left
// by a reconcile whose status write did not land is garbage, replaced when its name comes round again.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { LABEL_JOB_NAME, LABEL_STORE } from '../api/constants.js';
import type { MapReduceJob } from '../api/types.js';
import { ForeignObjectError, isConflict, isNotFound } from '../apierrors.js';
import type { CoreClient } from './clients.js';
import { parseIndexRanges } from './indexranges.js';
import { resultsConfigMapName } from './naming.js';
import { isControlledBy, ownerReference } from './ownership.js';
import type { Piece } from './resultpieces.js';

const STORE_RESULTS = 'results';

/** The ConfigMaps a job's status lists as its results, for the reduce pod to mount. */
export function resultPieceNames(jobName: string, resultPieces: string | undefined): string[] {
  return [...parseIndexRanges(resultPieces ?? '')].map((first) => resultsConfigMapName(jobName, first));
}

/**
 * Each item's result, by index, from the pieces the status lists; a piece it does not list (left by a
 * reconcile whose status write did not land, its results stored again elsewhere) is not read. Pure.
 */
export function listedResults(
  jobName: string,
  resultPieces: string | undefined,
  configMaps: readonly V1ConfigMap[],
): [number, string][] {
  const listed = new Set(resultPieceNames(jobName, resultPieces));
  const entries: [number, string][] = [];
  for (const cm of configMaps) {
    if (!listed.has(cm.metadata?.name ?? '')) continue;
    for (const [k, v] of Object.entries(cm.data ?? {})) entries.push([Number(k), v]);
  }
  return entries.sort((a, b) => a[0] - b[0]);
}

export class ResultStore {
  constructor(private readonly core: CoreClient) {}

  async record(job: MapReduceJob, pieces: Piece[]): Promise<void> {
    for (const piece of pieces) await this.write(job, piece);
  }

  private async write(job: MapReduceJob, piece: Piece): Promise<void> {
    const namespace = job.metadata.namespace!;
    const name = resultsConfigMapName(job.metadata.name!, piece.first);
    const body = {
      metadata: {
        name,
        labels: { [LABEL_JOB_NAME]: job.metadata.name!, [LABEL_STORE]: STORE_RESULTS },
        ownerReferences: [ownerReference(job)],
      },
      immutable: true,
      data: piece.data,
    };
    try {
      await this.core.createNamespacedConfigMap({ namespace, body });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err; // AlreadyExists
    }
    // A piece of this name that the status does not list: ours and unlisted (garbage of a lost status
    // write), or another owner's (a deleted job of the same name, its garbage collection pending).
    const existing = await this.core.readNamespacedConfigMap({ namespace, name });
    if (!isControlledBy(existing, job)) throw new ForeignObjectError('ConfigMap', namespace, name);
    try {
      await this.core.deleteNamespacedConfigMap({
        namespace,
        name,
        body: { preconditions: { uid: existing.metadata!.uid! } },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await this.core.createNamespacedConfigMap({ namespace, body });
  }
}
