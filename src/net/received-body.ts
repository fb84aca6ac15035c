import type { IncomingMessage } from 'node:http';

// "Bytes in", for the usage report and /metrics: the request body bytes the server read. Headers
// that announce a length (Content-Length, x-amz-decoded-content-length) are the client's word: they
// come with body-less, refused and abandoned requests alike, and a body sent without one (chunked)
// is still data received. An object's bytes count as the handler reads them (aws-chunked framing
// and chunk signatures not counted, so an upload counts the same however the client signed it).

/** The body a request's handler reads, by what has passed through it so far. */
const counted = new WeakMap<IncomingMessage, { readonly size: number }>();

/** Counts `body` (whose size grows as the handler reads it) as the body bytes of `req`. */
export function countReceivedBody(req: IncomingMessage, body: { readonly size: number }): void {
  counted.set(req, body);
}

/**
 * The body bytes `req` delivered: what its counted body read, else, once Node has received the
 * whole body (a JSON or form document read whole), the Content-Length it then had to match.
 */
export function receivedBodyLength(req: IncomingMessage): number {
  const body = counted.get(req);
  if (body) return body.size;
  return req.complete ? Number(req.headers['content-length'] ?? 0) || 0 : 0;
}
