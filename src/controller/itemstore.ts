// The input snapshot: a job's resolved items, written once into ConfigMaps it owns, so the items a job
// runs cannot change under it (a ConfigMap input is mutable) and a restarted operator reads the same ones.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { LABEL_JOB_NAME, LABEL_STORE } from '../api/constants.js';
import type { MapReduceJob } from '../api/types.js';
import { isNotFound } from '../apierrors.js';
import type { ResolvedItem } from '../input/resolve.js';
import type { CoreClient } from './clients.js';
import { itemsConfigMapName } from './naming.js';
import { isControlledBy, ownerReference } from './ownership.js';

/**
 * A ConfigMap's data holds at most 1 MiB, and etcd refuses an object over 1.5 MiB as stored: with its
 * managedFields, which name every data key once more. Shards are filled to this much, counting each item's
 * value, its keys twice (data and managedFields) and ENTRY_OVERHEAD_BYTES of encoding per key.
 */
export const MAX_ITEMS_SHARD_BYTES = 768 * 1024;
/** Encoding around one data key, as stored: its quoting and separators in data and in managedFields. */
const ENTRY_OVERHEAD_BYTES = 16;
/**
 * Items per shard at most, whatever their size: 100,000 small items (integers) in one shard were refused by
 * etcd (`etcdserver: request is too large`) when only the values were counted.
 */
export const MAX_ITEMS_PER_SHARD = 20_000;
/** Larger items would not fit in a shard (and have no business in an env var or a ConfigMap). */
export const MAX_ITEM_BYTES = 512 * 1024;
const STORE_ITEMS = 'items';
const ID_KEY_SUFFIX = '.id';

export interface StoredItem {
  index: number;
  id: string;
  /** The item as JSON text, exactly as the pod receives it. */
  json: string;
  /** The ConfigMap that holds it. */
  shard: string;
}

export class ItemTooLargeError extends Error {
  constructor(
    readonly index: number,
    readonly bytes: number,
  ) {
    super(`item ${index} is ${bytes} bytes as JSON; the limit is ${MAX_ITEM_BYTES}`);
  }
}

export function itemsSelector(jobName: string): string {
  return `${LABEL_JOB_NAME}=${jobName},${LABEL_STORE}=${STORE_ITEMS}`;
}

/** Packs items into shards in index order. Pure. */
export function shardItems(
  jobName: string,
  items: ResolvedItem[],
): { name: string; data: Record<string, string> }[] {
  const shards: { name: string; data: Record<string, string> }[] = [];
  let current: Record<string, string> = {};
  let bytes = 0;
  const flush = (): void => {
    if (Object.keys(current).length === 0) return;
    shards.push({ name: itemsConfigMapName(jobName, shards.length), data: current });
    current = {};
    bytes = 0;
  };
  let count = 0;
  for (const item of items) {
    const json = JSON.stringify(item.value);
    const size = Buffer.byteLength(json, 'utf8');
    if (size > MAX_ITEM_BYTES) throw new ItemTooLargeError(item.index, size);
    const key = String(item.index);
    const keyBytes = 2 * key.length + ENTRY_OVERHEAD_BYTES;
    const hasId = item.id !== key;
    const idKeyBytes = hasId ? 2 * (key.length + ID_KEY_SUFFIX.length) + ENTRY_OVERHEAD_BYTES : 0;
    const idBytes = hasId ? Buffer.byteLength(item.id, 'utf8') : 0;
    const itemBytes = size + keyBytes + idBytes + idKeyBytes;
    if (bytes + itemBytes > MAX_ITEMS_SHARD_BYTES || count === MAX_ITEMS_PER_SHARD) {
      flush();
      count = 0;
    }
    current[key] = json;
    if (hasId) current[`${item.index}${ID_KEY_SUFFIX}`] = item.id;
    bytes += itemBytes;
    count++;
  }
  flush();
  return shards;
}

/** Reads stored items back from their shards. Pure. */
export function readShards(configMaps: V1ConfigMap[]): StoredItem[] {
  const items: StoredItem[] = [];
  for (const cm of configMaps) {
    const data = cm.data ?? {};
    for (const [key, json] of Object.entries(data)) {
      if (!/^\d+$/.test(key)) continue;
      const index = Number(key);
      items.push({ index, id: data[`${key}${ID_KEY_SUFFIX}`] ?? key, json, shard: cm.metadata!.name! });
    }
  }
  return items.sort((a, b) => a.index - b.index);
}

/**
 * The items of a snapshot just planned by shardItems, as readShards reads them back from its shards (index order,
 * each item's JSON and id as stored, its shard), without reading them back: for 100,000 items that made tens of
 * MB of garbage (every key's entry, its id key, a sort) at the moment the snapshot's requests are in flight. Pure.
 */
