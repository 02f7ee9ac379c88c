// What a failed Kubernetes API call means, in one place: every caller asks these, never `err.code` itself.
import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of a failed API call: client-node's ApiException, or a watch error that carries one. */
export function apiStatusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined; // Node's system errors have string codes (ECONNRESET)
}

export function isNotFound(err: unknown): boolean {
  return apiStatusCode(err) === 404;
}

/** 409: a write with a stale resourceVersion, or a create of a name that exists (AlreadyExists). */
export function isConflict(err: unknown): boolean {
  return apiStatusCode(err) === 409;
}

/** 400 and 422: the API server refuses the object itself; sending it again cannot help. */
export function isInvalid(err: unknown): boolean {
  const code = apiStatusCode(err);
  return code === 400 || code === 422;
}

/** The API server's own message (its Status body), not client-node's dump of code, body and headers. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    let status: unknown = body;
    if (typeof body === 'string') {
      try {
        status = JSON.parse(body);
      } catch {
        return body || `HTTP ${err.code}`;
      }
    }
    const message = (status as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message : `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * This reconcile's view (its cache) is behind what another writer did, or may yet do: retried, as a conflict
 * is, and logged at info (routine at a leader handover), not as an error.
 */
export class StaleViewError extends Error {}

/** An object has the name the operator would give it but another owner (an earlier job of the same name). */
export class ForeignObjectError extends Error {
  constructor(kind: string, namespace: string, name: string) {
    super(
      `${kind} ${namespace}/${name} belongs to another owner (an earlier job of this name?); waiting for it to go`,
    );
    this.name = 'ForeignObjectError';
  }
}

/** How long the API server asked us to wait (429 or 503 with Retry-After, in seconds), in ms; else undefined. */
export function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const code = err.code;
  if (code !== 429 && code !== 503) return undefined;
  const headers = (err.headers ?? {}) as Record<string, string | undefined>;
  const value = headers['retry-after'] ?? headers['Retry-After'];
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
