// The gauges' values, from the informer caches alone (so they are right after a restart). Pure.
import type { V1Pod } from '@kubernetes/client-node';
import { PHASE_MAP } from '../api/constants.js';
import { isPastMap } from '../api/phases.js';
import type { MapReduceJob } from '../api/types.js';
import { parseIndexRanges } from '../controller/indexranges.js';
import { controllingJob } from '../controller/ownership.js';
import { observePod } from '../controller/podobservation.js';

/** A job's current state, for the gauges. */
export interface JobGauge {
  namespace: string;
  name: string;
  /** Agent pods that have not finished. */
  active: number;
  /** Items not started yet. */
  pending: number;
}

export interface ControllerGauges {
  jobs: JobGauge[];
  workQueueDepth: number;
}

/** Jobs that have started; a finished job reports 0 until it is deleted, so its series falls to 0. */
export function controllerGauges(
  jobs: readonly MapReduceJob[],
  pods: readonly V1Pod[],
  workQueueDepth: number,
): ControllerGauges {
  // One pass over the pods, grouped by owning job: a scrape must not cost jobs × pods.
  const podsByOwner = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    const owner = controllingJob(pod)?.uid;
    if (!owner) continue;
    const list = podsByOwner.get(owner) ?? [];
    list.push(pod);
    podsByOwner.set(owner, list);
  }
  const gauges: JobGauge[] = [];
  for (const job of jobs) {
    const status = job.status ?? {};
    if (status.totalItems === undefined) continue; // not started: nothing to report yet
    const completed = parseIndexRanges(status.completedIndexes ?? '');
    const failed = parseIndexRanges(status.failedIndexes ?? '');
    let active = 0;
    const started = new Set<number>();
    for (const pod of podsByOwner.get(job.metadata.uid!) ?? []) {
      const o = observePod(pod);
      if (!o) continue;
      if (o.state === 'active') active++;
      if (o.phase === PHASE_MAP && !completed.has(o.index) && !failed.has(o.index)) started.add(o.index);
    }
    const pending = isPastMap(status.phase)
      ? 0
      : Math.max(0, status.totalItems - completed.size - failed.size - started.size);
    gauges.push({ namespace: job.metadata.namespace!, name: job.metadata.name!, active, pending });
  }
  return { jobs: gauges, workQueueDepth };
}
