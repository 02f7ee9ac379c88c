// Sets of item indexes kept as sorted, disjoint ranges, written as the Job controller writes
// status.completedIndexes ("0-99,120,200-4999"): a 100,000-item job that went well is one range.

type Range = [first: number, last: number];

export class IndexSet implements Iterable<number> {
  /** Sorted, disjoint, non-adjacent inclusive ranges. */
  private ranges: Range[] = [];

  static of(indexes: Iterable<number>): IndexSet {
    const set = new IndexSet();
    for (const i of indexes) set.add(i);
    return set;
  }

  /** The first range whose last index is >= i. */
  private search(i: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]![1] < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(i: number): boolean {
    const r = this.ranges[this.search(i)];
    return r !== undefined && r[0] <= i;
  }

  add(i: number): void {
    if (!Number.isInteger(i) || i < 0) throw new RangeError(`index ${i} is not a non-negative integer`);
    const k = this.search(i);
    const r = this.ranges[k];
    if (r && r[0] <= i) return;
    const prev = this.ranges[k - 1];
    const joinsPrev = prev !== undefined && prev[1] === i - 1;
    const joinsNext = r !== undefined && r[0] === i + 1;
    if (joinsPrev && joinsNext) {
      prev[1] = r[1];
      this.ranges.splice(k, 1);
    } else if (joinsPrev) {
      prev[1] = i;
    } else if (joinsNext) {
      r[0] = i;
    } else {
      this.ranges.splice(k, 0, [i, i]);
    }
  }

  /** Appends a range that starts at or after every range already held (parse and union add in order). */
  appendRange(first: number, last: number): void {
    // Ranges are added in order by parse and union, so appending and merging at the end suffices.
    const tail = this.ranges[this.ranges.length - 1];
    if (tail && first <= tail[1] + 1) tail[1] = Math.max(tail[1], last);
    else this.ranges.push([first, last]);
  }

  get size(): number {
    return this.ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  }

  union(other: IndexSet): IndexSet {
    const merged = [...this.ranges, ...other.ranges].sort((a, b) => a[0] - b[0]);
    const out = new IndexSet();
    for (const [a, b] of merged) out.appendRange(a, b);
    return out;
  }

  *[Symbol.iterator](): Iterator<number> {
    for (const [a, b] of this.ranges) for (let i = a; i <= b; i++) yield i;
  }

  toString(): string {
    return this.ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
  }
}

export function formatIndexRanges(indexes: Iterable<number>): string {
  return IndexSet.of(indexes).toString();
}

/** Parses "0-99,120,200-4999"; the empty string is the empty set. Throws naming the bad fragment. */
export function parseIndexRanges(s: string): IndexSet {
  const set = new IndexSet();
  if (s === '') return set;
  let previousLast = -1;
  for (const fragment of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(fragment);
    if (!m) throw new Error(`malformed index range "${fragment}" in "${s}"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new Error(`index range "${fragment}" ends before it starts in "${s}"`);
    if (first <= previousLast) throw new Error(`index range "${fragment}" is out of order in "${s}"`);
    set.appendRange(first, last);
    previousLast = last;
  }
  return set;
}
