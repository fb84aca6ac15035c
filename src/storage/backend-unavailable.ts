// A storage backend that cannot be reached (refused, reset, timed out, restarting) is not a bug of
// the server: the request is refused with 503 ServiceUnavailable, which SDKs retry, and one
// warning is logged without a stack. These are the errors the S3 SDK, node-postgres and sockets
// raise for it.

/** Socket-level codes of a connection that failed or could not be made. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/** SQLSTATEs of a PostgreSQL server that is shutting down, starting up or unreachable (class 08). */
const POSTGRES_DOWN = /^(08...|57P0[123])$/;
/** node-postgres raises these without a code when the server closes the connection. */
const POSTGRES_CLOSED = /^Connection terminated/;

/** A short reason when `err` means "the backend is unreachable or stalled", else undefined. */
export function backendUnavailable(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  // The S3 SDK's connection and stall timeouts (s3-blob-store.ts).
  if (e.name === 'TimeoutError') return 'TimeoutError';
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || POSTGRES_DOWN.test(e.code))) return e.code;
  if (typeof e.message === 'string' && POSTGRES_CLOSED.test(e.message)) return e.message;
  return undefined;
}
