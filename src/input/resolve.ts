// Resolves a job's work items from its spec.input: parse the document, select with JSONPath, sort,
// offset, limit, and give each item a stable id. Pure: the caller reads the ConfigMap.
import { JSONPath } from 'jsonpath-plus';
import { loadAll, YAMLException } from 'js-yaml';
import type { InputSpec, JsonValue } from '../api/types.js';

/** Status ranges, result shards and the input snapshot are sized for this many items. */
export const MAX_ITEMS = 100_000;
/** Deeper items would overflow the stack of JSON.stringify and JSONPath; no real work item nests this deep. */
export const MAX_ITEM_DEPTH = 1000;
/**
 * Values (arrays, objects, scalars) a whole input may expand to. A 1 MiB ConfigMap holds at most about 512 Ki
 * values; YAML aliases can make 1 KiB expand to billions (a "billion laughs"), and js-yaml has no alias limit.
 */
export const MAX_INPUT_VALUES = 2_000_000;
/**
 * About how many bytes of JSON a whole input may expand to. Without aliases an input is at most a 1 MiB ConfigMap
 * or a job etcd accepts (1.5 MiB); aliases under MAX_INPUT_VALUES can still make 100 KB of YAML gigabytes of
 * items, which the operator would hold in memory and write into its input snapshot.
 */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** Ids are span attributes and log fields: an id is a name, not a payload. */
export const MAX_ITEM_ID_LENGTH = 256;

export type InputErrorReason =
  | 'InputNotFound'
  | 'InputInvalid'
  | 'DuplicateItemId'
  | 'SourceJobNotFound'
  | 'SourceJobNotFinished'
  | 'SourceJobHasNoFailedItems'
  | 'SourceJobInOtherNamespace';

/** A problem with a job's input that no retry will fix: the job fails with `reason` as its condition reason. */
export class InputError extends Error {
  constructor(
    readonly reason: InputErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

export interface ResolvedItem {
  index: number;
  id: string;
  value: JsonValue;
}

/** Parses a ConfigMap value as JSON, else as a single YAML document. */
export function parseDocument(text: string, field = 'spec.input.configMapRef'): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    // not JSON: YAML is a superset, so try that
  }
  let docs: unknown[];
  try {
    docs = loadAll(text);
  } catch (err) {
    throw new InputError(
      'InputInvalid',
      `${field}: the document is neither JSON nor YAML: ${yamlReason(err)}`,
    );
  }
  if (docs.length !== 1) {
    throw new InputError(
      'InputInvalid',
      `${field}: the document must be a single JSON or YAML document, found ${docs.length}`,
    );
  }
  return docs[0] as JsonValue;
}

/**
 * Why js-yaml could not read a document, and where, without the document's text: some of its reasons quote
 * an alias or tag name, and a secret written unquoted reads as one (`password: *x` is an alias, `!x` a tag).
 * The message goes into the job's condition, an Event, the job span and the log.
 */
function yamlReason(err: unknown): string {
  if (!(err instanceof YAMLException)) return 'unreadable';
  const reason = err.reason.replace(/".*"/g, '"…"').replace(/!<.*>/g, '!<…>').replace(/: .*$/, '');
  return err.mark ? `${reason} (${err.mark.line + 1}:${err.mark.column + 1})` : reason;
}

