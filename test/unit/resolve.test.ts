import { expect } from 'chai';
import type { InputSpec } from '../../src/api/types.js';
import { InputError, MAX_INPUT_BYTES, MAX_ITEMS, resolveItems } from '../../src/input/resolve.js';

const FILES_JSON = JSON.stringify({
  files: [
    { name: 'a.txt', size: 50 },
    { name: 'b.txt', size: 150 },
    { name: 'c.txt', size: 300 },
    { name: 'd.txt' },
  ],
});
const FILES_YAML = 'files:\n  - {name: a.txt, size: 50}\n  - {name: b.txt, size: 150}\n';

interface Case {
  name: string;
  input: InputSpec;
  doc?: string;
  ids?: string[];
  values?: unknown[];
}

const cases: Case[] = [
  {
    name: 'falsy items sorted by a path they lack keep their order (they sort last)',
    input: { items: [null, 0, false], sortBy: { path: '$.x' } },
    ids: ['0', '1', '2'],
    values: [null, 0, false],
  },
  {
    name: 'a falsy item is its own id under idPath $',
    input: { items: [0, 'a'], idPath: '$' },
    ids: ['0', 'a'],
    values: [0, 'a'],
  },
  {
    name: 'inline items, ids are indexes',
    input: { items: ['x', 'y'] },
    ids: ['0', '1'],
    values: ['x', 'y'],
  },
  {
    name: 'a JSON array document',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '[1, 2, 3]',
    values: [1, 2, 3],
  },
  {
    name: 'a YAML document with a nested path',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.files' },
    doc: FILES_YAML,
    values: [
      { name: 'a.txt', size: 50 },
      { name: 'b.txt', size: 150 },
    ],
  },
  {
    name: 'a JSONPath filter',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.files[?(@.size > 100)]', idPath: '$.name' },
    doc: FILES_JSON,
    ids: ['b.txt', 'c.txt'],
  },
  {
    name: 'a path selecting several scalars',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.files[*].name' },
    doc: FILES_JSON,
    values: ['a.txt', 'b.txt', 'c.txt', 'd.txt'],
  },
  {
    name: 'sort descending, missing values last',
    input: {
      configMapRef: { name: 'c', key: 'k' },
      jsonPath: '$.files',
      sortBy: { path: '$.size', order: 'Descending' },
      idPath: '$.name',
    },
    doc: FILES_JSON,
    ids: ['c.txt', 'b.txt', 'a.txt', 'd.txt'],
  },
  {
    name: 'sort ascending (default), numbers before strings, stable',
    input: {
      items: [{ k: 'b' }, { k: 2 }, { k: 'a' }, { k: 1 }, {}, { k: 1, second: true }],
      sortBy: { path: '$.k' },
    },
    values: [{ k: 1 }, { k: 1, second: true }, { k: 2 }, { k: 'a' }, { k: 'b' }, {}],
  },
  {
    name: 'offset and maxItems',
    input: { items: [0, 1, 2, 3, 4], offset: 1, maxItems: 2 },
    values: [1, 2],
    ids: ['0', '1'],
  },
  { name: 'numeric ids', input: { items: [{ n: 7 }, { n: 8 }], idPath: '$.n' }, ids: ['7', '8'] },
];

