// BlobStore on any S3 service: Ceph's RADOS Gateway (the reference), MinIO, Garage or AWS S3
// itself. Each blob is one opaque object `<prefix><ref>` in one backend bucket; nothing of the
// S3 key, bucket or metadata that skep serves is visible there.
//
// Streaming both ways with bounded memory: a put reads the body into parts of PART_SIZE; a body
// that ends within the first part is one PutObject, a longer one a multipart upload with at most
// PARTS_IN_FLIGHT parts uploading while the next one fills. Every request the SDK sends is
// retried with exponential back-off (each part is a buffer, so it can be sent again); a read that
// fails midway resumes from the byte it reached. A put that fails (the body's error, or the
// backend's) aborts its multipart upload; after a crash, or where the abort (or a request given up
// on a timeout) did not reach the backend, the blob ledger's collector does the same (delete with
// `partial`). Requests have bounded connection and stall timeouts, so a backend that stops
// answering fails them (503 to the client) instead of holding them.

import { Readable } from 'node:stream';
import { backendUnavailable } from '../backend-unavailable.js';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { chunkBytes, noSuchBlob, REF_PATTERN, type BlobStore, type BlobWriteResult, type ByteRange } from './blob-store.js';
import { randomHex } from '../../util/random-hex.js';

export interface S3BlobSettings {
  /** The backend bucket (it must exist). */
  bucket: string;
  /** Prepended to every blob's name, e.g. 'skep/' (default none). */
  prefix?: string;
  /** The service's URL; unset: AWS S3 in `region`. */
  endpoint?: string;
  region?: string;
  /** Unset: the AWS SDK's default chain (environment, shared config, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style addressing (default: on when an endpoint is given, as most non-AWS services want). */
  forcePathStyle?: boolean;
  /** Bytes per multipart part (default 8 MiB; at least 5 MiB). */
  partSize?: number;
  /** Attempts per request, the first included (default 5). */
  maxAttempts?: number;
  /** How long a connection to the service may take to open (default 5 s). */
  connectTimeoutMs?: number;
  /**
   * How long a request may wait with no byte moving either way before it is abandoned and tried
   * again (default 20 s). A stall, not a cap on the whole request: a large part streams for long.
   */
  stallTimeoutMs?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * MiB;
const PARTS_IN_FLIGHT = 2;
const READ_RESUMES = 5;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
// Five attempts stalled this long, plus their back-off, end before the server's own idle timeout
// (two minutes) would cut the client's connection: the client gets 503 and may retry.
const DEFAULT_STALL_TIMEOUT_MS = 20_000;

export { parseS3BlobUrl } from '../storage-urls.js';

export async function openS3BlobStore(settings: S3BlobSettings): Promise<BlobStore> {
  const store = new S3BlobStore(settings);
  try {
    await store.ping();
  } catch (err) {
    await store.close();
    const where = settings.endpoint ?? `AWS S3 (${settings.region ?? 'us-east-1'})`;
    throw new Error(`the blob backend bucket ${settings.bucket} at ${where} is not reachable: ${(err as Error).name}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return store;
}

class S3BlobStore implements BlobStore {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(settings: S3BlobSettings) {
    this.bucket = settings.bucket;
    this.prefix = settings.prefix ?? '';
    this.partSize = Math.max(5 * MiB, settings.partSize ?? DEFAULT_PART_SIZE);
    const agentOptions = { keepAlive: true, maxSockets: 256 };
    this.s3 = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region ?? 'us-east-1',
      forcePathStyle: settings.forcePathStyle ?? !!settings.endpoint,
      credentials:
        settings.accessKeyId && settings.secretAccessKey
          ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
          : undefined,
      maxAttempts: settings.maxAttempts ?? 5,
      retryMode: 'standard',
      // Blobs are opaque bytes skep checks itself; extra CRCs only cost CPU (and older gateways
      // do not know the headers).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Without these a backend that accepts and never answers held a request (and its client) for
      // good. socketTimeout is the idle one; requestTimeout would cap a whole transfer.
      requestHandler: {
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
        connectionTimeout: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        socketTimeout: settings.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      },
    });
  }

  private keyOf(ref: string): string {
    return this.prefix + ref;
  }

  newRef(): string {
    return randomHex(16);
  }

  async put(body: Readable, ref: string = this.newRef()): Promise<BlobWriteResult> {
    if (!REF_PATTERN.test(ref)) throw new Error(`not a blob ref: ${ref}`);
    const key = this.keyOf(ref);
    const parts = chunks(body, this.partSize);
    let uploadId: string | undefined;
    try {
      const first = await parts.next();
      const firstPart = first.done ? Buffer.alloc(0) : first.value;
      const second = first.done ? first : await parts.next();
      if (second.done) {
        // The common case: the whole body fits in one part.
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: firstPart, ContentLength: firstPart.length }));
        return { ref, size: firstPart.length };
      }
      uploadId = (await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }))).UploadId;
      if (!uploadId) throw new Error('the blob backend returned no UploadId');
      const id = uploadId;
      const done: CompletedPart[] = [];
      const inFlight = new Set<Promise<void>>();
      let size = 0;
      let failure: { err: unknown } | undefined;
      const send = (n: number, data: Buffer) => {
        size += data.length;
        const p: Promise<void> = this.s3
          .send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: id, PartNumber: n, Body: data, ContentLength: data.length }))
          .then((r) => void done.push({ PartNumber: n, ETag: r.ETag }))
          .catch((err: unknown) => void (failure ??= { err }))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      };
      send(1, firstPart);
      send(2, second.value);
      for (let n = 3; ; n++) {
        // Reading stops while PARTS_IN_FLIGHT parts are uploading: memory stays bounded.
        while (inFlight.size >= PARTS_IN_FLIGHT && !failure) await Promise.race(inFlight);
        if (failure) break;
        const next = await parts.next();
        if (next.done) break;
        send(n, next.value);
      }
      await Promise.all(inFlight);
      if (failure) throw failure.err;
      done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: id, MultipartUpload: { Parts: done } }));
      return { ref, size };
    } catch (err) {
      await parts.return(undefined).catch(() => undefined);
      if (uploadId) {
        const abort = this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
        // The body's own failure leaves nothing behind once the put rejects, as the store promises.
        // A backend that stalls or is gone is not waited for: the abort would hold the answer as
        // long again, and the ledger's pending record has the collector abort the upload later.
        if (!backendUnavailable(err)) await abort;
      }
      throw err; // the very error the body (or the backend) raised
    }
  }

  get(ref: string, range?: ByteRange): Readable {
    let wake: (() => void) | null = null;
    const resume = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const abort = new AbortController();
    const out = new Readable({
      // Reads sized to the range, as the local store does (no 256 KiB buffer for a 4 KiB object).
      highWaterMark: range ? Math.max(1, Math.min(256 * 1024, range.end - range.start + 1)) : 256 * 1024,
      read: resume,
      destroy(err, callback) {
        abort.abort();
        resume();
        callback(err);
      },
    });
    if (!REF_PATTERN.test(ref)) {
      process.nextTick(() => out.destroy(noSuchBlob(ref)));
      return out;
    }
    const waitForRead = () => new Promise<void>((r) => (wake = r));
    void this.stream(ref, range, out, abort.signal, waitForRead);
    return out;
  }

  /**
   * Copies the object (or range) into `out`; a read that fails midway resumes where it stopped. A
   * request that fails is not sent again here: the SDK has retried it already, and five more
   * rounds of its retries would keep a client waiting for minutes on a backend that is down.
   */
  private async stream(ref: string, range: ByteRange | undefined, out: Readable, signal: AbortSignal, waitForRead: () => Promise<void>): Promise<void> {
    let offset = range?.start ?? 0;
    const end = range?.end;
    for (let attempt = 0; ; attempt++) {
      let reading = false;
      try {
        const from = range || offset > 0 ? `bytes=${offset}-${end ?? ''}` : undefined;
        const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(ref), Range: from }), { abortSignal: signal });
        reading = true;
        const body = r.Body as Readable;
        try {
          for await (const chunk of body) {
            if (out.destroyed) return;
            offset += (chunk as Buffer).length;
            if (!out.push(chunk)) await waitForRead();
          }
        } finally {
          body.destroy();
        }
        if (!out.destroyed) out.push(null);
        return;
      } catch (err) {
        if (out.destroyed) return;
        const name = (err as Error).name;
        if (name === 'NoSuchKey' || name === 'NotFound') return void out.destroy(noSuchBlob(ref));
        if (!reading || attempt >= READ_RESUMES || name === 'InvalidRange') return void out.destroy(err as Error);
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  async delete(ref: string, opts: { partial?: boolean } = {}): Promise<void> {
    if (!REF_PATTERN.test(ref)) return;
    const key = this.keyOf(ref);
    // S3 answers a delete of a missing key with success.
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!opts.partial) return;
    // A put cut short by a crash may have left a multipart upload that holds parts.
    const uploads = await this.s3.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }));
    for (const u of uploads.Uploads ?? []) {
      if (u.Key !== key || !u.UploadId) continue;
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: u.UploadId })).catch((err: unknown) => {
        if ((err as Error).name !== 'NoSuchUpload') throw err;
      });
    }
  }

  async *list(): AsyncIterable<{ ref: string; mtime: Date }> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const ref = o.Key?.slice(this.prefix.length) ?? '';
        if (REF_PATTERN.test(ref)) yield { ref, mtime: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async ping(): Promise<void> {
    await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }
}

/**
 * The body in buffers of exactly `size` bytes (the last one shorter). Rejects with the body's own
 * error; returning early stops reading without destroying the body (its owner answers the client).
 */
async function* chunks(body: Readable, size: number): AsyncGenerator<Buffer, void, undefined> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>) {
    let buf = chunkBytes(chunk);
    while (pendingBytes + buf.length >= size) {
      const take = size - pendingBytes;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending, size);
      buf = buf.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (buf.length > 0) {
      pending.push(buf);
      pendingBytes += buf.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

