import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { parseS3BlobUrl } from '../../src/storage/blob/s3-blob-store.js';
import { INLINE_FILE } from '../../src/storage/blob/inline-blob-store.js';
import { sqliteDriver } from '../../src/storage/metadata/sqlite-driver.js';
import { cephClient } from './engines.js';
import { ROOT_KEY, type TestServer } from './server.js';

// Raw S3 requests for what the SDK will not send: chosen Host headers, tampered bodies,
// hand-made aws-chunked bodies, missing Content-Length, aborted uploads. Signed with
// @smithy/signature-v4 (the SDK's own signer), sent with node:http.

/** SHA-256 in the shape @smithy/signature-v4 expects (a Checksum constructor). */
class Sha256 {
  private hash;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.make();
  }
  private make() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.make();
  }
}

function bytesOf(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export function signer(credentials: Credentials = ROOT_KEY, region = 'us-east-1'): SignatureV4 {
  return new SignatureV4({ service: 's3', region, credentials, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
}

export const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** AWS's UriEncode (RFC 3986 unreserved kept; '/' kept in paths). */
export function awsEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const ch of value) {
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface RawRequest {
  method: string;
  /** Path, already percent-encoded as it goes on the wire. */
  path: string;
  /** Query parameters (encoded here). */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Host header (and signed host); defaults to 127.0.0.1:<port>. */
  host?: string;
  /** Sign with these credentials (default: the root key); false sends the request anonymously. */
  sign?: Credentials | false;
  /** x-amz-content-sha256 to sign; defaults to the SHA-256 of the body. */
  payloadHash?: string;
  signingDate?: Date;
  /** Send this body instead of `body` (after signing): tampering. */
  sendBody?: Buffer | string;
  /** Connect to this address of the server (one it listens on) instead of 127.0.0.1. */
  address?: string;
}

export function queryString(query: Record<string, string> | undefined): string {
  if (!query) return '';
  const parts = Object.entries(query).map(([k, v]) => (v === '' ? awsEncode(k) : `${awsEncode(k)}=${awsEncode(v)}`));
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Signs a request; returns the headers to send (host included). */
export async function signedHeaders(server: TestServer, r: RawRequest): Promise<Record<string, string>> {
  const host = r.host ?? `127.0.0.1:${server.port}`;
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const headers: Record<string, string> = { host, ...(r.headers ?? {}) };
  if (r.sign === false) return headers;
  headers['x-amz-content-sha256'] = r.payloadHash ?? sha256Hex(body);
  const signed = await signer(r.sign ?? ROOT_KEY).sign(
    {
      method: r.method,
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      port: server.port,
      path: r.path,
      query: r.query ?? {},
      headers,
    },
    { signingDate: r.signingDate ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}

/** Sends a request and reads the whole response. */
export async function raw(server: TestServer, r: RawRequest): Promise<RawResponse> {
  const headers = await signedHeaders(server, r);
  const body = r.sendBody ?? r.body;
  const bytes = body === undefined ? undefined : Buffer.from(body);
  if (bytes && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    headers['content-length'] = String(bytes.length);
  }
  return send(server, r.method, r.path + queryString(r.query), headers, bytes, r.address);
}

export function send(server: TestServer, method: string, pathAndQuery: string, headers: Record<string, string>, body?: Buffer | Buffer[], address = '127.0.0.1'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: address, port: server.port, method, path: pathAndQuery, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const b of body) req.write(b);
      req.end();
    } else req.end(body);
  });
}

/**
 * Writes bytes to a new connection exactly as given (no header added, several requests at once if
 * they say so) and reads everything the server sends until it closes the connection.
 */
export function sendOnSocket(server: Pick<TestServer, 'port'>, wire: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.write(wire));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

/** A request head as it goes on the wire: request line, these headers, blank line. */
export function requestHead(method: string, target: string, headers: Record<string, string>): string {
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The text of `<name>` in an XML document (first occurrence). */
export function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m?.[1];
}

// ---- aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) by hand ----

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

export function signingKey(secret: string, date: string, region = 'us-east-1'): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

/** Frames `chunks` as a signed aws-chunked body, chaining signatures from `seedSignature`. */
export function signedChunkedBody(chunks: Buffer[], seedSignature: string, amzDate: string, secret = ROOT_KEY.secretAccessKey): Buffer[] {
  const key = signingKey(secret, amzDate.slice(0, 8));
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const emptyHash = sha256Hex('');
  let previous = seedSignature;
  const out: Buffer[] = [];
  for (const chunk of [...chunks, Buffer.alloc(0)]) {
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, emptyHash, sha256Hex(chunk)].join('\n');
    const sig = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
    previous = sig;
    out.push(Buffer.concat([Buffer.from(`${chunk.length.toString(16)};chunk-signature=${sig}\r\n`), chunk, Buffer.from('\r\n')]));
  }
  return out;
}

/**
 * Frames `chunks` as STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks, then the trailing
 * headers and their signature (x-amz-trailer-signature).
 */
export function signedChunkedBodyWithTrailer(
  chunks: Buffer[],
  trailers: Record<string, string>,
  seedSignature: string,
  amzDate: string,
  secret = ROOT_KEY.secretAccessKey,
): Buffer[] {
  const key = signingKey(secret, amzDate.slice(0, 8));
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const emptyHash = sha256Hex('');
  let previous = seedSignature;
  const out: Buffer[] = [];
  for (const chunk of [...chunks, Buffer.alloc(0)]) {
    const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, emptyHash, sha256Hex(chunk)].join('\n');
    previous = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
    const framed = [Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`), chunk];
    if (chunk.length > 0) framed.push(Buffer.from('\r\n'));
    out.push(Buffer.concat(framed));
  }
  const canonical = Object.entries(trailers).map(([k, v]) => `${k}:${v}\n`).join('');
  const toSign = ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, previous, sha256Hex(canonical)].join('\n');
  const trailerSignature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  const lines = Object.entries(trailers).map(([k, v]) => `${k}:${v}\r\n`).join('');
  out.push(Buffer.from(`${lines}x-amz-trailer-signature:${trailerSignature}\r\n\r\n`));
  return out;
}

/** Frames `chunks` as STREAMING-UNSIGNED-PAYLOAD-TRAILER (what the SDK sends for streams). */
export function unsignedChunkedBodyWithTrailer(chunks: Buffer[], trailers: Record<string, string>): Buffer[] {
  const out = chunks.map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
  const lines = Object.entries(trailers).map(([k, v]) => `${k}:${v}\r\n`).join('');
  out.push(Buffer.from(`0\r\n${lines}\r\n`));
  return out;
}

/** The seed signature from a signed Authorization header. */
export function seedSignatureOf(headers: Record<string, string>): string {
  const auth = headers.authorization ?? headers.Authorization;
  return /Signature=([0-9a-f]{64})/.exec(auth)![1];
}

// ---- blob files on disk ----

/**
 * What the blob store holds, sorted: files under the data folder's blobs/ (not tmp/) and the small
 * blobs of its inline database (as inline/<ref>), or on the distributed configuration the refs the
 * S3 backend bucket holds.
 */
/** Blob files there now that were not in `before`: what a refused write left behind (one released earlier may go meanwhile). */
export async function blobsAddedSince(server: TestServer, before: readonly string[]): Promise<string[]> {
  const seen = new Set(before);
  return (await blobFiles(server)).filter((f) => !seen.has(f));
}

export async function blobFiles(server: TestServer): Promise<string[]> {
  if (server.storage?.blobs) {
    const refs: string[] = [];
    for await (const { ref } of server.blobs.list()) refs.push(ref);
    return refs.sort();
  }
  const root = join(server.dataDir, 'blobs');
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (rel === '' && (e.name === 'tmp' || e.name.startsWith(INLINE_FILE))) continue;
      if (e.isDirectory()) await walk(join(dir, e.name), join(rel, e.name));
      else out.push(join(rel, e.name));
    }
  };
  await walk(root, '');
  // Small blobs live in the folder's inline database: listed as inline/<ref>.
  const inline = join(root, INLINE_FILE);
  if (existsSync(inline)) {
    const db = new (sqliteDriver())(inline, { readonly: true });
    try {
      for (const ref of db.prepare('select ref from blobs').pluck().all() as string[]) out.push(join('inline', ref));
    } finally {
      db.close();
    }
  }
  return out.sort();
}

/** The stored bytes of each entry of blobFiles (local folder only): a file's, or an inline blob's row. */
export async function blobBytes(server: Pick<TestServer, 'dataDir'>, files: string[]): Promise<Buffer[]> {
  const root = join(server.dataDir, 'blobs');
  const inline = files.some((f) => f.startsWith('inline/')) ? new (sqliteDriver())(join(root, INLINE_FILE), { readonly: true }) : null;
  try {
    const read = inline?.prepare('select data from blobs where ref = ?').pluck();
    return await Promise.all(files.map(async (f) => (f.startsWith('inline/') ? (read!.get(f.slice('inline/'.length)) as Buffer) : readFile(join(root, f)))));
  } finally {
    inline?.close();
  }
}

/**
 * What the blob store holds once every released blob is gone: at once on one node; on the
 * distributed configuration, released blobs wait for the collector (after a grace), so this
 * waits until the backend holds exactly the blobs the metadata refers to.
 */
export async function settledBlobFiles(server: TestServer): Promise<string[]> {
  if (!server.storage?.blobs) return blobFiles(server);
  for (let i = 0; i < 100; i++) {
    const [files, refs] = await Promise.all([blobFiles(server), server.meta.referencedBlobRefs()]);
    if (files.length === refs.size && files.every((f) => refs.has(f))) return files;
    await sleep(100);
  }
  throw new Error('the blob collector did not catch up within 10 s');
}

/** Puts in progress (or left behind): temp files, or the S3 backend's unfinished multipart uploads. */
export async function tmpFiles(server: TestServer): Promise<string[]> {
  const s3 = parseS3BlobUrl(server.storage?.blobs);
  if (s3) {
    const admin = cephClient();
    try {
      const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
      return (r.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
    } finally {
      admin.destroy();
    }
  }
  return readdir(join(server.dataDir, 'blobs', 'tmp'));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
