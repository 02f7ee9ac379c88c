// Item results (termination messages) in ConfigMaps owned by the job, so they outlive the pods and the
// operator: append-only pieces (resultpieces.ts), each created once, immutable, named by its first index.
// A piece counts only once the status lists it (status.resultPieces, written after the piece, conditioned on
// the job's resourceVersion the piece records). One left by a reconcile whose status write did not land is
// listed as it is when its name comes round again and it holds only results being stored then; else it is
// replaced, but only once no status write can list it any more (strayPieceDecision). Whatever stays unlisted
// is deleted once the status that ends the job is written (sweep).
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1ConfigMap } from '@kubernetes/client-node';
import {
  ANNOTATION_RESULTS_FENCE,
  ANNOTATION_WRITTEN_AT_VERSION,
  LABEL_JOB_NAME,
  LABEL_STORE,
} from '../api/constants.js';
import type { MapReduceJob } from '../api/types.js';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import { ForeignObjectError, isConflict, isNotFound, StaleViewError } from '../apierrors.js';
import type { CoreClient, JobReader } from './clients.js';
import { parseIndexRanges } from './indexranges.js';
import { patchJobMetadata } from './jobpatch.js';
import { resultsConfigMapName } from './naming.js';
import { isControlledBy, ownerReference } from './ownership.js';
import { splitPieces, strayPieceDecision, takesAsItIs } from './resultpieces.js';
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

/**
 * A results piece of the job's name may yet be listed as it is by some status write (this reconcile's view is
 * behind the job's, or another replica's write is pending): it is left as it is. Transient: the reconcile is
 * retried, and by then the cache shows the job as it is, or the job has moved on (fenced: strayPieceDecision).
 */
export class PieceInUseError extends StaleViewError {
  constructor(namespace: string, name: string, why: string) {
    super(`results piece ConfigMap ${namespace}/${name}: ${why}; retrying`);
    this.name = 'PieceInUseError';
  }
}

export class ResultStore {
  constructor(
    private readonly core: CoreClient,
    private readonly jobs: JobReader,
  ) {}

  /**
   * Stores the results of the pieces planned (splitPieces), before the status that lists them is written, which
   * is conditioned on job.metadata.resourceVersion. Returns the first indexes of the pieces that now hold them:
   * the plan's, unless a piece left under one of its names is listed as it is (then the rest is split again).
   */
  async record(job: MapReduceJob, pieces: readonly Piece[]): Promise<number[]> {
    const storing = new Map<number, string>();
    for (const piece of pieces)
      for (const [key, value] of Object.entries(piece.data)) storing.set(Number(key), value);
    const firsts: number[] = [];
    let queue = [...pieces];
    while (queue.length > 0) {
      const piece = queue.shift()!;
      const held = await this.write(job, piece, storing);
      firsts.push(piece.first);
      for (const key of Object.keys(held)) storing.delete(Number(key));
      if (held !== piece.data) queue = splitPieces(storing);
    }
    return firsts;
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

  /** Writes one piece; returns what the piece of its name holds now: its data, or a stored piece's taken as it is. */
  private async write(
    job: MapReduceJob,
    piece: Piece,
    storing: ReadonlyMap<number, string>,
  ): Promise<Readonly<Record<string, string>>> {
    const namespace = job.metadata.namespace!;
    const name = resultsConfigMapName(job.metadata.name!, piece.first);
    const version = job.metadata.resourceVersion ?? '';
    const body = {
      metadata: {
        name,
        labels: { [LABEL_JOB_NAME]: job.metadata.name!, [LABEL_STORE]: STORE_RESULTS },
        annotations: { [ANNOTATION_WRITTEN_AT_VERSION]: version },
        ownerReferences: [ownerReference(job)],
      },
      immutable: true,
      data: piece.data,
    };
    try {
      await this.core.createNamespacedConfigMap({ namespace, body });
      return piece.data;
    } catch (err) {
      if (!isConflict(err)) throw err; // AlreadyExists
    }
    // A piece of this name that our status does not list: ours (left by a status write that did not land, or
    // that has landed and our cache is behind), or another owner's (a deleted job of the same name, its
    // garbage collection pending).
    const existing = await this.core.readNamespacedConfigMap({ namespace, name });
    if (!isControlledBy(existing, job)) throw new ForeignObjectError('ConfigMap', namespace, name);
    const written = existing.metadata?.annotations?.[ANNOTATION_WRITTEN_AT_VERSION];
    const asItIs = takesAsItIs(existing.data, piece.first, storing);
    // Written at our version: whoever wrote it read what we read, and only one status write at it can land.
    if (asItIs && written === version) return existing.data!;
    const fresh = (await this.jobs.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name: job.metadata.name!,
    })) as MapReduceJob;
    if (fresh.metadata.uid !== job.metadata.uid)
      throw new PieceInUseError(
        namespace,
        name,
        'the job was deleted and made again since this reconcile read it',
      );
    const freshVersion = fresh.metadata.resourceVersion;
    if (asItIs) {
      // Listed as it is, by a reconcile that reads the job as it is now: the piece's annotation moves to our
      // version (conditioned on the piece's own, so a replica about to replace it sees the change), so it is not
      // taken for garbage while our status write is pending. A reconcile from an older view would move it back.
      if (freshVersion !== version)
        throw new PieceInUseError(
          namespace,
          name,
          `this replica read the job at resourceVersion ${version}, the job is at ${freshVersion}`,
        );
      await this.core.patchNamespacedConfigMap(
        {
          namespace,
          name,
          body: {
            metadata: {
              resourceVersion: existing.metadata!.resourceVersion,
              annotations: { [ANNOTATION_WRITTEN_AT_VERSION]: version },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return existing.data!;
    }
    const decision = strayPieceDecision({
      listed: resultPieceNames(job.metadata.name!, fresh.status?.resultPieces).includes(name),
      jobVersion: freshVersion,
      writtenAtVersion: written,
    });
    if (decision === 'wait')
      throw new PieceInUseError(
        namespace,
        name,
        "it holds other results and the job's status lists it (this replica's cache is behind)",
      );
    if (decision === 'fence') {
      // Its writer read the job as it is now; its status write may still land (a paused replica), or never (a
      // killed one). The job is moved past that version, so that write can only conflict; the retry replaces
      // the piece.
      await patchJobMetadata(
        this.jobs,
        { namespace, name: job.metadata.name!, resourceVersion: freshVersion },
        { annotations: { [ANNOTATION_RESULTS_FENCE]: `${name}@${freshVersion}` } },
      );
      throw new PieceInUseError(
        namespace,
        name,
        `it holds other results, written at the job's resourceVersion ${written}; the job was moved past it (${ANNOTATION_RESULTS_FENCE}), so no status write can list it`,
      );
    }
    try {
      await this.core.deleteNamespacedConfigMap({
        namespace,
        name,
        // Conditioned on the version read: a replica that took it as it is meanwhile changed its annotation.
        body: {
          preconditions: {
            uid: existing.metadata!.uid!,
            resourceVersion: existing.metadata!.resourceVersion!,
          },
        },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await this.core.createNamespacedConfigMap({ namespace, body });
    return piece.data;
  }
}
