// Item results (termination messages) in ConfigMaps owned by the job, so they outlive the pods and the
// operator: append-only pieces (resultpieces.ts), each created once, immutable, named by its first index.
// A piece counts only once the status lists it (status.resultPieces, written after the piece): one left
// by a reconcile whose status write did not land is garbage, replaced when its name comes round again and
// deleted once the status that ends the job is written (sweep).
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

  /**
   * Deletes the job's pieces its status does not list: each was left by a reconcile whose status write did
   * not land (a leader killed in between), its results stored again in other pieces. Run once the status
   * that ends the job is written, when no piece is written any more; returns the names deleted. Pieces of
   * another job (an earlier job a re-run merges, which it co-owns) carry that job's name and are not listed.
   */
  async sweep(job: MapReduceJob, resultPieces: string | undefined): Promise<string[]> {
    const namespace = job.metadata.namespace!;
    const jobName = job.metadata.name!;
    const listed = new Set(resultPieceNames(jobName, resultPieces));
    const list = await this.core.listNamespacedConfigMap({
      namespace,
      labelSelector: `${LABEL_JOB_NAME}=${jobName},${LABEL_STORE}=${STORE_RESULTS}`,
    });
    const deleted: string[] = [];
    for (const cm of list.items) {
      const name = cm.metadata!.name!;
      if (listed.has(name) || !isControlledBy(cm, job)) continue;
      try {
        await this.core.deleteNamespacedConfigMap({
          namespace,
          name,
          body: { preconditions: { uid: cm.metadata!.uid! } },
        });
        deleted.push(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return deleted;
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
