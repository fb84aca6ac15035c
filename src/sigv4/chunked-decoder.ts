import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import { chunkStringToSign, signature, sha256Hex, trailerStringToSign } from './canonical.js';
import { signaturesEqual, type ChunkSigning } from './authenticate.js';
import { SEGMENT_END, poolFor, type HashJob, type HashPool, type JobInput, type JobResults } from '../checksums/hash-pool.js';
import type { DigestPlan } from '../checksums/checksum.js';
import type { DigestSource } from '../checksums/digest.js';

// Decodes an aws-chunked body (STREAMING-* payloads) into the object's bytes, checking every
// chunk signature and the trailer signature as it goes. Any failure errors the stream, so the
// write that consumes it is abandoned and nothing is committed. Framing never reaches the output.
//
// The chunks of a large signed body (x-amz-decoded-content-length >= OFFLOAD_THRESHOLD) are hashed
// on a HashPool thread rather than here; each chunk's signature is checked as its hash comes back,
// a few batches behind the bytes, and every one before the stream ends, so still before anything
// is committed. The BodyDigest after it hands it its digests to compute (hashBody) so the same
// thread computes them from the same copy of the bytes, which then cross to the thread once.

const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const CRLF = Buffer.from('\r\n');

type State = 'header' | 'data' | 'data-crlf' | 'trailer' | 'done';

export interface ChunkedDecoderOptions {
  /** Signing context for STREAMING-AWS4-HMAC-SHA256-*; null for STREAMING-UNSIGNED-PAYLOAD-TRAILER. */
  signing: ChunkSigning | null;
  /** Whether trailing headers follow the final chunk. */
  trailer: boolean;
  /** The trailing header x-amz-trailer names (lower case): the only one the trailer may carry. */
  declaredTrailer?: string;
  /** x-amz-decoded-content-length, when the client sent it. */
  decodedLength?: number;
  /** Where a large body's chunks are hashed (default: the shared pool); null: on this thread. */
  hashPool?: HashPool | null;
}

export class ChunkedDecoder extends Transform implements DigestSource {
  /** Trailing headers (lower-case names), available once the stream has ended. */
  readonly trailers = new Map<string, string>();
  private state: State = 'header';
  private line: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private chunkHash: Hash | null = null;
  private expectedSignature = '';
  private previousSignature: string;
  private decoded = 0;
  private trailerBytes = 0;
  private trailerSignature: string | undefined;
  private lastChunk = false;
  /** Hashing chunks on a pool thread: the pool, until the job starts with the first chunk. */
  private offload: HashPool | null = null;
  private job: HashJob | null = null;
  /** For the job: the data and chunk ends met while consuming the current buffer. */
  private pieces: JobInput[] = [];
  /** Claimed signatures of the chunks sent to the job, whose hashes have not come back yet. */
  private unverified: string[] = [];
  /** The decoded body's digests the job also computes (hashBody), and what it computed. */
  private bodyPlan: DigestPlan | undefined;
  private bodyResults: JobResults | undefined;

  constructor(private readonly opts: ChunkedDecoderOptions) {
    super();
    this.previousSignature = opts.signing?.seedSignature ?? '';
    const { decodedLength, hashPool } = opts;
    // Decided up front, from the declared length: chunk signatures are checked as chunks arrive.
    if (opts.signing && decodedLength !== undefined) this.offload = poolFor(decodedLength, hashPool);
  }

  /**
   * Computes `plan` over the decoded body too, on the thread that hashes its chunks (true), when
   * that is where its chunks go and before any has gone.
   */
  hashBody(plan: DigestPlan): boolean {
    if (!this.offload || this.job) return false;
    this.bodyPlan = plan;
    return true;
  }

