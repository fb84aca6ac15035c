// A lean S3 client for the bench: SigV4-signed node:http requests over a keep-alive agent.
//
// Why not the AWS SDK: the client shares the 2 cores with the server under test, and the SDK's
// middleware stack costs several times more CPU per request than the server-side work we want
// to measure for 4 KiB objects (see `npm run bench -- --client-overhead`). The requests below
// carry the same things the SDK v3 sends (SigV4 header auth, a signed payload hash and
// x-amz-checksum-crc32 for small bodies); only the SDK's own bookkeeping headers are left out.

import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { crc32 } from 'node:zlib';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** UriEncode from the SigV4 spec (keys in the bench are plain ASCII, but stay correct anyway). */
function uriEncode(value: string, keepSlash: boolean): string {
  const encoded = encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

/** SigV4 header signing with the signing key cached per day. */
export class Signer {
  private day = '';
  // A KeyObject: Node.js 24 makes an HMAC keyed by a Buffer several times dearer (see src/sigv4/canonical.ts).
  private key: KeyObject = createSecretKey(Buffer.alloc(32));

  constructor(
    private readonly creds: Credentials,
    private readonly region = 'us-east-1',
  ) {}

  private signingKey(date: string): KeyObject {
    if (date !== this.day) {
      const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
      this.key = createSecretKey(h(h(h(h(`AWS4${this.creds.secretAccessKey}`, date), this.region), 's3'), 'aws4_request'));
      this.day = date;
    }
    return this.key;
  }

  /**
   * Adds x-amz-date, x-amz-content-sha256 and authorization to `headers` (lower-case names; all
   * of them are signed). `query` is a list of decoded name/value pairs.
   */
  sign(method: string, path: string, query: [string, string][], headers: Record<string, string>, payloadHash: string): string {
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const date = amzDate.slice(0, 8);
    headers['x-amz-date'] = amzDate;
    headers['x-amz-content-sha256'] = payloadHash;
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim()}\n`).join('');
    const signedHeaders = names.join(';');
    const encodedQuery = query
      .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalPath = uriEncode(path, true);
    const creq = `${method}\n${canonicalPath}\n${encodedQuery}\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${date}/${this.region}/s3/aws4_request`;
    const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(creq).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(date)).update(sts).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return canonicalPath + (encodedQuery ? `?${encodedQuery}` : '');
  }

  /** Signs the chunks and trailer of an aws-chunked body, chained from the seed signature in `headers` (after sign()). */
  chunkSigner(headers: Record<string, string>): ChunkSigner {
    const amzDate = headers['x-amz-date'];
    const scope = `${amzDate.slice(0, 8)}/${this.region}/s3/aws4_request`;
    const key = this.signingKey(amzDate.slice(0, 8));
    let previous = /Signature=([0-9a-f]{64})/.exec(headers.authorization)![1];
    const next = (sts: string) => (previous = createHmac('sha256', key).update(sts).digest('hex'));
    return {
      chunk: (data) => next(`AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${EMPTY_SHA256}\n${createHash('sha256').update(data).digest('hex')}`),
      trailer: (canonical) => next(`AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previous}\n${createHash('sha256').update(canonical).digest('hex')}`),
    };
  }
}

/** The signatures of an aws-chunked body's chunks and trailer, each chained from the one before. */
export interface ChunkSigner {
  chunk(data: Buffer): string;
  /** `canonical`: the trailing headers as `name:value\n` lines. */
  trailer(canonical: string): string;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body, when it was collected. */
  body?: Buffer;
  /** Bytes received. */
  bytes: number;
  /** MD5 of the body (hex), when asked for. */
  md5?: string;
}

export type BodySource = Buffer | { size: number; chunks: () => Iterable<Buffer> | AsyncIterable<Buffer> };

export interface RequestOptions {
  method: string;
  path: string;
  query?: [string, string][];
  headers?: Record<string, string>;
  body?: BodySource;
  /**
   * How the payload is covered by the signature. Small bodies: 'sha256' (what the SDK does).
   * 'trailer': aws-chunked framing with an x-amz-checksum-crc32 trailer after the last chunk
   * (STREAMING-UNSIGNED-PAYLOAD-TRAILER, what the SDK v3 sends for a streamed upload).
   * 'signed-trailer': the same with every chunk and the trailer signed
   * (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, what SigV4 streaming clients send).
   */
  payload?: 'sha256' | 'unsigned' | 'trailer' | 'signed-trailer';
  /** Add x-amz-checksum-crc32 (Buffer bodies only), as the SDK v3 does by default. */
  crc32?: boolean;
  /** Response body handling: collect it, hash it, or only count bytes. */
  read?: 'collect' | 'md5' | 'count';
}

/** One server of a target: its address and a keep-alive agent. */
interface Endpoint {
  host: string;
  port: number;
  agent: http.Agent;
}

export class S3Http {
  private readonly endpoints: Endpoint[];
  private turn = 0;

  /** `endpoint`: one server, or several (the nodes of one cluster) that take requests in turn. */
  constructor(
    endpoint: string | readonly string[],
    private readonly signer: Signer,
    maxSockets: number,
  ) {
    this.endpoints = (typeof endpoint === 'string' ? [endpoint] : endpoint).map((e) => {
      const url = new URL(e);
      return { host: url.hostname, port: Number(url.port), agent: new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' }) };
    });
  }

  async request(opts: RequestOptions): Promise<Response> {
    const { host, port, agent } = this.endpoints[this.turn++ % this.endpoints.length];
    const headers: Record<string, string> = { host: `${host}:${port}`, ...(opts.headers ?? {}) };
    const body = opts.body;
    let payloadHash = EMPTY_SHA256;
    let source = body && !Buffer.isBuffer(body) ? body.chunks : undefined;
    const chunked = opts.payload === 'trailer' || opts.payload === 'signed-trailer';
    // The chunk signatures chain from the request's own signature, known once it is signed.
    let chunkSigner: ChunkSigner | undefined;
    if (body !== undefined && chunked && !Buffer.isBuffer(body)) {
      const signed = opts.payload === 'signed-trailer';
      const framed = awsChunked(body, signed ? () => chunkSigner! : undefined);
      source = framed.chunks;
      headers['content-length'] = String(framed.length);
      headers['content-encoding'] = 'aws-chunked';
      headers['x-amz-decoded-content-length'] = String(body.size);
      headers['x-amz-trailer'] = 'x-amz-checksum-crc32';
      headers['x-amz-sdk-checksum-algorithm'] = 'CRC32';
      payloadHash = signed ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    } else if (body !== undefined) {
      const size = Buffer.isBuffer(body) ? body.length : body.size;
      headers['content-length'] = String(size);
      if (opts.payload === 'unsigned' || !Buffer.isBuffer(body)) payloadHash = 'UNSIGNED-PAYLOAD';
      else payloadHash = createHash('sha256').update(body).digest('hex');
      if (opts.crc32 && Buffer.isBuffer(body)) {
        const c = Buffer.allocUnsafe(4);
        c.writeUInt32BE(crc32(body) >>> 0);
        headers['x-amz-checksum-crc32'] = c.toString('base64');
        headers['x-amz-sdk-checksum-algorithm'] = 'CRC32';
      }
    }
    const pathAndQuery = this.signer.sign(opts.method, opts.path, opts.query ?? [], headers, payloadHash);
    if (opts.payload === 'signed-trailer') chunkSigner = this.signer.chunkSigner(headers);
    const req = http.request({ host, port, method: opts.method, path: pathAndQuery, headers, agent });
    const responded = once(req, 'response') as Promise<[http.IncomingMessage]>;
    // Surface request errors through `responded` (once() rejects on 'error').
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      try {
        for await (const chunk of source!()) {
          if (!req.write(chunk)) await Promise.race([once(req, 'drain'), responded]);
        }
        req.end();
      } catch (err) {
        req.destroy();
        throw err;
      }
    }
    const [res] = await responded;
    const read = opts.read ?? 'collect';
    const chunks: Buffer[] = [];
    const hash = read === 'md5' ? createHash('md5') : undefined;
    let bytes = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (read === 'collect' || res.statusCode! >= 300) chunks.push(chunk);
      else hash?.update(chunk);
    }
    return {
      status: res.statusCode!,
      headers: res.headers,
      body: chunks.length > 0 || read === 'collect' ? Buffer.concat(chunks) : undefined,
      bytes,
      md5: hash?.digest('hex'),
    };
  }

  close(): void {
    for (const e of this.endpoints) e.agent.destroy();
  }
}

/** `;chunk-signature=` and a hex SHA-256: what signing adds to each chunk's header line. */
const SIGNATURE_EXT = ';chunk-signature='.length + 64;
/** Length of the framing around a chunk of `n` bytes: `<hex n>[;chunk-signature=…]\r\n` before it, `\r\n` after. */
const frameBytes = (n: number, signed: boolean) => n.toString(16).length + (signed ? SIGNATURE_EXT : 0) + 4;
const TRAILER_LINE = 'x-amz-checksum-crc32:AAAAAA==\r\n'.length;
const TRAILER_SIGNATURE_LINE = 'x-amz-trailer-signature:'.length + 64 + 2;

/**
 * `body` in aws-chunked framing (each source chunk one frame), then the final zero-length chunk
 * and the CRC32 trailer, computed as the bytes go by; `length` is the framed Content-Length. With
 * `signer`, every chunk and the trailer carry their chained signatures.
 */
function awsChunked(
  body: { size: number; chunks: () => Iterable<Buffer> | AsyncIterable<Buffer> },
  signer?: () => ChunkSigner,
): { length: number; chunks: () => AsyncIterable<Buffer> } {
  const chunkSize = 1024 * 1024;
  const signed = signer !== undefined;
  let length = 0;
  for (let left = body.size; left > 0; left -= chunkSize) length += frameBytes(Math.min(chunkSize, left), signed) + Math.min(chunkSize, left);
  length += signed ? '0'.length + SIGNATURE_EXT + 2 + TRAILER_LINE + TRAILER_SIGNATURE_LINE + 2 : '0\r\n'.length + TRAILER_LINE + 2;
  return {
    length,
    async *chunks() {
      const sign = signer?.();
      const ext = (data: Buffer) => (sign ? `;chunk-signature=${sign.chunk(data)}` : '');
      let crc = 0;
      let offset = 0;
      for await (const chunk of body.chunks()) {
        // The framed length above assumes 1 MiB chunks (the last one shorter).
        if (chunk.length !== Math.min(chunkSize, body.size - offset)) throw new Error('aws-chunked bodies come in chunks of 1 MiB');
        offset += chunk.length;
        crc = crc32(chunk, crc);
        yield Buffer.from(`${chunk.length.toString(16)}${ext(chunk)}\r\n`);
        yield chunk;
        yield Buffer.from('\r\n');
      }
      const c = Buffer.allocUnsafe(4);
      c.writeUInt32BE(crc >>> 0);
      const last = `0${ext(Buffer.alloc(0))}\r\n`;
      const trailer = `x-amz-checksum-crc32:${c.toString('base64')}`;
      // Chained from the final chunk's signature, so signed after it.
      const trailerSignature = sign ? `x-amz-trailer-signature:${sign.trailer(`${trailer}\n`)}\r\n` : '';
      yield Buffer.from(`${last}${trailer}\r\n${trailerSignature}\r\n`);
    },
  };
}

/** Throws with the server's error body when the status is not 2xx. */
export function expectOk(res: Response, what: string): Response {
  if (res.status < 200 || res.status >= 300) {
    const text = res.body ? res.body.toString('utf8').slice(0, 400) : '';
    throw new Error(`${what}: HTTP ${res.status} ${text}`);
  }
  return res;
}
