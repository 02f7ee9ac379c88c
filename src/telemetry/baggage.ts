// The pods' W3C baggage: the operator's entries and spec.telemetry.baggage, within the W3C limits.
import { PHASE_MAP } from '../api/constants.js';
import type { MapReduceJob } from '../api/types.js';
import type { PodToCreate } from '../controller/jobstate.js';
import { BAGGAGE_MAX_BYTES, BAGGAGE_MAX_MEMBERS, BaggageKey } from './names.js';

/** The bytes a baggage member takes in BAGGAGE (key=value, value percent-encoded) and its comma. */
function memberBytes(key: string, value: string): number {
  return key.length + 1 + Buffer.byteLength(encodeURIComponent(value), 'utf8') + 1;
}

/**
 * A pod's baggage: the operator's entries first, then spec.telemetry.baggage in key order while the W3C limits
 * (BAGGAGE_MAX_MEMBERS members, BAGGAGE_MAX_BYTES bytes) allow; the keys left out are named. Pure.
 */
export function baggageOf(
  job: MapReduceJob,
  target: PodToCreate | undefined,
): { kept: Record<string, { value: string }>; dropped: string[] } {
  const kept: Record<string, { value: string }> = {};
  let bytes = 0;
  let members = 0;
  const add = (key: string, value: string): boolean => {
    const size = memberBytes(key, value);
    if (members + 1 > BAGGAGE_MAX_MEMBERS || bytes + size - 1 > BAGGAGE_MAX_BYTES) return false;
    kept[key] = { value };
    bytes += size;
    members++;
    return true;
  };
  add(BaggageKey.JobName, job.metadata.name!);
  add(BaggageKey.Namespace, job.metadata.namespace!);
  // The item index is reserved at its widest, so every pod of the job keeps the same user entries.
  add(BaggageKey.ItemIndex, String(Number.MAX_SAFE_INTEGER));
  delete kept[BaggageKey.ItemIndex];
  if (target?.phase === PHASE_MAP) kept[BaggageKey.ItemIndex] = { value: String(target.index) };
  const dropped: string[] = [];
  const user = job.spec.telemetry?.baggage ?? {};
  for (const key of Object.keys(user).sort()) {
    if (key in kept || !add(key, user[key]!)) dropped.push(key);
  }
  return { kept, dropped };
}
