import type { IncomingMessage } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { S3Error } from './errors.js';
import { ChunkedDecoder } from '../sigv4/chunked-decoder.js';
import type { PayloadMode } from '../sigv4/authenticate.js';
import { BodyDigest, validateChecksumValue } from '../checksums/digest.js';
import { CHECKSUM_ALGORITHMS, checksumHeader, parseChecksumAlgorithm, type ChecksumAlgorithm } from '../checksums/types.js';
import { countReceivedBody } from '../net/received-body.js';

// Opens a request body as the object's bytes: aws-chunked framing removed, chunk signatures,
// payload hash, Content-MD5 and x-amz-checksum-* verified as it streams. A failed check errors
// the stream, so whatever consumes it (the blob store) discards the write.

export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export interface ChecksumRequest {
  algorithm: ChecksumAlgorithm;
  /** Where the expected value comes from: a header now, or the trailer once the body has ended. */
  value: () => string | undefined;
}

/** The body's size as the request declares it (the decoded length for aws-chunked), if it does. */
export function declaredSize(req: IncomingMessage, payload: PayloadMode): number | undefined {
  // Without either, HTTP framing says the body is empty: S3 refuses the write rather than store nothing.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) throw new S3Error('MissingContentLength');
  if (payload.kind !== 'streaming') refuseUndeclaredFraming(req);
  const text = payload.kind === 'streaming' ? header(req, 'x-amz-decoded-content-length') : header(req, 'content-length');
  if (text === undefined) {
    // An aws-chunked body's size is only known from this header until its last chunk, so S3 requires it.
    if (payload.kind === 'streaming') throw new S3Error('MissingContentLength', 'You must provide the x-amz-decoded-content-length header for an aws-chunked payload.');
    return undefined;
  }
  if (!/^\d+$/.test(text)) throw new S3Error('InvalidArgument', 'Content-Length must be a non-negative integer.', { ArgumentName: 'Content-Length' });
  return Number(text);
}

/**
 * A copy takes its data from its source: S3 refuses one that sends a body too, which would be
 * dropped unread. (A chunked body of no declared size is not known to hold anything, and passes.)
 */
export function refuseBody(req: IncomingMessage): void {
  const size = header(req, 'x-amz-decoded-content-length') ?? header(req, 'content-length');
  if (size !== undefined && Number(size) !== 0) {
    throw new S3Error('InvalidRequest', 'The request included a body. Requests of this type must not include a non-empty body.');
  }
}

/**
 * aws-chunked framing is decoded only when x-amz-content-sha256 names a STREAMING-* payload; a body
 * that says it is framed under any other payload hash would be stored framing and all.
 */
function refuseUndeclaredFraming(req: IncomingMessage): void {
  const encoding = header(req, 'content-encoding');
  const framed = encoding !== undefined && encoding.includes('aws-chunked') && encoding.split(',').some((s) => s.trim() === 'aws-chunked');
  if (framed || req.headers['x-amz-decoded-content-length'] !== undefined) {
    throw new S3Error('InvalidArgument', 'An aws-chunked body (Content-Encoding: aws-chunked, x-amz-decoded-content-length) needs x-amz-content-sha256 to name a STREAMING-* payload.', {
      ArgumentName: 'x-amz-content-sha256',
      ArgumentValue: header(req, 'x-amz-content-sha256') ?? '',
    });
  }
}

/** Works out which checksum the client sent (header or trailer) and validates its form up front. */
function requestedChecksum(req: IncomingMessage, decoder: ChunkedDecoder | null, trailer: string | undefined, headersDescribeBody: boolean): ChecksumRequest | undefined {
  const present = headersDescribeBody ? CHECKSUM_ALGORITHMS.filter((alg) => header(req, checksumHeader(alg)) !== undefined) : [];
  // A checksum header and a declared trailing one are two checksums, as two headers are.
  if (present.length > 1 || (present.length === 1 && trailer !== undefined)) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  if (present.length === 1) {
    const algorithm = present[0];
    const value = header(req, checksumHeader(algorithm))!;
    if (!validateChecksumValue(algorithm, value)) {
      throw new S3Error('InvalidRequest', `Value for ${checksumHeader(algorithm)} header is invalid.`);
    }
    const sdkAlg = parseChecksumAlgorithm(header(req, 'x-amz-sdk-checksum-algorithm'));
    if (sdkAlg && sdkAlg !== algorithm) {
      throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    }
    return { algorithm, value: () => value };
  }
  const sdkAlg = parseChecksumAlgorithm(header(req, 'x-amz-sdk-checksum-algorithm'));
  if (trailer !== undefined) {
    const algorithm = CHECKSUM_ALGORITHMS.find((alg) => checksumHeader(alg) === trailer);
    if (!algorithm) throw new S3Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    if (!decoder) throw new S3Error('InvalidRequest', 'x-amz-trailer requires an aws-chunked (STREAMING-*) payload.');
    if (sdkAlg && sdkAlg !== algorithm) throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    return {
      algorithm,
      value: () => {
        const v = decoder.trailers.get(trailer);
        if (v === undefined || !validateChecksumValue(algorithm, v)) {
          throw new S3Error('InvalidRequest', `Value for ${trailer} trailing header is invalid.`);
        }
        return v;
      },
    };
  }
  // The SDK may name an algorithm without a value (e.g. multipart parts): compute and store it.
  return sdkAlg ? { algorithm: sdkAlg, value: () => undefined } : undefined;
}