export function plannedItems(
  items: ResolvedItem[],
  shards: { name: string; data: Record<string, string> }[],
): StoredItem[] {
  const stored: StoredItem[] = [];
  let s = 0; // shards hold runs of items in the order they were given
  for (const item of items) {
    const key = String(item.index);
    while (s < shards.length && shards[s]!.data[key] === undefined) s++;
    const shard = shards[s]!;
    stored.push({ index: item.index, id: item.id, json: shard.data[key]!, shard: shard.name });
  }
  const ascending = stored.every((item, i) => i === 0 || item.index > stored[i - 1]!.index);
  return ascending ? stored : stored.sort((a, b) => a.index - b.index);
}

/** On every shard: how many items the whole snapshot holds, so a complete one can be told from a partial one. */
export const ANNOTATION_TOTAL_ITEMS = 'mapreduce.dev/total-items';

/** A stored shard is exactly the one planned: same name, same total, same data (keys and values). */
function isPlannedShard(
  cm: V1ConfigMap,
  planned: { data: Record<string, string> } | undefined,
  total: number,
): boolean {
  if (!planned || cm.metadata?.annotations?.[ANNOTATION_TOTAL_ITEMS] !== String(total)) return false;
  const data = cm.data ?? {};
  const keys = Object.keys(planned.data);
  return Object.keys(data).length === keys.length && keys.every((k) => data[k] === planned.data[k]);
}

/**
 * The items of a snapshot whose shards hold all of its `total` items, each index once (0..total-1, or a
 * re-run's own indexes); undefined for a partial one.
 */
export function completeSnapshot(configMaps: V1ConfigMap[]): StoredItem[] | undefined {
  const totals = new Set(configMaps.map((cm) => cm.metadata?.annotations?.[ANNOTATION_TOTAL_ITEMS]));
  if (configMaps.length === 0 || totals.size !== 1) return undefined;
  const total = Number([...totals][0]);
  const stored = readShards(configMaps);
  const ascending = stored.every((s, i) => i === 0 || s.index > stored[i - 1]!.index);
  return stored.length === total && ascending ? stored : undefined;
}

export class ItemStore {
  /** Snapshots by job UID: a job's items never change once written. */
  private readonly cache = new Map<string, StoredItem[]>();

  constructor(private readonly core: CoreClient) {}

  /**
   * Snapshots these items, unless a complete snapshot of this job exists: one written by a reconcile whose
   * status write did not land, whose pods may already run. It stays, even if the input changed since.
   */
  async write(job: MapReduceJob, items: ResolvedItem[]): Promise<StoredItem[]> {
    const namespace = job.metadata.namespace!;
    const name = job.metadata.name!;
    const shards = shardItems(name, items);
    const list = await this.core.listNamespacedConfigMap({ namespace, labelSelector: itemsSelector(name) });
    const earlier = list.items.filter((cm) => isControlledBy(cm, job));
    const complete = completeSnapshot(earlier);
    if (complete) {
      this.cache.set(job.metadata.uid!, complete);
      return complete;
    }
    // A crash or a failed request mid-write leaves a partial snapshot of immutable ConfigMaps. Shards are a
    // pure function of the items, so each one already written as planned is kept and only the rest are
    // written: a large snapshot that fails part-way (a request timed out on a loaded API server) makes
    // progress on every retry instead of starting over. A shard that differs (the input changed since) goes.
    const planned = new Map(shards.map((s) => [s.name, s]));
    const kept = new Set<string>();
    for (const cm of earlier) {
      const shardName = cm.metadata!.name!;
      if (isPlannedShard(cm, planned.get(shardName), items.length)) {
        kept.add(shardName);
        continue;
      }
      try {
        await this.core.deleteNamespacedConfigMap({ namespace, name: shardName });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    for (const shard of shards) {
      if (kept.has(shard.name)) continue;
      await this.core.createNamespacedConfigMap({
        namespace,
        body: {
          metadata: {
            name: shard.name,
            labels: { [LABEL_JOB_NAME]: name, [LABEL_STORE]: STORE_ITEMS },
            annotations: { [ANNOTATION_TOTAL_ITEMS]: String(items.length) },
            ownerReferences: [ownerReference(job)],
          },
          immutable: true,
          data: shard.data,
        },
      });
    }
    const stored = plannedItems(items, shards);
    this.cache.set(job.metadata.uid!, stored);
    return stored;
  }

  async read(job: MapReduceJob): Promise<StoredItem[]> {
    const cached = this.cache.get(job.metadata.uid!);
    if (cached) return cached;
    const list = await this.core.listNamespacedConfigMap({
      namespace: job.metadata.namespace!,
      labelSelector: itemsSelector(job.metadata.name!),
    });
    const owned = list.items.filter((cm) => isControlledBy(cm, job));
    const stored = readShards(owned);
    this.cache.set(job.metadata.uid!, stored);
    return stored;
  }

  /** How many jobs' snapshots are held in memory. */
  get heldJobs(): number {
    return this.cache.size;
  }

  forget(uid: string): void {
    this.cache.delete(uid);
  }
}
