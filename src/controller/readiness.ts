// The kstatus conditions (sigs.k8s.io/cli-utils/pkg/kstatus) that GitOps tools wait on, derived from the
// phase, so Flux, kpt, Argo CD and `kubectl wait` agree: Reconciling while the job runs (InProgress), Ready
// when it succeeded (Current), Stalled when it failed (Failed), Ready=False while suspended (InProgress).
// The messages are the Argo CD health check's (manifests/argocd/health.lua). Pure.
import { Reason } from '../api/constants.js';
import type { Condition, MapReduceJobStatus } from '../api/types.js';
import { failedCondition, setCondition } from './conditions.js';

/** "4/10 items succeeded, 1 failed": a job's progress, as the Argo CD health check words it. */
export function progressMessage(status: MapReduceJobStatus): string {
  return `${status.succeededItems ?? 0}/${status.totalItems ?? '?'} items succeeded, ${status.failedItems ?? 0} failed`;
}

/** Sets Ready, Reconciling and Stalled on `status` from its phase and its other conditions. */
export function setReadiness(status: MapReduceJobStatus, now: Date): void {
  const set = (
    conditions: Condition[],
    type: Condition['type'],
    value: Condition['status'],
    reason: string,
    message: string,
  ): Condition[] => setCondition(conditions, type, value, reason, message, now);
  let c = status.conditions ?? [];
  const progress = progressMessage(status);
  switch (status.phase) {
    case 'Succeeded':
      c = set(c, 'Ready', 'True', Reason.Completed, progress);
      c = set(c, 'Reconciling', 'False', Reason.Completed, progress);
      break;
    case 'Failed': {
      const failed = failedCondition(status);
      const reason = failed?.reason ?? 'Failed';
      const message = failed?.message ?? `Failed: ${progress}`;
      c = set(c, 'Stalled', 'True', reason, message);
      c = set(c, 'Ready', 'False', reason, message);
      c = set(c, 'Reconciling', 'False', reason, message);
      break;
    }
    case 'Suspended':
      // Not progressing, and not done: Ready=False keeps waiters waiting until the job is resumed.
      c = set(c, 'Ready', 'False', Reason.Suspended, `Suspended: ${progress}`);
      c = set(c, 'Reconciling', 'False', Reason.Suspended, `Suspended: ${progress}`);
      break;
    default: {
      const phase = status.phase ?? 'Pending';
      c = set(c, 'Reconciling', 'True', phase, `${phase}: ${progress}`);
      c = set(c, 'Ready', 'False', phase, `${phase}: ${progress}`);
    }
  }
  status.conditions = c;
}
