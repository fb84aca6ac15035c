// Incremental checksums for S3's x-amz-checksum-* algorithms, and BodyDigest: the pass-through
// transform every PUT body flows through, which hashes it and fails the stream on a mismatch so
// the storage layer never commits a body that does not match what the client declared.

import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import { DIGEST_LENGTH, DigestSet, type DigestPlan, type DigestResults } from './checksum.js';
import { OFFLOAD_THRESHOLD, poolFor, type HashJob, type HashPool, type JobResults } from './hash-pool.js';
import type { ChecksumAlgorithm } from './types.js';

export { createChecksum } from './checksum.js';

/** Raw digest length in bytes: 4 (CRC32, CRC32C), 8 (CRC64NVME), 20 (SHA1), 32 (SHA256). */
export function checksumDigestLength(alg: ChecksumAlgorithm): number {
  return DIGEST_LENGTH[alg];
}

/** Decodes strict, canonical base64 (padding included); undefined for anything else. */
function decodeBase64(value: string): Buffer | undefined {
  const bytes = Buffer.from(value, 'base64');
  // Node's decoder skips invalid characters; the round trip rejects them and non-zero pad bits.
  return bytes.toString('base64') === value ? bytes : undefined;
}

/** True if `base64` is a well-formed x-amz-checksum-<alg> value (valid base64, right length). */
export function validateChecksumValue(alg: ChecksumAlgorithm, base64: string): boolean {
  return decodeBase64(base64)?.length === DIGEST_LENGTH[alg];
}

/** True if `base64` is a well-formed Content-MD5 value; callers answer InvalidDigest otherwise. */
export function validateContentMd5(base64: string): boolean {
  return decodeBase64(base64)?.length === 16;
}

function invalidChecksumValue(alg: ChecksumAlgorithm): S3Error {
  return new S3Error('InvalidRequest', `Value for x-amz-checksum-${alg.toLowerCase()} header is invalid.`);
}

/**
 * A stream before a BodyDigest that can hash the body itself (ChunkedDecoder, which hashes a large
 * signed body's chunks on a pool thread and computes the body's digests on the same thread from the
 * same copy of its bytes).
 */
export interface DigestSource {
  /** Takes over computing `plan` over the bytes it will pass on (true), or declines (false). */
  hashBody(plan: DigestPlan): boolean;
  /** What it computed, once it has ended (undefined: nothing, which fails the body). */
  readonly bodyDigests: JobResults | undefined;
}

export interface BodyDigestOptions {
  /** Also compute SHA-256 (implied by expect.sha256Hex). */
  sha256?: boolean;
  /** Also compute this x-amz-checksum algorithm (required by expect.checksum). */
  checksumAlgorithm?: ChecksumAlgorithm;
  /**
   * The most bytes the body may have → EntityTooLarge as soon as exceeded. Unlike expect.size it
   * holds when no length was declared (Transfer-Encoding: chunked, aws-chunked without
   * x-amz-decoded-content-length), so an undeclared body cannot grow without bound.
   */
  maxSize?: number;
  /** Expected values; checked in _flush. A mismatch fails the stream so nothing is committed. */
  expect?: {
    /** Content-MD5 header → BadDigest (InvalidDigest if malformed). */
    md5Base64?: string;
    /** x-amz-content-sha256 as a real hash (not UNSIGNED-PAYLOAD/STREAMING-*) → XAmzContentSHA256Mismatch. */
    sha256Hex?: string;
    /**
     * The x-amz-checksum-* value (base64). A function because a trailing checksum is only known
     * once the chunk decoder has parsed the trailer, which happens before this stream's flush.
     * Returning undefined skips the check.
     */
    checksum?: () => string | undefined;
    /** Declared length: fewer bytes → IncompleteBody; more → InvalidRequest (as soon as exceeded). */
    size?: number;
    /** The fewest bytes allowed (a POST policy's content-length-range) → EntityTooSmall. */
    minSize?: number;
  };
  /**
   * Where large bodies are hashed (default: the process's shared pool); null hashes every body on
   * the calling thread.
   */
  hashPool?: HashPool | null;
  /**
   * The size the body should have when no client declared one (a copy's source): decides where it
   * is hashed, and checks nothing (expect.size does).
   */
  sizeHint?: number;
  /** The stream this one reads, if it can hash the body itself: offered the digests first. */
  upstream?: DigestSource;
}

/**
 * Pass-through transform that hashes the body as it streams: MD5 always, SHA-256 and one
 * x-amz-checksum algorithm on request, plus the byte count. Chunks are pushed unchanged (same
 * Buffer objects). Read the getters after the stream has ended.
 *
 * A body of OFFLOAD_THRESHOLD bytes or more is hashed on a HashPool thread, in parallel with the
 * main thread's network and disk work; the checks still run before the stream ends, so a mismatch
 * still fails it before anything is committed. A hash cannot move between threads, so where a body
 * is hashed is decided up front from its declared size; a body of undeclared size keeps its first
 * chunks (up to the threshold) and hashes them where the rest goes once it is known. When the
 * stream upstream takes the hashing over (DigestSource), this one only counts and checks.
 */
export class BodyDigest extends Transform {
  private readonly plan: DigestPlan;
  private readonly algorithm: ChecksumAlgorithm | undefined;
  private readonly expected: NonNullable<BodyDigestOptions['expect']>;
  private readonly maxSize: number | undefined;
  private readonly pool: HashPool | null;
  /** Hashing upstream, which hands over the digests when it ends. */
  private readonly upstream: DigestSource | null;
  /** Hashing here, on the main thread. */
  private local: DigestSet | null = null;
  /** Hashing on a pool thread. */
  private job: HashJob | null = null;
  /** An undeclared size, still under the threshold: the chunks seen so far, not hashed yet. */
  private held: Buffer[] | null = null;
  private bytes = 0;
  private results: DigestResults | undefined;