  /** What hashBody asked for, once the stream has ended. */
  get bodyDigests(): JobResults | undefined {
    return this.bodyResults;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (this.pieces.length === 0) return done();
    const pieces = this.pieces;
    this.pieces = [];
    // The data already went on; the next buffer waits only if the thread falls behind.
    this.startJob().write(pieces, (err) => done(err));
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.lastChunk || this.state === 'data' || this.state === 'data-crlf') {
        throw new S3Error('IncompleteBody', 'The request body ended before the final chunk.');
      }
      // Trailing headers end with an empty line; without it the trailer may have been cut short.
      if (this.state === 'trailer' && (this.opts.trailer || this.line.length > 0)) throw malformedChunk('the trailer ended before its final empty line');
      const declared = this.opts.declaredTrailer;
      if (this.opts.trailer && declared !== undefined && !this.trailers.has(declared)) {
        throw new S3Error('MalformedTrailerError');
      }
      if (this.opts.decodedLength !== undefined && this.decoded !== this.opts.decodedLength) {
        throw new S3Error('IncompleteBody', `The decoded body is ${this.decoded} bytes; x-amz-decoded-content-length said ${this.opts.decodedLength}.`);
      }
    } catch (err) {
      done(err as Error);
      return;
    }
    const verifyTrailer = () => {
      try {
        // Every chunk signature is checked by now: the job's end follows its last hashes.
        if (this.unverified.length > 0) throw new Error('chunk hashes missing at the end of the body');
        this.verifyTrailerSignature();
        done();
      } catch (err) {
        done(err as Error);
      }
    };
    if (!this.job) return verifyTrailer();
    this.job.finish().then((results) => {
      this.bodyResults = results;
      verifyTrailer();
    }, (err: Error) => done(err));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.job?.abort();
    this.job = null;
    callback(err);
  }

  private startJob(): HashJob {
    if (this.job) return this.job;
    const job = this.offload!.open({ segments: true, digest: this.bodyPlan });
    job.onSegments = (hashes) => {
      try {
        for (const hash of hashes) this.verifyChunk(hash, this.unverified.shift()!);
      } catch (err) {
        this.destroy(err as Error);
      }
    };
    job.onFailure = (err) => this.destroy(err);
    return (this.job = job);
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, buf.length - pos);
          const piece = buf.subarray(pos, pos + take);
          if (this.offload) this.pieces.push(piece);
          else this.chunkHash?.update(piece);
          this.push(piece);
          this.decoded += take;
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) {
            this.finishChunk();
            this.state = 'data-crlf';
          }
          break;
        }
        case 'data-crlf': {
          // Collect the two bytes of CRLF (they may straddle buffers).
          const end = this.readLine(buf, pos);
          if (end < 0) return;
          pos = end;
          if (this.takeLine().length !== 0) throw malformedChunk('expected CRLF after chunk data');
          this.state = 'header';
          break;
        }
        case 'header': {
          const end = this.readLine(buf, pos);
          if (end < 0) return;
          pos = end;
          this.chunkHeader(this.takeLine().toString('latin1'));
          break;
        }
        case 'trailer': {
          const end = this.readLine(buf, pos);
          if (end < 0) return;
          pos = end;
          const line = this.takeLine().toString('latin1');
          if (line === '') this.state = 'done';
          else this.trailerLine(line);
          break;
        }
        case 'done':
          // Anything after the terminating empty line is ignored padding, but must be whitespace.
          if (buf.subarray(pos).toString('latin1').trim() !== '') throw malformedChunk('data after the final chunk');
          return;
      }
    }
  }

  /** Accumulates bytes up to and including CRLF; returns the position after it, or -1 if incomplete. */
  private readLine(buf: Buffer, pos: number): number {
    const idx = buf.indexOf(CRLF, pos);
    // A CR at the end of the saved line and LF at the start of this buffer.
    if (this.line.length > 0 && this.line[this.line.length - 1] === 0x0d && buf[pos] === 0x0a) {
      this.line = this.line.subarray(0, this.line.length - 1);
      return pos + 1;
    }
    if (idx < 0) {
      this.line = Buffer.concat([this.line, buf.subarray(pos)]);
      if (this.line.length > MAX_LINE) throw malformedChunk('chunk header line too long');
      return -1;
    }
    this.line = this.line.length ? Buffer.concat([this.line, buf.subarray(pos, idx)]) : buf.subarray(pos, idx);
    if (this.line.length > MAX_LINE) throw malformedChunk('chunk header line too long');
    return idx + 2;
  }

  private takeLine(): Buffer {
    const line = this.line;
    this.line = Buffer.alloc(0);
    return line;
  }

  private chunkHeader(line: string): void {
    const [sizeText, ...exts] = line.split(';');
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText.trim())) throw malformedChunk(`invalid chunk size "${sizeText.slice(0, 32)}"`);
    const size = parseInt(sizeText.trim(), 16);
    if (this.opts.signing) {
      const sigExt = exts.find((e) => e.trim().startsWith('chunk-signature='));
      const sig = sigExt?.trim().slice('chunk-signature='.length) ?? '';
      if (!/^[0-9a-f]{64}$/.test(sig)) throw new S3Error('SignatureDoesNotMatch', 'A chunk is missing its chunk-signature.');
      this.expectedSignature = sig;
      if (!this.offload) this.chunkHash = createHash('sha256');
    }
    this.remaining = size;
    if (size === 0) {
      this.finishChunk();
      this.lastChunk = true;
      this.state = 'trailer';
    } else {
      this.state = 'data';
    }
  }

  private finishChunk(): void {
    if (this.offload) {
      this.pieces.push(SEGMENT_END);
      this.unverified.push(this.expectedSignature);
      return;
    }
    if (!this.chunkHash) return;
    this.verifyChunk(this.chunkHash.digest('hex'), this.expectedSignature);
    this.chunkHash = null;
  }

  /** Checks a chunk's claimed signature against the hash of its data, chained from the previous. */
  private verifyChunk(hashHex: string, claimed: string): void {
    const signing = this.opts.signing!;
    const toSign = chunkStringToSign(signing.amzDate, signing.scope, this.previousSignature, hashHex);
    if (!signaturesEqual(signature(signing.key, toSign), claimed)) {
      throw new S3Error('SignatureDoesNotMatch', 'The chunk signature does not match.', { StringToSign: toSign });
    }
    this.previousSignature = claimed;
  }

  private trailerLine(line: string): void {
    this.trailerBytes += line.length;
    if (this.trailerBytes > MAX_TRAILER_BYTES) throw malformedChunk('trailer too large');
    if (!this.opts.trailer) throw malformedChunk('unexpected data after the final chunk');
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedChunk('malformed trailing header');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') this.trailerSignature = value;
    else if (name !== this.opts.declaredTrailer || this.trailers.has(name)) {
      // Only what x-amz-trailer declares, once: anything else would pass unchecked.
      throw new S3Error('MalformedTrailerError');
    } else this.trailers.set(name, value);
  }

  private verifyTrailerSignature(): void {
    const signing = this.opts.signing;
    if (!signing || !this.opts.trailer) return;
    if (!this.trailerSignature) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature is missing.');
    let canonical = '';
    for (const [name, value] of this.trailers) canonical += `${name}:${value}\n`;
    const toSign = trailerStringToSign(signing.amzDate, signing.scope, this.previousSignature, sha256Hex(canonical));
    if (!signaturesEqual(signature(signing.key, toSign), this.trailerSignature)) {
      throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match.');
    }
  }
}

function malformedChunk(detail: string): S3Error {
  return new S3Error('IncompleteBody', `Malformed aws-chunked body: ${detail}.`);
}