const errors: { name: string; input: InputSpec; doc?: string; reason: string; message: string }[] = [
  {
    name: 'a YAML "billion laughs" of 353 bytes (9^9 values through aliases)',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.items' },
    doc: [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...'bcdefghi'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
      'items: [*i]',
    ].join('\n'),
    reason: 'InputInvalid',
    message:
      'spec.input.configMapRef: the input expands to more than 2000000 values (YAML aliases, or a cycle?)',
  },
  {
    name: 'a cyclic YAML document',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.items' },
    doc: 'items: &a [*a]',
    reason: 'InputInvalid',
    message:
      'spec.input.configMapRef: the input expands to more than 2000000 values (YAML aliases, or a cycle?)',
  },
  {
    name: 'YAML aliases that stay under the value limit but expand 100 KB into 200 MB of items',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.items' },
    doc: [
      `s: &s ${'x'.repeat(100_000)}`,
      `a: &a [${Array(5).fill('*s').join(', ')}]`,
      `items: [${Array(400).fill('*a').join(', ')}]`,
    ].join('\n'),
    reason: 'InputInvalid',
    message: `spec.input.configMapRef: the input expands to more than ${MAX_INPUT_BYTES} bytes as JSON (YAML aliases, or a cycle?)`,
  },
  {
    name: 'a YAML .nan inside an item (JSON would make it null)',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '[1, {size: .nan}]',
    reason: 'InputInvalid',
    message: 'spec.input: item 1 holds the number NaN, which JSON cannot represent (YAML .inf or .nan)',
  },
  {
    name: 'a YAML -.inf item',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '- -.inf',
    reason: 'InputInvalid',
    message: 'spec.input: item 0 holds the number -Infinity, which JSON cannot represent (YAML .inf or .nan)',
  },
  {
    name: 'an integer id beyond 2^53',
    input: { configMapRef: { name: 'c', key: 'k' }, idPath: '$.id' },
    doc: '[{"id": 9007199254740993}]',
    reason: 'InputInvalid',
    message:
      "spec.input.idPath: item 0's id 9007199254740992 is beyond 2^53 and cannot be read exactly; quote it as a string",
  },
  {
    name: 'an id with a control character',
    input: { items: [{ id: 'a' }, { id: 'b\u0007' }], idPath: '$.id' },
    reason: 'InputInvalid',
    message: "spec.input.idPath: item 1's id must be at most 256 characters without control characters",
  },
  {
    name: 'a huge id',
    input: { items: [{ id: 'x'.repeat(257) }], idPath: '$.id' },
    reason: 'InputInvalid',
    message: "spec.input.idPath: item 0's id must be at most 256 characters without control characters",
  },
  {
    name: 'an item nested 100,000 levels deep (it would overflow the stack)',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`,
    reason: 'InputInvalid',
    message: 'spec.input: item 0 is nested more than 1000 levels deep',
  },
  {
    name: 'a null item under an idPath',
    input: { items: [null, { id: 'b' }], idPath: '$.id' },
    reason: 'InputInvalid',
    message: 'spec.input.idPath: $.id gives no string or number for item 0',
  },
  {
    name: 'malformed document',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '{"a": [1,',
    reason: 'InputInvalid',
    message: 'spec.input.configMapRef: the document is neither JSON nor YAML',
  },
  {
    name: 'an unquoted secret that YAML reads as an alias: the message says where, not what',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '- user: a\n  password: *hunter2\n',
    reason: 'InputInvalid',
    message: 'spec.input.configMapRef: the document is neither JSON nor YAML: unidentified alias "…" (2:14)',
  },
  {
    name: 'an unquoted secret that YAML reads as a tag',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '- password: !hunter2 x\n',
    reason: 'InputInvalid',
    message: 'spec.input.configMapRef: the document is neither JSON nor YAML: unknown scalar tag !<…> (1:13)',
  },
  {
    name: 'an unquoted secret that YAML reads as a tag with characters a tag cannot hold',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '- password: !hunter>2 x\n',
    reason: 'InputInvalid',
    message:
      'spec.input.configMapRef: the document is neither JSON nor YAML: tag name cannot contain such characters (1:22)',
  },
  {
    name: 'several YAML documents',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: '- 1\n---\n- 2\n',
    reason: 'InputInvalid',
    message: 'must be a single JSON or YAML document, found 2',
  },
  {
    name: 'a document that is not an array',
    input: { configMapRef: { name: 'c', key: 'k' } },
    doc: FILES_JSON,
    reason: 'InputInvalid',
    message:
      'spec.input: the document is a object, not an array; set spec.input.jsonPath to select the items',
  },
  {
    name: 'a JSONPath that selects nothing',
    input: { configMapRef: { name: 'c', key: 'k' }, jsonPath: '$.nothing' },
    doc: FILES_JSON,
    reason: 'InputInvalid',
    message: 'spec.input.jsonPath: $.nothing selected no items',
  },
  {
    name: 'an offset past the end',
    input: { items: [1, 2], offset: 2 },
    reason: 'InputInvalid',
    message: 'spec.input.offset: 2 skips all 2 items; no items are left',
  },
  {
    name: 'an empty list',
    input: { items: [] },
    reason: 'InputInvalid',
    message: 'spec.input: the input has no items',
  },
  {
    name: 'duplicate ids',
    input: { items: [{ id: 'a' }, { id: 'b' }, { id: 'a' }], idPath: '$.id' },
    reason: 'DuplicateItemId',
    message: 'spec.input.idPath: items 0 and 2 have the same id "a"',
  },
  {
    name: 'an item without an id',
    input: { items: [{ id: 'a' }, {}], idPath: '$.id' },
    reason: 'InputInvalid',
    message: 'spec.input.idPath: $.id gives no string or number for item 1',
  },
  {
    name: 'too many items',
    input: { items: Array.from({ length: MAX_ITEMS + 1 }, (_, i) => i) },
    reason: 'InputInvalid',
    message: `spec.input: ${MAX_ITEMS + 1} items is more than the ${MAX_ITEMS} a job may have`,
  },
];

describe('resolveItems', function () {
  for (const tc of cases) {
    it(`resolves ${tc.name}`, function () {
      const items = resolveItems(tc.input, tc.doc);
      expect(items.map((i) => i.index)).to.deep.equal(items.map((_, i) => i));
      if (tc.ids) expect(items.map((i) => i.id)).to.deep.equal(tc.ids);
      if (tc.values) expect(items.map((i) => i.value)).to.deep.equal(tc.values);
    });
  }

  for (const tc of errors) {
    it(`refuses ${tc.name} with ${tc.reason}`, function () {
      let caught: unknown;
      try {
        resolveItems(tc.input, tc.doc);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InputError);
      expect((caught as InputError).reason).to.equal(tc.reason);
      expect((caught as InputError).message).to.contain(tc.message);
    });
  }

  it('never runs code from a filter expression', function () {
    const marker = globalThis as { pwned?: boolean };
    delete marker.pwned;
    let caught: unknown;
    try {
      resolveItems({
        items: [{ a: 1 }],
        jsonPath: "$[?(@.constructor.constructor('globalThis.pwned = true')())]",
      });
    } catch (err) {
      caught = err;
    }
    expect(marker.pwned).to.equal(undefined);
    expect(caught).to.be.instanceOf(InputError);
  });
});
