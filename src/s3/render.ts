import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { S3Error } from './errors.js';
import { xmlDocument } from './xml.js';
import { storageFullCode } from '../storage/storage-full.js';
import { backendUnavailable } from '../storage/backend-unavailable.js';
import { countSentBody } from '../net/sent-body.js';

// The one place that writes S3 responses: status, headers, XML or streamed bodies, and errors.

export type HeaderValue = string | number | undefined;

export interface S3Response {
  status?: number;
  headers?: Record<string, HeaderValue>;
  /** A raw body: bytes, text, or a stream (object data). */
  body?: Readable | Buffer | string;
  /** An XML document: root element and its content (in the S3 namespace unless another, or none, is named). */
  xml?: { root: string; value: Record<string, unknown>; namespace?: string | false };
}

function setHeaders(res: ServerResponse, headers: Record<string, HeaderValue> | undefined): void {
  if (!headers) return;
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) res.setHeader(name, value);
  }
}

export async function renderResult(req: IncomingMessage, res: ServerResponse, requestId: string, result: S3Response): Promise<void> {
  res.statusCode = result.status ?? 200;
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('x-amz-id-2', requestId);
  res.setHeader('Server', 'skep');
  setHeaders(res, result.headers);
  let body = result.body;
  if (result.xml) {
    body = xmlDocument(result.xml.root, result.xml.value, result.xml.namespace ?? true);
    res.setHeader('Content-Type', 'application/xml');
  }
  if (body === undefined) {
    if (!res.hasHeader('Content-Length') && req.method !== 'HEAD') res.setHeader('Content-Length', 0);
    res.end();
    return;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.setHeader('Content-Length', bytes.length);
    // The head is settled before the body is handed over: when end(body) writes it implicitly,
    // Node.js re-decodes Content-Disposition as UTF-8 (nodejs/node#46528), which turns the
    // ISO-8859-1 bytes S3 sends (a filename with "é") into U+FFFD. HEAD and streamed bodies
    // were never affected, so this keeps a small GET's headers byte for byte the same as theirs.
    res.writeHead(res.statusCode);
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return;
  }
  if (req.method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  await streamBody(body, res);
}

/**
 * Streams `body` into `res`; settles once the response has finished or the connection is gone.
 * The head goes out with the first bytes, so a body that fails before it has any (a blob that is
 * missing or cannot be opened) rejects with `res` untouched and stripped of the object's headers:
 * the caller answers it with an S3 error. Later, a failure on either side destroys both: mid-stream,
 * a cut connection is the only signal left. The body's own failure rejects in both cases, so the
 * caller logs it as it logs any other failure. Plain pipe() rather than stream.pipeline:
 * pipeline makes an AbortController per call and aborts it when done, which builds a
 * DOMException with a stack trace, about a tenth of the main-thread CPU of a 4 KiB GET.
 */
function streamBody(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (failed: boolean, err?: Error) => {
      if (settled) return;
      settled = true;
      if (failed && err && !res.headersSent) {
        body.unpipe(res);
        body.destroy();
        for (const name of res.getHeaderNames()) res.removeHeader(name);
      } else if (failed) {
        body.destroy();
        res.destroy();
      }
      if (err) reject(err);
      else resolve();
    };
    if (res.destroyed) return done(true);
    countSentBody(res, body);
    body.on('error', (err: Error) => done(true, err));
    res.on('error', () => done(true));
    res.once('finish', () => done(false));
    // Closed before it finished: the client went away, so stop reading.
    res.once('close', () => done(!res.writableFinished));
    body.pipe(res);
  });
}

/** Characters XML 1.0 forbids even as references: most C0 controls, U+FFFE, U+FFFF, lone surrogates. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text an error echoes (a key, a header's value) as XML can hold it: a control character
 * percent-encoded, anything else XML forbids as U+FFFD. Written raw, it would make the whole
 * document unreadable, and the client would lose the error's code.
 */
function xmlReadable(text: string): string {
  return text.replace(NOT_XML, (c) => (c < ' ' ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : '\uFFFD'));
}

/** S3's error document (no namespace, as S3 writes it). */
function errorDocument(err: S3Error, resource: string, requestId: string): Buffer {
  const fields: Record<string, unknown> = { Code: err.code, Message: err.message, ...err.extra, Resource: resource, RequestId: requestId, HostId: requestId };
  for (const [name, value] of Object.entries(fields)) if (typeof value === 'string') fields[name] = xmlReadable(value);
  return xmlDocument('Error', fields, false);
}

export function renderError(req: IncomingMessage, res: ServerResponse, requestId: string, err: S3Error, resource: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = err.status;
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('x-amz-id-2', requestId);
  res.setHeader('Server', 'skep');
  setHeaders(res, err.headers);
  // HEAD responses carry no body; clients read the code from the status.
  if (req.method === 'HEAD' || err.status === 304) {
    res.end();
    return;
  }
  const bytes = errorDocument(err, resource, requestId);
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** An error of an STS action on the S3 endpoint, in STS's form (ErrorResponse/Error/Code), which STS clients parse. */
export function renderStsError(res: ServerResponse, requestId: string, err: S3Error): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = err.status;
  res.setHeader('x-amzn-RequestId', requestId);
  res.setHeader('Server', 'skep');
  setHeaders(res, err.headers);
  const bytes = xmlDocument(
    'ErrorResponse',
    { Error: { Type: err.status >= 500 ? 'Receiver' : 'Sender', Code: err.code, Message: err.message }, RequestId: requestId },
    STS_NAMESPACE,
  );
  res.setHeader('Content-Type', 'text/xml');
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

/**
 * The whole HTTP response for a request Node's parser rejected before any handler ran (e.g.
 * oversized headers): raw bytes for the socket, with the same S3 error document as renderError.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, requestId: string): Buffer {
  const s3 = err.code === 'HPE_HEADER_OVERFLOW'
    ? new S3Error('RequestHeaderSectionTooLarge')
    : new S3Error('InvalidRequest', 'The request could not be parsed.');
  // The path from the request line, when it got that far.
  const requestLine = err.rawPacket?.subarray(0, 8192).toString('latin1') ?? '';
  const resource = /^[A-Z]+ ([^\s?]+)/.exec(requestLine)?.[1] ?? '/';
  const body = errorDocument(s3, resource, requestId);
  const head =
    `HTTP/1.1 ${s3.status} Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\n` +
    `x-amz-request-id: ${requestId}\r\nx-amz-id-2: ${requestId}\r\nServer: skep\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (storageFullCode(err)) return new S3Error('XMinioStorageFull');
  if (backendUnavailable(err)) return new S3Error('ServiceUnavailable');
  return new S3Error('InternalError');
}

export { Readable };
