import { expect } from 'chai';
import {
  FLUSH_AFTER_MS,
  FLUSH_RESULTS,
  flushDecision,
  listPieces,
  MAX_PIECE_BYTES,
  MAX_TIMED_PIECES,
  mayBeTruncated,
  splitPieces,
  storedBytes,
  strayPieceDecision,
  takesAsItIs,
} from '../../src/controller/resultpieces.js';
import type { FlushInput, WaitingResult } from '../../src/controller/resultpieces.js';

/** n waiting results of `size` characters each, finished at `finishedAtMs`. */
function waiting(n: number, finishedAtMs = 0, result = '"x"'): WaitingResult[] {
  return Array.from({ length: n }, (_, index) => ({ index, result, finishedAtMs }));
}

function input(over: Partial<FlushInput>): FlushInput {
  return { waiting: waiting(1), pieces: 0, running: 5, ending: false, nowMs: 1000, ...over };
}

describe('result pieces', function () {
  const decisions: { name: string; input: FlushInput; expect: ReturnType<typeof flushDecision> }[] = [
    { name: 'nothing waiting: nothing to do', input: input({ waiting: [] }), expect: { flush: false } },
    {
      name: 'one result, others running: waits until it is FLUSH_AFTER_MS old',
      input: input({}),
      expect: { flush: false, recheckAfterMs: FLUSH_AFTER_MS - 1000 },
    },
    {
      name: 'the oldest is FLUSH_AFTER_MS old: written',
      input: input({ nowMs: FLUSH_AFTER_MS }),
      expect: { flush: true },
    },
    {
      name: 'FLUSH_RESULTS waiting: a full piece, written',
      input: input({ waiting: waiting(FLUSH_RESULTS, 999) }),
      expect: { flush: true },
    },
    {
      name: 'one short of FLUSH_RESULTS: still waits',
      input: input({ waiting: waiting(FLUSH_RESULTS - 1, 999) }),
      expect: { flush: false, recheckAfterMs: FLUSH_AFTER_MS - 1 },
    },
    {
      name: 'MAX_PIECE_BYTES waiting, counted as UTF-8 (3-byte U+FFFD): written',
      input: input({ waiting: waiting(64, 999, '\uFFFD'.repeat(4096)) }), // 64 × 12 KiB = 768 KiB
      expect: { flush: true },
    },
    {
      name: 'the bytes a caller kept for each result are what count: MAX_PIECE_BYTES, written',
      input: input({ waiting: waiting(2, 999).map((w) => ({ ...w, bytes: MAX_PIECE_BYTES / 2 })) }),
      expect: { flush: true },
    },
    {
      name: 'no attempt running: nothing else is coming',
      input: input({ running: 0 }),
      expect: { flush: true },
    },
    { name: 'the job may end now: written', input: input({ ending: true }), expect: { flush: true } },
    {
      name: 'MAX_TIMED_PIECES reached: no more flushes by age, only full pieces',
      input: input({ pieces: MAX_TIMED_PIECES, nowMs: 10 * FLUSH_AFTER_MS }),
      expect: { flush: false },
    },
  ];
  for (const c of decisions) {
    it(c.name, function () {
      expect(flushDecision(c.input)).to.deep.equal(c.expect);
    });
  }

  it('counts bytes as the API server stores them: UTF-8, U+FFFD as 3 bytes', function () {
    expect([
      storedBytes('12', 'ab'),
      storedBytes('0', 'é'),
      storedBytes('0', '\uFFFD'.repeat(4096)),
    ]).to.deep.equal([4, 3, 12_289]);
  });

  it('splits results into pieces in index order, each at most MAX_PIECE_BYTES as stored', function () {
    const big = '\uFFFD'.repeat(4096); // 12 KiB stored, 4 KiB as JS characters
    const results = new Map<number, string>();
    for (let i = 199; i >= 0; i--) results.set(i, big); // given out of order
    const pieces = splitPieces(results);
    const sizes = pieces.map((p) => Object.entries(p.data).reduce((n, [k, v]) => n + storedBytes(k, v), 0));
    expect(pieces.map((p) => [p.first, Object.keys(p.data).length])).to.deep.equal([
      [0, 63],
      [63, 63],
      [126, 63],
      [189, 11],
    ]);
    expect(Math.max(...sizes)).to.be.at.most(MAX_PIECE_BYTES);
    expect(pieces.flatMap((p) => Object.keys(p.data).map(Number))).to.deep.equal(
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  it('flags a result of 4096 bytes or more (as UTF-8) as possibly cut by the kubelet', function () {
    expect(
      ['x'.repeat(4095), 'x'.repeat(4096), 'é'.repeat(2048), 'é'.repeat(2047)].map(mayBeTruncated),
    ).to.deep.equal([false, true, true, false]);
  });

  const storing = new Map([
    [10, '"a"'],
    [11, '"b"'],
    [12, '"c"'],
  ]);
  const taken: { name: string; stored: Record<string, string> | undefined; expect: boolean }[] = [
    { name: 'the same results', stored: { 10: '"a"', 11: '"b"', 12: '"c"' }, expect: true },
    {
      name: 'some of them, its name among them (a paused writer saw fewer pods)',
      stored: { 10: '"a"', 11: '"b"' },
      expect: true,
    },
    {
      name: 'a result not stored now (listed elsewhere, or not seen here yet)',
      stored: { 10: '"a"', 13: '"d"' },
      expect: false,
    },
    { name: 'a different result for an index', stored: { 10: '"a"', 11: '"B"' }, expect: false },
    { name: 'not its name’s index (made by hand)', stored: { 11: '"b"' }, expect: false },
    { name: 'empty', stored: {}, expect: false },
    { name: 'no data', stored: undefined, expect: false },
  ];
  for (const tc of taken) {
    it(`a stored piece is taken as it is when it holds ${tc.name}: ${tc.expect}`, function () {
      expect(takesAsItIs(tc.stored, 10, storing)).to.equal(tc.expect);
    });
  }

  const strays: {
    name: string;
    input: Parameters<typeof strayPieceDecision>[0];
    expect: 'replace' | 'wait' | 'fence';
  }[] = [
    {
      name: 'listed by the fresh status: this cache is behind',
      input: { listed: true, jobVersion: '9', writtenAtVersion: '5' },
      expect: 'wait',
    },
    {
      name: 'unlisted, written at the job’s current version: its status write may still land, so the job is moved on',
      input: { listed: false, jobVersion: '9', writtenAtVersion: '9' },
      expect: 'fence',
    },
    {
      name: 'unlisted, written at an earlier version: its status write can only conflict',
      input: { listed: false, jobVersion: '9', writtenAtVersion: '5' },
      expect: 'replace',
    },
    {
      name: 'unlisted, no annotation (an operator from before it)',
      input: { listed: false, jobVersion: '9', writtenAtVersion: undefined },
      expect: 'replace',
    },
  ];
  for (const tc of strays) {
    it(`a stray piece ${tc.name}: ${tc.expect}`, function () {
      expect(strayPieceDecision(tc.input)).to.equal(tc.expect);
    });
  }

  it('lists new pieces after the earlier ones, as index ranges', function () {
    expect([
      listPieces(undefined, [5, 0]),
      listPieces('0,200', [400, 201]),
      listPieces('', []),
    ]).to.deep.equal(['0,5', '0,200-201,400', '']);
  });
});
