import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

// "Bytes out", for the usage report and /metrics: the body bytes a response sent. A HEAD or a 304
// announces a length it does not send; a download the client abandons part way (a video player
// seeking, a cancelled sync) sent only what went out before it, not its Content-Length.

/**
 * Responses whose client went away before they began. A handler may still answer into the closed
 * connection afterwards (an error its failed body caused), which sets a status nobody received.
 */
const abandoned = new WeakSet<ServerResponse>();

/** S3-compatible servers (after nginx) count and log a request whose client closed it first as 499. */
export const CLIENT_CLOSED_REQUEST = 499;

/** Notes, as `res` closes, whether its client went away before it was answered. */
export function noteClosed(res: ServerResponse): void {
  if (!res.headersSent) abandoned.add(res);
}

/** The status `res` is counted and logged with: 499 if its client went away before it began. */
export function answeredStatus(res: ServerResponse): number {
  return abandoned.has(res) ? CLIENT_CLOSED_REQUEST : res.statusCode;
}

/** Bytes each streamed body has handed on to its response so far. */
const streamed = new WeakMap<ServerResponse, { bytes: number }>();

/** Counts what `body` hands on as the body of `res`; call it before the body starts flowing. */
export function countSentBody(res: ServerResponse, body: Readable): void {
  const handed = { bytes: 0 };
  streamed.set(res, handed);
  body.on('data', (chunk: Buffer) => {
    handed.bytes += chunk.length;
  });
}

/** The body bytes `res` sent: exact once it has closed; its Content-Length when its body was not streamed. */
export function sentBodyLength(req: IncomingMessage, res: ServerResponse): number {
  if (req.method === 'HEAD' || res.statusCode === 304 || abandoned.has(res)) return 0;
  return streamed.get(res)?.bytes ?? (Number(res.getHeader('content-length') ?? 0) || 0);
}
