// A re-run (spec.input.fromJob): the failed items of an earlier, finished job of the same namespace, taken
// from its input snapshot with their original indexes and ids, once, on first sight. With mergeResults the
// earlier job's result pieces are kept for the re-run's reduce: the re-run becomes one more owner of each
// (garbage collection deletes an object only when all its owners are gone), so the earlier job may be deleted
// (its TTL, kubectl delete) at any time after the re-run started without taking its results away.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1OwnerReference } from '@kubernetes/client-node';
import { LABEL_JOB_NAME, LABEL_STORE, Reason } from '../api/constants.js';
import { isFinished } from '../api/phases.js';
import { API_VERSION, KIND } from '../api/types.js';
import type { CarriedResults, FromJobStatus, JsonValue, MapReduceJob } from '../api/types.js';
import { InputError } from '../input/resolve.js';
import type { ResolvedItem } from '../input/resolve.js';
import type { CoreClient, ObjectCache } from './clients.js';
import { effectiveSpec } from './defaults.js';
import { IndexSet, parseIndexRanges } from './indexranges.js';
import { completeSnapshot, itemsSelector } from './itemstore.js';
import { resultsConfigMapName } from './naming.js';
import { isControlledBy } from './ownership.js';

/**
 * Earlier jobs whose results one merged re-run may read (a re-run of a re-run carries its source's): each
 * adds its index ranges to status and its pieces to the reduce pod's volume.
 */
export const MAX_CARRIED_JOBS = 8;

export interface RerunPlan {
  /** The re-run's items: the earlier job's failed indexes that pass the filters, ascending. */
  indexes: number[];
  status: FromJobStatus;
}

/** Which of the earlier job's failed items a re-run takes, and what it records about that job. Pure. */
export function planRerun(job: MapReduceJob, source: MapReduceJob | undefined): RerunPlan {
  const from = job.spec.input.fromJob!;
  const namespace = job.metadata.namespace!;
  const field = 'spec.input.fromJob';
  if (from.namespace !== undefined && from.namespace !== namespace) {
    throw new InputError(
      Reason.SourceJobInOtherNamespace,
      `${field}.namespace: "${from.namespace}" is not this job's namespace "${namespace}"; a re-run takes the failed items of a job in its own namespace`,
    );
  }
  if (!source || source.metadata.deletionTimestamp) {
    throw new InputError(
      Reason.SourceJobNotFound,
      `${field}: MapReduceJob ${namespace}/${from.name} not found${source ? ' (it is being deleted)' : ''}`,
    );
  }
  const st = source.status ?? {};
  if (!isFinished(st.phase)) {
    throw new InputError(
      Reason.SourceJobNotFinished,
      `${field}: MapReduceJob ${namespace}/${from.name} is ${st.phase ?? 'Pending'}; a re-run takes the failed items of a finished job`,
    );
  }
  const failed = parseIndexRanges(st.failedIndexes ?? '');
  let indexes = [...failed];
  const filtered = from.reasons !== undefined || from.exitCodes !== undefined;
  if (filtered && failed.size > 0) {
    const details = st.failedItemDetails ?? [];
    if (details.length < failed.size) {
      throw new InputError(
        'InputInvalid',
        `${field}: filtering by reasons or exitCodes needs every failed item's record, and ${namespace}/${from.name}'s dead-letter list holds ${details.length} of its ${failed.size} failed items; leave the filters out to re-run them all`,
      );
    }
    const chosen = details.filter(
      (d) =>
        (from.reasons === undefined || from.reasons.includes(d.reason)) &&
        (from.exitCodes === undefined || (d.exitCode !== undefined && from.exitCodes.includes(d.exitCode))),
    );
    indexes = [...IndexSet.of(chosen.map((d) => d.index))];
  }
  if (indexes.length === 0) {
    throw new InputError(
      Reason.SourceJobHasNoFailedItems,
      `${field}: MapReduceJob ${namespace}/${from.name} has no failed items${filtered && failed.size > 0 ? ` that match the filters (${failed.size} failed)` : ''}`,
    );
  }
  const status: FromJobStatus = {
    name: from.name,
    uid: source.metadata.uid!,
    indexSpace: st.fromJob?.indexSpace ?? st.totalItems ?? 0,
    failedAttempt: effectiveSpec(source.spec).backoffLimitPerItem,
  };
  if (st.traceID && st.trace) {
    status.traceID = st.traceID;
    status.spanID = st.trace.spanID;
    status.sampled = st.trace.sampled;
  }
  if (from.mergeResults) status.results = carriedResults(source);
  return { indexes, status };
}

