// shardItems: how the input snapshot is cut into ConfigMaps that the API server and etcd accept.
import { expect } from 'chai';
import {
  MAX_ITEMS_PER_SHARD,
  MAX_ITEMS_SHARD_BYTES,
  plannedItems,
  readShards,
  shardItems,
} from '../../src/controller/itemstore.js';
import type { ResolvedItem } from '../../src/input/resolve.js';
import type { JsonValue } from '../../src/api/types.js';

function items(n: number, value: (i: number) => JsonValue, id?: (i: number) => string): ResolvedItem[] {
  return Array.from({ length: n }, (_, i) => ({ index: i, id: id?.(i) ?? String(i), value: value(i) }));
}

/** What a shard weighs as stored: its data's keys and values, and its keys again in managedFields. */
function storedBytes(data: Record<string, string>): number {
  return Object.entries(data).reduce((n, [k, v]) => n + 2 * k.length + Buffer.byteLength(v, 'utf8'), 0);
}

describe('shardItems', function () {
  const cases: { name: string; items: ResolvedItem[]; shards: number[] }[] = [
    {
      // Counting only the values put all 100,000 in one shard, which etcd refused as too large.
      name: '100,000 small items (integers): MAX_ITEMS_PER_SHARD each',
      items: items(100_000, (i) => i),
      shards: [20_000, 20_000, 20_000, 20_000, 20_000],
    },
    {
      name: 'items with ids of their own: each id is a key and a value more, so the byte budget cuts first',
      items: items(
        30_000,
        (i) => i,
        (i) => `file-${String(i).padStart(8, '0')}.txt`,
      ),
      shards: [10_524, 9_830, 9_646],
    },
    {
      name: 'large items: the byte budget cuts first (two of 300 KB fit, a third does not)',
      items: items(5, (i) => String(i).repeat(300_000)),
      shards: [2, 2, 1],
    },
    {
      name: 'one item: one shard',
      items: items(1, () => ({ a: 1 })),
      shards: [1],
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      const shards = shardItems('wc', tc.items);
      expect(shards.map((s) => Object.keys(s.data).filter((k) => /^\d+$/.test(k)).length)).to.deep.equal(
        tc.shards,
      );
      expect(shards.map((s) => s.name)).to.deep.equal(tc.shards.map((_, i) => `wc-items-${i}`));
      for (const s of shards) expect(storedBytes(s.data)).to.be.at.most(MAX_ITEMS_SHARD_BYTES);
    });
  }

  it('keeps every item once, in index order, with its id where it has one', function () {
    const input = items(
      45_000,
      (i) => ({ n: i }),
      (i) => (i % 2 ? `id-${i}` : String(i)),
    );
    const data = Object.assign({}, ...shardItems('wc', input).map((s) => s.data)) as Record<string, string>;
    expect(Object.keys(data).filter((k) => /^\d+$/.test(k)).length).to.equal(45_000);
    expect(data['44999']).to.equal('{"n":44999}');
    expect(data['44999.id']).to.equal('id-44999');
    expect(data['44998.id']).to.equal(undefined);
    expect(MAX_ITEMS_PER_SHARD).to.equal(20_000);
  });
});

describe('plannedItems', function () {
  const cases: { name: string; items: ResolvedItem[] }[] = [
    { name: '41,000 integers in three shards', items: items(41_000, (i) => i) },
    {
      name: 'items with ids of their own and without',
      items: items(
        30_000,
        (i) => ({ n: i }),
        (i) => (i % 3 ? `file-${i}.txt` : String(i)),
      ),
    },
    { name: 'large items, a few per shard', items: items(5, (i) => String(i).repeat(300_000)) },
    {
      // A re-run's items keep the earlier job's indexes; given out of order, they are still read in index order.
      name: 'indexes of their own, out of order',
      items: [7, 3, 42, 5].map((index) => ({ index, id: `item-${index}`, value: index * 10 })),
    },
  ];
  for (const tc of cases) {
    it(`${tc.name}: what readShards reads back from the shards`, function () {
      const shards = shardItems('wc', tc.items);
      const readBack = readShards(shards.map((s) => ({ metadata: { name: s.name }, data: s.data })));
      expect(plannedItems(tc.items, shards)).to.deep.equal(readBack);
    });
  }

  it('names each item’s shard and its JSON as the pod receives it', function () {
    const input = items(40_001, (i) => ({ n: i }));
    const planned = plannedItems(input, shardItems('wc', input));
    expect([planned[0], planned[20_000], planned[40_000]]).to.deep.equal([
      { index: 0, id: '0', json: '{"n":0}', shard: 'wc-items-0' },
      { index: 20_000, id: '20000', json: '{"n":20000}', shard: 'wc-items-1' },
      { index: 40_000, id: '40000', json: '{"n":40000}', shard: 'wc-items-2' },
    ]);
  });
});
