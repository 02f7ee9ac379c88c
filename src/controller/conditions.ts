// Standard Kubernetes conditions: one entry per type, lastTransitionTime moves only when status changes.
import type { Condition, ConditionType, MapReduceJobStatus } from '../api/types.js';

export function setCondition(
  conditions: Condition[],
  type: ConditionType,
  status: Condition['status'],
  reason: string,
  message: string,
  now: Date,
): Condition[] {
  const existing = conditions.find((c) => c.type === type);
  const lastTransitionTime =
    existing && existing.status === status ? existing.lastTransitionTime : now.toISOString();
  const next: Condition = { type, status, reason, message, lastTransitionTime };
  return existing ? conditions.map((c) => (c.type === type ? next : c)) : [...conditions, next];
}

export function findCondition(
  conditions: Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: Condition[] | undefined, type: ConditionType): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** Why a job failed: its Failed condition, when it is True. */
export function failedCondition(status: MapReduceJobStatus): Condition | undefined {
  const c = findCondition(status.conditions, 'Failed');
  return c?.status === 'True' ? c : undefined;
}