  constructor(options: BodyDigestOptions = {}) {
    super();
    this.expected = options.expect ?? {};
    this.maxSize = options.maxSize;
    if (this.expected.checksum && !options.checksumAlgorithm) {
      throw new Error('BodyDigest: expect.checksum needs checksumAlgorithm');
    }
    this.algorithm = options.checksumAlgorithm;
    this.plan = { sha256: !!options.sha256 || this.expected.sha256Hex !== undefined, checksumAlgorithm: this.algorithm };
    this.upstream = options.upstream?.hashBody(this.plan) ? options.upstream : null;
    const known = this.expected.size ?? options.sizeHint;
    this.pool = this.upstream ? null : poolFor(known, options.hashPool);
    if (this.upstream) return;
    if (!this.pool) this.local = new DigestSet(this.plan);
    else if (known === undefined) this.held = [];
    // else: a pool job, opened with the first chunk (a body never read holds no thread)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.maxSize !== undefined && this.bytes > this.maxSize) {
      callback(new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: String(this.maxSize) }));
      return;
    }
    const declared = this.expected.size;
    if (declared !== undefined && this.bytes > declared) {
      callback(new S3Error('InvalidRequest', `The request body is longer than the declared length of ${declared} bytes.`));
      return;
    }
    if (this.upstream || this.local) {
      this.local?.update(chunk);
      callback(null, chunk);
      return;
    }
    let next: Buffer | Buffer[] = chunk;
    if (this.held) {
      this.held.push(chunk);
      if (this.bytes < OFFLOAD_THRESHOLD) {
        callback(null, chunk);
        return;
      }
      next = this.held;
      this.held = null;
    }
    // The bytes go on to the disk at once; the next chunk waits only if the worker falls behind.
    this.push(chunk);
    this.openJob().write(next, (err) => callback(err));
  }

  override _flush(callback: TransformCallback): void {
    if (this.upstream) {
      this.finish(this.upstream.bodyDigests ?? {}, callback);
      return;
    }
    if (this.job) {
      this.job.finish().then(
        (results) => this.finish(results, callback),
        (err: Error) => callback(err),
      );
      return;
    }
    let local = this.local;
    if (!local) {
      // Undeclared and small after all (or empty): hash what was held, here.
      local = new DigestSet(this.plan);
      for (const chunk of this.held ?? []) local.update(chunk);
      this.held = null;
    }
    this.finish(local.digest(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.job?.abort();
    this.held = null;
    callback(err);
  }

  private openJob(): HashJob {
    if (this.job) return this.job;
    const job = this.pool!.open({ digest: this.plan });
    // A thread that dies while the body waits on the network fails the body now, not at its end.
    job.onFailure = (err) => this.destroy(err);
    return (this.job = job);
  }

  private finish(results: JobResults, callback: TransformCallback): void {
    try {
      this.results = this.complete(results);
      this.check(this.results);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /**
   * Digests from a pool thread (or upstream) are checked for completeness: a missing one must fail
   * the body, never pass as an empty ETag or a skipped comparison.
   */
  private complete(results: JobResults): DigestResults {
    const { md5, sha256, checksum } = results;
    if (md5?.length !== 16 || (this.plan.sha256 && !sha256) || (this.algorithm && !checksum)) {
      throw new Error('BodyDigest: the hashing thread returned incomplete digests');
    }
    return { md5, sha256, checksum };
  }

  private check(results: DigestResults): void {
    const { size, md5Base64, sha256Hex, checksum, minSize } = this.expected;
    if (size !== undefined && this.bytes < size) throw new S3Error('IncompleteBody');
    if (minSize !== undefined && this.bytes < minSize) throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(this.bytes), MinSizeAllowed: String(minSize) });
    if (md5Base64 !== undefined) {
      const want = decodeBase64(md5Base64);
      if (want?.length !== 16) throw new S3Error('InvalidDigest');
      if (!want.equals(results.md5)) throw new S3Error('BadDigest');
    }
    if (sha256Hex !== undefined && results.sha256?.toString('hex') !== sha256Hex.toLowerCase()) {
      throw new S3Error('XAmzContentSHA256Mismatch');
    }
    const alg = this.algorithm;
    const wantChecksum = checksum?.();
    if (alg && wantChecksum !== undefined) {
      if (!validateChecksumValue(alg, wantChecksum)) throw invalidChecksumValue(alg);
      // Both sides are canonical base64 here, so comparing strings compares bytes.
      if (results.checksum!.toString('base64') !== wantChecksum) {
        throw new S3Error('BadDigest', `The ${alg} you specified did not match the calculated checksum.`);
      }
    }
  }

  private done(): DigestResults {
    if (!this.results) throw new Error('BodyDigest: digests read before the stream ended');
    return this.results;
  }

  /** Bytes seen so far (final once the stream has ended). */
  get size(): number {
    return this.bytes;
  }
  get md5Digest(): Buffer {
    return this.done().md5;
  }
  get md5Hex(): string {
    return this.done().md5.toString('hex');
  }
  get md5Base64(): string {
    return this.done().md5.toString('base64');
  }
  /** Undefined unless SHA-256 was requested. */
  get sha256Hex(): string | undefined {
    return this.done().sha256?.toString('hex');
  }
  /** Raw x-amz-checksum digest (what multipart completion combines); undefined unless requested. */
  get checksumDigest(): Buffer | undefined {
    return this.done().checksum;
  }
  /** Undefined unless a checksum algorithm was requested. */
  get checksumBase64(): string | undefined {
    return this.done().checksum?.toString('base64');
  }
}
