// The input resolver's child process: the same answers as in process, and hostile inputs bounded by time
// and heap instead of stopping (or aborting) the operator.
import { expect } from 'chai';
import type { InputSpec, JsonValue } from '../../src/api/types.js';
import { resolveInChild } from '../../src/input/isolated.js';
import { InputError } from '../../src/input/resolve.js';

async function outcome(
  input: InputSpec,
  text?: string,
  limits = { timeoutMs: 5000, heapMb: 64 },
): Promise<unknown> {
  try {
    return (await resolveInChild(input, text, limits)).map((i) => [i.index, i.id, i.value]);
  } catch (err) {
    return err instanceof InputError ? `${err.reason}: ${err.message}` : `not an InputError: ${String(err)}`;
  }
}

function nested(depth: number): JsonValue {
  let v: JsonValue = 'x';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('resolveInChild', function () {
  this.timeout(30_000);
  const cases: { name: string; input: InputSpec; text?: string; expect: unknown }[] = [
    {
      name: 'resolves as in process: a filter, a sort and ids',
      input: {
        configMapRef: { name: 'c', key: 'k' },
        jsonPath: '$.items[?(@.on)]',
        idPath: '$.n',
        sortBy: { path: '$.n', order: 'Descending' },
      },
      text: 'items: [{n: a, on: true}, {n: b, on: false}, {n: c, on: true}]',
      expect: [
        [0, 'c', { n: 'c', on: true }],
        [1, 'a', { n: 'a', on: true }],
      ],
    },
    {
      name: 'an input error keeps its reason and message',
      input: { items: ['x', 'x'], idPath: '$' },
      expect: 'DuplicateItemId: spec.input.idPath: items 0 and 1 have the same id "x"',
    },
    {
      name: 'an inline item nested 9,000 deep (the API server takes 10,000) is refused before any copy of it',
      input: { items: [nested(9000)] },
      expect: 'InputInvalid: spec.input: item 0 is nested more than 1000 levels deep',
    },
    {
      name: 'a filter that backtracks for hours (ReDoS) ends at the deadline',
      input: { items: ['a'.repeat(40) + 'b'], jsonPath: '$[?(@.match(/^(a+)+$/))]' },
      expect:
        'InputInvalid: spec.input: resolving the items took longer than 5 s (a JSONPath that does too much?)',
    },
    {
      name: 'a filter that allocates without end runs out of its heap, not the operator’s',
      input: { items: ['x'], jsonPath: "$[?(@.repeat(100000000).split(''))]" },
      expect:
        'InputInvalid: spec.input: resolving the items needed more than 64 MiB (a JSONPath or YAML aliases that expand too far?)',
    },
  ];
  for (const c of cases) {
    it(c.name, async function () {
      expect(await outcome(c.input, c.text)).to.deep.equal(c.expect);
    });
  }
});
