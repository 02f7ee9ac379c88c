// Spec defaults, applied in code as well as by the CRD schema so a job created before a default
// existed (or through a schema-less path) behaves the same.
import type { MapReduceJobSpec } from '../api/types.js';

export const DEFAULT_PARALLELISM = 10;
export const DEFAULT_BACKOFF_LIMIT_PER_ITEM = 2;
export const DEFAULT_REDUCE_BACKOFF_LIMIT = 2;
export const DEFAULT_MAX_FAILED_ITEMS = 0;

export interface EffectiveSpec {
  parallelism: number;
  backoffLimitPerItem: number;
  reduceBackoffLimit: number;
  hasReduce: boolean;
  suspend: boolean;
  /** Returns true when this many failed items is more than the failure policy allows. */
  failurePolicyExceeded: (failedItems: number, totalItems: number) => boolean;
}

export function effectiveSpec(spec: MapReduceJobSpec): EffectiveSpec {
  const percent = spec.failurePolicy?.maxFailedItemsPercent;
  const maxFailed = spec.failurePolicy?.maxFailedItems ?? DEFAULT_MAX_FAILED_ITEMS;
  return {
    parallelism: Math.max(1, spec.map.parallelism ?? DEFAULT_PARALLELISM),
    backoffLimitPerItem: spec.map.backoffLimitPerItem ?? DEFAULT_BACKOFF_LIMIT_PER_ITEM,
    reduceBackoffLimit: spec.reduce?.backoffLimit ?? DEFAULT_REDUCE_BACKOFF_LIMIT,
    hasReduce: spec.reduce !== undefined,
    suspend: spec.suspend ?? false,
    failurePolicyExceeded:
      percent !== undefined
        ? (failed, total) => total > 0 && failed * 100 > percent * total
        : (failed) => failed > maxFailed,
  };
}
