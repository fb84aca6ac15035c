import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { S3Error } from './errors.js';
import { storageFullCode } from '../storage/storage-full.js';
import { backendUnavailable } from '../storage/backend-unavailable.js';

// How a failed S3 request is logged. Only a failure of the server itself is an error with its
// stack; a full disk is one warning line (the operator's cue to add space), and a client that
// went away mid-request is an abort, not a fault. S3 errors (the client's mistakes) are not
// logged at all: the response says what was wrong.

/** The client closed the connection before its request was complete. */
export function clientAborted(req: IncomingMessage): boolean {
  return !req.complete && (req.destroyed || req.socket.destroyed);
}

export function logFailure(log: Logger, err: unknown, req: IncomingMessage, at: { requestId: string; op: string }): void {
  const full = storageFullCode(err);
  const unavailable = full ? undefined : backendUnavailable(err);
  if (full) {
    log.warn({ ...at, code: full }, 'storage full: the request was refused (507 XMinioStorageFull); free space on the data folder');
  } else if (clientAborted(req)) {
    log.info({ ...at, code: err instanceof S3Error ? err.code : (err as { code?: string } | null)?.code }, 'client aborted the request');
  } else if (unavailable) {
    log.warn({ ...at, reason: unavailable }, 'a storage backend is unreachable: the request was refused (503 ServiceUnavailable)');
  } else if (!(err instanceof S3Error)) {
    log.error({ err, ...at }, 'internal error');
  }
}