function query(path: string, json: JsonValue, field: string): JsonValue[] {
  if (!path.startsWith('$'))
    throw new InputError('InputInvalid', `${field}: "${path}" is not a JSONPath (it must start with $)`);
  try {
    // eval 'safe': filter expressions are interpreted, never run as JavaScript (job specs are user input).
    const matches = JSONPath({ path, json, wrap: true, eval: 'safe' }) as JsonValue[] | undefined;
    // jsonpath-plus answers undefined for a falsy document (null, 0, false, ""): `$` is the value itself, and
    // no other path matches inside a scalar.
    return matches ?? (path === '$' ? [json] : []);
  } catch (err) {
    throw new InputError(
      'InputInvalid',
      `${field}: invalid JSONPath "${path}": ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function selectItems(input: InputSpec, document: JsonValue): JsonValue[] {
  if (input.jsonPath === undefined) {
    if (!Array.isArray(document)) {
      throw new InputError(
        'InputInvalid',
        `spec.input: the document is a ${typeName(document)}, not an array; set spec.input.jsonPath to select the items`,
      );
    }
    return document;
  }
  const matches = query(input.jsonPath, document, 'spec.input.jsonPath');
  if (matches.length === 0)
    throw new InputError('InputInvalid', `spec.input.jsonPath: ${input.jsonPath} selected no items`);
  // A path that selects one array (`$.files`) means its elements; several matches are the items themselves.
  if (matches.length === 1 && Array.isArray(matches[0])) return matches[0];
  return matches;
}

/**
 * Counts the values a document expands to and about how many bytes of JSON they make, stopping at either limit
 * (a cycle or an alias bomb stops there too).
 */
function checkSize(document: JsonValue, field: string): void {
  let count = 0;
  let bytes = 0;
  const stack: JsonValue[] = [document];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (++count > MAX_INPUT_VALUES) {
      throw new InputError(
        'InputInvalid',
        `${field}: the input expands to more than ${MAX_INPUT_VALUES} values (YAML aliases, or a cycle?)`,
      );
    }
    // A string's quotes, a scalar's digits or an empty container's brackets; each key with its quotes and colon.
    bytes += typeof v === 'string' ? v.length + 2 : 8;
    if (v !== null && typeof v === 'object') {
      if (!Array.isArray(v)) for (const key of Object.keys(v)) bytes += key.length + 4;
      for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child);
    }
    if (bytes > MAX_INPUT_BYTES) {
      throw new InputError(
        'InputInvalid',
        `${field}: the input expands to more than ${MAX_INPUT_BYTES} bytes as JSON (YAML aliases, or a cycle?)`,
      );
    }
  }
}

/** The first number in a value that JSON cannot hold (YAML's .inf and .nan), without recursion. */
function nonFiniteNumberIn(value: JsonValue): number | undefined {
  const stack: JsonValue[] = [value];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return v;
    if (v !== null && typeof v === 'object')
      for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child);
  }
  return undefined;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** How deeply arrays and objects nest in a value (a scalar is 0), without recursion. */
function checkDepth(value: JsonValue, index: number): void {
  if (depthOf(value) > MAX_ITEM_DEPTH) {
    throw new InputError(
      'InputInvalid',
      `spec.input: item ${index} is nested more than ${MAX_ITEM_DEPTH} levels deep`,
    );
  }
}

/**
 * The checks inline items must pass before they can be copied (structuredClone, IPC) at all: their size and
 * how deep they nest, both walked without recursion. The API server takes items 10,000 levels deep.
 */
export function checkInlineItems(items: JsonValue[]): void {
  checkSize(items, 'spec.input.items');
  items.forEach(checkDepth);
}

function depthOf(value: JsonValue): number {
  let deepest = 0;
  const stack: [JsonValue, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_ITEM_DEPTH) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function typeName(v: JsonValue): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

type SortKey = number | string | undefined;

function compareKeys(a: SortKey, b: SortKey): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1; // numbers before strings
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKey(item: JsonValue, path: string): SortKey {
  const v = query(path, item, 'spec.input.sortBy.path')[0];
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'boolean') return Number(v);
  return undefined;
}

export function resolveItems(input: InputSpec, documentText?: string): ResolvedItem[] {
  let values: JsonValue[];
  if (input.items !== undefined) {
    checkSize(input.items, 'spec.input.items');
    values = input.jsonPath === undefined ? input.items : selectItems(input, input.items);
  } else if (documentText !== undefined) {
    const document = parseDocument(documentText);
    checkSize(document, 'spec.input.configMapRef');
    values = selectItems(input, document);
  } else {
    throw new InputError('InputInvalid', 'spec.input: one of items and configMapRef must be set');
  }

  values.forEach((value, index) => {
    checkDepth(value, index);
    // JSON would write it as null: the pod would get another item than the input holds.
    const nonFinite = nonFiniteNumberIn(value);
    if (nonFinite !== undefined) {
      throw new InputError(
        'InputInvalid',
        `spec.input: item ${index} holds the number ${nonFinite}, which JSON cannot represent (YAML .inf or .nan)`,
      );
    }
  });

  if (input.sortBy) {
    const { path, order = 'Ascending' } = input.sortBy;
    const keyed = values.map((v, i) => ({ v, i, k: sortKey(v, path) }));
    const sign = order === 'Descending' ? -1 : 1;
    // Missing values sort last in both orders; ties keep input order (stable).
    keyed.sort((a, b) => {
      if (a.k === undefined || b.k === undefined) return compareKeys(a.k, b.k) || a.i - b.i;
      return sign * compareKeys(a.k, b.k) || a.i - b.i;
    });
    values = keyed.map((x) => x.v);
  }

  const offset = input.offset ?? 0;
  if (offset > 0) {
    if (offset >= values.length) {
      throw new InputError(
        'InputInvalid',
        `spec.input.offset: ${offset} skips all ${values.length} items; no items are left`,
      );
    }
    values = values.slice(offset);
  }
  if (input.maxItems !== undefined) values = values.slice(0, input.maxItems);
  if (values.length === 0) throw new InputError('InputInvalid', 'spec.input: the input has no items');
  if (values.length > MAX_ITEMS) {
    throw new InputError(
      'InputInvalid',
      `spec.input: ${values.length} items is more than the ${MAX_ITEMS} a job may have; split the job or set spec.input.maxItems`,
    );
  }

  const seen = new Map<string, number>();
  return values.map((value, index) => {
    let id = String(index);
    if (input.idPath !== undefined) {
      const v = query(input.idPath, value, 'spec.input.idPath')[0];
      if (typeof v !== 'string' && typeof v !== 'number') {
        throw new InputError(
          'InputInvalid',
          `spec.input.idPath: ${input.idPath} gives no string or number for item ${index}`,
        );
      }
      if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
        throw new InputError(
          'InputInvalid',
          `spec.input.idPath: item ${index}'s id ${v} is beyond 2^53 and cannot be read exactly; quote it as a string`,
        );
      }
      id = String(v);
      // Ids go into env vars, labels of telemetry and log lines: printable, and short.
      if (id.length > MAX_ITEM_ID_LENGTH || hasControlCharacter(id)) {
        throw new InputError(
          'InputInvalid',
          `spec.input.idPath: item ${index}'s id must be at most ${MAX_ITEM_ID_LENGTH} characters without control characters`,
        );
      }
    }
    const first = seen.get(id);
    if (first !== undefined) {
      throw new InputError(
        'DuplicateItemId',
        `spec.input.idPath: items ${first} and ${index} have the same id "${id}"`,
      );
    }
    seen.set(id, index);
    return { index, id, value };
  });
}