/** The results a merged re-run of `source` reads: the source's own, and those the source itself carried. */
function carriedResults(source: MapReduceJob): CarriedResults[] {
  const st = source.status ?? {};
  const carried = [...(st.fromJob?.results ?? [])];
  if ((st.succeededItems ?? 0) > 0) {
    carried.push({
      job: source.metadata.name!,
      resultPieces: st.resultPieces ?? '',
      indexes: st.completedIndexes ?? '',
      count: st.succeededItems!,
    });
  }
  if (carried.length > MAX_CARRIED_JOBS) {
    throw new InputError(
      'InputInvalid',
      `spec.input.fromJob: merging would read the results of ${carried.length} earlier jobs, more than ${MAX_CARRIED_JOBS}; re-run without mergeResults`,
    );
  }
  return carried;
}

/** A reference that keeps an object alive while the job lives, without making the job its controller. */
function keepingReference(job: MapReduceJob): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: job.metadata.name!, uid: job.metadata.uid! };
}

/**
 * Reads a re-run's items from the earlier job's input snapshot and, with mergeResults, makes the re-run an
 * owner of every result piece it will read. Idempotent: a reconcile whose status write did not land does it
 * again and finds it done.
 */
export async function loadRerunInput(
  core: Pick<CoreClient, 'listNamespacedConfigMap' | 'patchNamespacedConfigMap'>,
  jobs: ObjectCache<MapReduceJob>,
  job: MapReduceJob,
): Promise<{ items: ResolvedItem[]; fromJob: FromJobStatus }> {
  const namespace = job.metadata.namespace!;
  const name = job.spec.input.fromJob!.name;
  const source = jobs.get(name, namespace);
  const plan = planRerun(job, source);
  const list = await core.listNamespacedConfigMap({ namespace, labelSelector: itemsSelector(name) });
  const snapshot = completeSnapshot(list.items.filter((cm) => isControlledBy(cm, source!)));
  if (!snapshot || snapshot.length !== source!.status?.totalItems) {
    throw new InputError(
      'InputNotFound',
      `spec.input.fromJob: the input snapshot of ${namespace}/${name} (ConfigMaps labelled ${LABEL_JOB_NAME}=${name},${LABEL_STORE}=items) is gone or incomplete`,
    );
  }
  const byIndex = new Map(snapshot.map((s) => [s.index, s]));
  const items = plan.indexes.map((index): ResolvedItem => {
    const stored = byIndex.get(index);
    if (!stored) {
      throw new InputError(
        'InputNotFound',
        `spec.input.fromJob: item ${index} is not in the input snapshot of ${namespace}/${name}`,
      );
    }
    return { index, id: stored.id, value: JSON.parse(stored.json) as JsonValue };
  });
  for (const carried of plan.status.results ?? []) await keepResults(core, job, carried);
  return { items, fromJob: plan.status };
}

/** Adds the re-run as an owner of each result piece of one earlier job (one merge patch per piece). */
async function keepResults(
  core: Pick<CoreClient, 'listNamespacedConfigMap' | 'patchNamespacedConfigMap'>,
  job: MapReduceJob,
  carried: CarriedResults,
): Promise<void> {
  const namespace = job.metadata.namespace!;
  const list = await core.listNamespacedConfigMap({
    namespace,
    labelSelector: `${LABEL_JOB_NAME}=${carried.job},${LABEL_STORE}=results`,
  });
  const byName = new Map(list.items.map((cm) => [cm.metadata!.name!, cm]));
  for (const first of parseIndexRanges(carried.resultPieces)) {
    const pieceName = resultsConfigMapName(carried.job, first);
    const cm = byName.get(pieceName);
    if (!cm) {
      throw new InputError(
        'InputNotFound',
        `spec.input.fromJob: result piece ${namespace}/${pieceName} of ${carried.job} is gone; re-run without mergeResults`,
      );
    }
    const owners = cm.metadata!.ownerReferences ?? [];
    if (owners.some((o) => o.uid === job.metadata.uid)) continue;
    await core.patchNamespacedConfigMap(
      {
        namespace,
        name: pieceName,
        body: {
          metadata: {
            ownerReferences: [...owners, keepingReference(job)],
            resourceVersion: cm.metadata!.resourceVersion,
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** The result pieces a merged re-run's reduce mounts besides its own: `<job>-results-<first>` of each. */
export function carriedPieceNames(fromJob: FromJobStatus | undefined): string[] {
  return (fromJob?.results ?? []).flatMap((c) =>
    [...parseIndexRanges(c.resultPieces)].map((first) => resultsConfigMapName(c.job, first)),
  );
}

/** How many results a merged re-run's reduce reads from earlier jobs. */
export function carriedCount(fromJob: FromJobStatus | undefined): number {
  return (fromJob?.results ?? []).reduce((n, c) => n + c.count, 0);
}