function ignore(): void {}

/**
 * source.pipe(dest), where a failed source (an error, or a close before its end: a client that went
 * away) fails dest, so whatever consumes dest discards the write. Errors surface through dest.
 * stream.pipeline does the same but allocates an AbortController and a DOMException per call, ~3%
 * of a small PUT's main thread.
 */
export function feed(source: Readable, dest: Writable): void {
  const fail = (err?: Error) => {
    if (!dest.destroyed) dest.destroy(err ?? Object.assign(new Error('The request body ended early.'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  };
  source.once('error', fail);
  // Whoever reads dest gets its error; with no reader left (the request already failed), it must
  // not become an uncaught exception.
  dest.on('error', ignore);
  source.once('close', () => {
    if (!source.readableEnded) fail();
  });
  source.pipe(dest);
}

export interface OpenBodyOptions {
  /** Refused up front when declared larger, and while streaming when undeclared (EntityTooLarge). */
  maxSize?: number;
  /** Compute this algorithm even if the client sent none (multipart uploads with a declared algorithm). */
  checksumAlgorithm?: ChecksumAlgorithm;
  /**
   * The x-amz-checksum-* headers carry the checksum of an object, not of this body
   * (CompleteMultipartUpload), so they are not checked against it.
   */
  objectChecksumHeaders?: boolean;
}

export interface OpenedBody {
  digest: BodyDigest;
  checksum: ChecksumRequest | undefined;
  size: number | undefined;
}

export function openBody(req: IncomingMessage, payload: PayloadMode, opts: OpenBodyOptions = {}): OpenedBody {
  const size = declaredSize(req, payload);
  const maxSize = opts.maxSize ?? MAX_SINGLE_PUT_BYTES;
  if (size !== undefined && size > maxSize) {
    throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(maxSize) });
  }
  const md5 = header(req, 'content-md5');
  if (md5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(md5.trim())) throw new S3Error('InvalidDigest');

  const trailer = header(req, 'x-amz-trailer')?.trim().toLowerCase();
  const decoder = payload.kind === 'streaming'
    ? new ChunkedDecoder({ signing: payload.signing, trailer: payload.trailer, declaredTrailer: trailer, decodedLength: size })
    : null;
  const checksum = requestedChecksum(req, decoder, trailer, !opts.objectChecksumHeaders);
  if (opts.checksumAlgorithm && checksum && checksum.algorithm !== opts.checksumAlgorithm) {
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${opts.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${checksum.algorithm.toLowerCase()}`);
  }
  const digest = new BodyDigest({
    sha256: payload.kind === 'sha256',
    checksumAlgorithm: checksum?.algorithm ?? opts.checksumAlgorithm,
    maxSize,
    expect: {
      md5Base64: md5?.trim(),
      sha256Hex: payload.kind === 'sha256' ? payload.hex : undefined,
      checksum: checksum?.value,
      size,
    },
    // A large signed body's decoder hashes it on a pool thread already: the digests go there too.
    upstream: decoder ?? undefined,
  });
  countReceivedBody(req, digest);
  if (decoder) {
    feed(req, decoder);
    feed(decoder, digest);
  } else feed(req, digest);
  return { digest, checksum, size };
}

/** Reads a small body (an XML document) whole, with the same checks; each kind has its own `limit`. */
export async function readSmallBody(
  req: IncomingMessage,
  payload: PayloadMode,
  limit: number,
  opts: Pick<OpenBodyOptions, 'objectChecksumHeaders'> = {},
): Promise<Buffer> {
  // The digest fails the stream past `limit`, declared or not.
  const { digest } = openBody(req, payload, { maxSize: limit, ...opts });
  const chunks: Buffer[] = [];
  for await (const chunk of digest) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
