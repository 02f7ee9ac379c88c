// Results are stored in append-only pieces: immutable ConfigMaps, each written once, named by the first
// item index they hold. A succeeded pod's result waits in its (tracked) pod until a batch is worth a
// piece, so a result is written once, not merged into a growing ConfigMap that etcd rewrites on every
// result (200 results per shard cost ~80 MB of revisions before). Pure: no I/O.
import { IndexSet, parseIndexRanges } from './indexranges.js';

/** A piece is flushed once this many results wait: the most a piece holds (the old shard size). */
export const FLUSH_RESULTS = 200;
/**
 * A piece holds at most this many bytes of keys and values as the API server stores them (UTF-8; the
 * kubelet turns invalid bytes into the 3-byte U+FFFD, so a 4 KiB message can take 12 KiB), under a
 * ConfigMap's 1 MiB with room for metadata.
 */
export const MAX_PIECE_BYTES = 768 * 1024;
/** A result waits at most this long for others to share its piece; status counts it once stored. */
export const FLUSH_AFTER_MS = 10_000;
/**
 * Pieces a job may have before only full pieces are written (no more flushes by age): keeps the list in
 * status (and the reduce pod's volume sources) bounded. 100,000 items make 500 full pieces.
 */
export const MAX_TIMED_PIECES = 1_500;
/**
 * The kubelet keeps at most the last 4096 bytes of a termination message: a result this long may have
 * lost its beginning, and is flagged.
 */
export const TERMINATION_MESSAGE_LIMIT_BYTES = 4096;

/** The bytes a ConfigMap entry takes as the API server stores it. */
export function storedBytes(key: string, value: string): number {
  return Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
}

export function mayBeTruncated(result: string): boolean {
  return Buffer.byteLength(result, 'utf8') >= TERMINATION_MESSAGE_LIMIT_BYTES;
}

export interface WaitingResult {
  index: number;
  result: string;
  /** When its pod finished (ms since epoch). */
  finishedAtMs: number;
  /** storedBytes(String(index), result), if the caller keeps it (every reconcile asks again of the same results). */
  bytes?: number;
}

export interface FlushInput {
  waiting: WaitingResult[];
  /** Pieces the job already has. */
  pieces: number;
  /** Map attempts still running: when none are, nothing more is coming to share a piece with. */
  running: number;
  /** Whether the job may end in this computation (an item failed for good, the deadline passed). */
  ending: boolean;
  nowMs: number;
}

/** Whether the waiting results are written now, or when to look again. Pure. */
export function flushDecision(input: FlushInput): { flush: boolean; recheckAfterMs?: number } {
  const { waiting } = input;
  if (waiting.length === 0) return { flush: false };
  let bytes = 0;
  let oldest = Infinity;
  for (const w of waiting) {
    bytes += w.bytes ?? storedBytes(String(w.index), w.result);
    oldest = Math.min(oldest, w.finishedAtMs);
  }
  if (waiting.length >= FLUSH_RESULTS || bytes >= MAX_PIECE_BYTES || input.running === 0 || input.ending)
    return { flush: true };
  if (input.pieces >= MAX_TIMED_PIECES) return { flush: false };
  const dueMs = oldest + FLUSH_AFTER_MS - input.nowMs;
  return dueMs <= 0 ? { flush: true } : { flush: false, recheckAfterMs: dueMs };
}

export interface Piece {
  /** The first item index it holds: its name's suffix. */
  first: number;
  data: Record<string, string>;
}

/** Splits results into pieces in index order, each under MAX_PIECE_BYTES. Pure. */
export function splitPieces(results: Map<number, string>): Piece[] {
  const pieces: Piece[] = [];
  let current: Piece | undefined;
  let bytes = 0;
  for (const index of [...results.keys()].sort((a, b) => a - b)) {
    const key = String(index);
    const value = results.get(index)!;
    const size = storedBytes(key, value);
    if (!current || bytes + size > MAX_PIECE_BYTES) {
      current = { first: index, data: {} };
      pieces.push(current);
      bytes = 0;
    }
    current.data[key] = value;
    bytes += size;
  }
  return pieces;
}

/** The status's list of pieces (their first indexes) once these are added to the earlier list. Pure. */
export function listPieces(previous: string | undefined, firsts: Iterable<number>): string {
  return parseIndexRanges(previous ?? '')
    .union(IndexSet.of(firsts))
    .toString();
}

/**
 * Whether a piece already stored under the name of the piece about to be written can be listed as it is: it
 * holds its name's index, and nothing but results being stored now, each the same. Such a piece was written
 * from the same pods by a reconcile whose status write did not land, or may still land (a leader paused
 * between the two, then replaced): listing it as it is keeps both writers' records exact, whichever status
 * write wins. Pure.
 */
export function takesAsItIs(
  stored: Readonly<Record<string, string>> | undefined,
  first: number,
  storing: ReadonlyMap<number, string>,
): boolean {
  if (!stored || !Object.hasOwn(stored, String(first))) return false;
  for (const [key, value] of Object.entries(stored)) {
    if (storing.get(Number(key)) !== value) return false;
  }
  return true;
}

/**
 * A stored piece that holds results not being stored now, under the name of a piece about to be written:
 * replaced only when no status write can ever list it. The status a fresh read shows lists it (this
 * reconcile's cache is behind): wait. The job is still at the resourceVersion its writer read, on which that
 * writer's status write is conditioned (a paused replica's may still land, a killed one's never): fence, i.e.
 * move the job past it so that write can only conflict, then replace on the retry. Otherwise its writer's
 * status write can only conflict already: replace. Pure.
 */
export function strayPieceDecision(input: {
  /** Whether the job's status, read fresh, lists the piece. */
  listed: boolean;
  /** The job's resourceVersion, read fresh. */
  jobVersion: string | undefined;
  /** The job's resourceVersion the piece's writer read (its annotation); undefined if it has none. */
  writtenAtVersion: string | undefined;
}): 'replace' | 'wait' | 'fence' {
  if (input.listed) return 'wait';
  if (input.writtenAtVersion !== undefined && input.writtenAtVersion === input.jobVersion) return 'fence';
  return 'replace';
}
