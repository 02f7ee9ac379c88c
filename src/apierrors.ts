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
