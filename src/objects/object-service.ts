import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { S3Error } from '../s3/errors.js';
import type { BlobStore, ByteRange } from '../storage/blob/blob-store.js';
import type {
  BlobPart,
  BucketRow,
  ListObjectsQuery,
  MetadataStore,
  ObjectRow,
  ObjectSummary,
  PutCondition,
  PutOutcome,
  StoredHeaders,
} from '../storage/metadata/metadata-store.js';
import { BodyDigest } from '../checksums/digest.js';
import type { ChecksumAlgorithm, StoredChecksum } from '../checksums/types.js';
import { bucketNameProblem } from './bucket-name.js';
import { readBlobs } from './object-reader.js';
import { BlobLifecycle, type BlobLifecycleOptions } from './blob-lifecycle.js';
import { isStoreError } from '../storage/metadata/store-errors.js';

// Buckets and objects: the rules of the domain, independent of HTTP. An object write is
// blob written -> metadata committed in one atomic write -> replaced blobs released.

export interface NewObject {
  bucket: BucketRow;
  key: string;
  headers: StoredHeaders;
  userMetadata: Record<string, string>;
  tags: Record<string, string>;
  storageClass: string;
  condition: PutCondition;
  /** Canned ACL (x-amz-acl), or null/absent for private. */
  acl?: string | null;
  /**
   * Called with the size once the bytes are written and before the commit (a quota check for a
   * body whose size was not declared); a throw discards the bytes.
   */
  beforeCommit?: (size: number) => Promise<void>;
}

/** Told what each committed write and delete changed in a bucket (the quota counters). */
export interface StorageChanges {
  changed(bucketId: string, bytes: number, objects: number): void;
}

/**
 * An object's row with its blobs pinned: they stay on disk, even if the key is overwritten or
 * deleted meanwhile, until release(). Streams from open() hold pins of their own until they close.
 */
export interface ObjectLease {
  readonly row: ObjectRow;
  /** Streams the bytes (or a range); the stream lets go of its pin when it ends, fails or is destroyed. */
  open(range?: ByteRange): Readable;
  /** Lets go of the lease's pin (once; later calls do nothing). */
  release(): void;
}

const refsOf = (blobs: readonly BlobPart[]): string[] => blobs.map((b) => b.ref);

export function preconditionError(outcome: Exclude<PutOutcome, { ok: true }>['reason']): S3Error {
  if (outcome === 'missing') return new S3Error('NoSuchKey');
  return new S3Error('PreconditionFailed', undefined, { Condition: outcome === 'exists' ? 'If-None-Match' : 'If-Match' });
}

export class ObjectService {
  /** Blob writes, read pins, releases and the collector (see blob-lifecycle.ts). */
  readonly lifecycle: BlobLifecycle;

  constructor(
    readonly meta: MetadataStore,
    readonly blobs: BlobStore,
    private readonly log: Logger,
    /** Counts what writes and deletes change (StorageMeter); none in tests that do not need it. */
    readonly changes?: StorageChanges,
    lifecycle: BlobLifecycleOptions = {},
  ) {
    this.lifecycle = new BlobLifecycle(meta, blobs, log, lifecycle);
  }

  // ---- buckets ----

  /** Streams `body` into a new blob (recorded as pending until a commit refers to it). */
  writeBlob(body: Readable): Promise<BlobPart> {
    return this.lifecycle.write(body);
  }

  async createBucket(projectId: string, name: string, region: string): Promise<BucketRow> {
    const problem = bucketNameProblem(name);
    if (problem) throw new S3Error('InvalidBucketName', problem, { BucketName: name });
    const row: BucketRow = { id: randomUUID(), projectId, name, region, createdAt: new Date() };
    const result = await this.meta.createBucket(row);
    if (result === 'exists') throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
    return row;
  }

  async requireBucket(projectId: string, name: string): Promise<BucketRow> {
    const bucket = await this.meta.getBucket(projectId, name);
    if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    return bucket;
  }

  /**
   * Deletes an empty bucket. Unfinished multipart uploads do not keep it alive: as in S3 they are
   * aborted with it (objects do keep it, so they are checked first).
   */
  async deleteBucket(bucket: BucketRow): Promise<void> {
    const objects = await this.meta.listObjects(bucket.id, { prefix: '', limit: 1 });
    if (objects.length > 0) throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket.name });
    for (;;) {
      const uploads = await this.meta.listUploads(bucket.id, { prefix: '', limit: 1000 });
      if (uploads.length === 0) break;
      for (const u of uploads) {
        const blobs = await this.meta.abortUpload(u.uploadId);
        if (blobs) await this.release(blobs);
      }
    }
    const result = await this.meta.deleteBucket(bucket.id);
    if (result === 'not-empty') throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket.name });
  }

  // ---- objects ----

  async headObject(bucket: BucketRow, key: string): Promise<ObjectRow> {
    const row = await this.meta.getObject(bucket.id, key);
    if (!row) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return row;
  }

  /**
   * The current row of `key`, its blobs pinned until the lease is released. Reads that open the
   * bytes later (a GET after its conditions, a copy) use this, so an overwrite or delete that
   * commits meanwhile cannot remove a part's blob before the read reaches it.
   */
  async leaseObject(bucket: BucketRow, key: string): Promise<ObjectLease> {
    const row = await this.lifecycle.lookupPinned(() => this.meta.getObject(bucket.id, key));
    if (!row) throw new S3Error('NoSuchKey', undefined, { Key: key });
    let held = true;
    return {
      row,
      open: (range) => this.openObject(row, range),
      release: () => {
        if (!held) return;
        held = false;
        this.unpin(row.blobs);
      },
    };
  }

  /** Streams an object's bytes; its blobs stay pinned until the stream closes. */
  openObject(row: ObjectRow, range?: ByteRange): Readable {
    this.lifecycle.pin(refsOf(row.blobs));
    const stream = readBlobs(this.blobs, row.blobs, range);
    // 'close' follows the end, an error and destroy() (a client that went away) alike.
    stream.once('close', () => this.unpin(row.blobs));
    return stream;
  }

  private unpin(blobs: readonly BlobPart[]): void {
    this.lifecycle.unpin(refsOf(blobs));
  }

  /**
   * Streams a verified body into a new blob and commits it. The digest stream fails on a checksum
   * mismatch, in which case the blob store discards the bytes and nothing is committed.
   */
  async putObject(input: NewObject, body: BodyDigest, checksumAlgorithm: ChecksumAlgorithm | undefined): Promise<ObjectRow> {
    await this.checkCondition(input.bucket, input.key, input.condition);
    const written = await this.writeBlob(body);
    if (input.beforeCommit) {
      try {
        await input.beforeCommit(written.size);
      } catch (err) {
        await this.discard([{ ref: written.ref, size: written.size }]);
        throw err;
      }
    }
    const checksum: StoredChecksum | null = checksumAlgorithm
      ? { algorithm: checksumAlgorithm, type: 'FULL_OBJECT', value: body.checksumBase64! }
      : null;
    const row: ObjectRow = {
      bucketId: input.bucket.id,
      key: input.key,
      size: written.size,
      etag: `"${body.md5Hex}"`,
      lastModified: new Date(),
      headers: input.headers,
      userMetadata: input.userMetadata,
      checksum,
      blobs: [{ ref: written.ref, size: written.size }],
      partsCount: null,
      tags: input.tags,
      storageClass: input.storageClass,
      acl: input.acl ?? null,
    };
    await this.commit(row, input.condition, [row.blobs[0]]);
    return row;
  }

  /** Commits a row whose blobs are already written; on failure the new blobs are released. */
  async commit(row: ObjectRow, condition: PutCondition, newBlobs: BlobPart[]): Promise<void> {
    let outcome: PutOutcome;
    try {
      outcome = await this.meta.putObject(row, condition);
    } catch (err) {
      await this.discard(newBlobs);
      // The bucket was deleted while the body streamed (its row is what the object refers to).
      if (isStoreError(err, 'foreign-key')) throw new S3Error('NoSuchBucket');
      throw err;
    }
    if (!outcome.ok) {
      await this.discard(newBlobs);
      throw preconditionError(outcome.reason);
    }
    this.counted(row.bucketId, row.size, outcome.replaced);
    await this.release(outcome.replaced);
  }

  /** Deletes blobs written for a commit that did not happen (still pending in the ledger, if kept). */
  async discard(blobs: BlobPart[]): Promise<void> {
    for (const b of blobs) await this.deleteBlob(b.ref);
    if (!this.lifecycle.ledger) return;
    await this.meta.forgetBlobs(blobs.map((b) => b.ref)).catch((err: unknown) => this.log.warn({ err }, 'forgetting discarded blobs failed'));
  }

  /** Reports a committed object of `size` that replaced the object made of `replaced` (none: a new key). */
  counted(bucketId: string, size: number, replaced: readonly BlobPart[]): void {
    this.changes?.changed(bucketId, size - replaced.reduce((n, b) => n + b.size, 0), replaced.length > 0 ? 0 : 1);
  }

  /** Fails fast, before reading a body, when a conditional write cannot succeed. Re-checked at commit. */
  async checkCondition(bucket: BucketRow, key: string, condition: PutCondition): Promise<void> {
    if (condition.kind === 'none') return;
    const existing = await this.meta.getObject(bucket.id, key);
    if (condition.kind === 'ifNoneMatch' && existing) throw preconditionError('exists');
    if (condition.kind === 'ifMatch') {
      if (!existing) throw preconditionError('missing');
      if (existing.etag !== condition.etag) throw preconditionError('etag-mismatch');
    }
  }

  /**
   * Copies an object's bytes into a new blob (blobs are never shared between rows). The copy is a
   * single-part object: its ETag is the MD5 of the bytes and its checksum is recomputed in full.
   */
  async copyObject(source: ObjectRow, target: NewObject): Promise<ObjectRow> {
    await this.checkCondition(target.bucket, target.key, target.condition);
    const algorithm = source.checksum?.algorithm;
    const digest = new BodyDigest({ checksumAlgorithm: algorithm });
    const reading = this.openObject(source);
    reading.on('error', (err) => digest.destroy(err));
    // Destroyed however the write ends, so a failed write does not leave the source open and pinned.
    const written = await this.writeBlob(reading.pipe(digest)).finally(() => reading.destroy());
    const row: ObjectRow = {
      bucketId: target.bucket.id,
      key: target.key,
      size: written.size,
      etag: `"${digest.md5Hex}"`,
      lastModified: new Date(),
      headers: target.headers,
      userMetadata: target.userMetadata,
      checksum: algorithm ? { algorithm, type: 'FULL_OBJECT', value: digest.checksumBase64! } : null,
      blobs: [{ ref: written.ref, size: written.size }],
      partsCount: null,
      tags: target.tags,
      storageClass: target.storageClass,
      acl: target.acl ?? null,
    };
    await this.commit(row, target.condition, row.blobs);
    return row;
  }

  async deleteObject(bucket: BucketRow, key: string): Promise<boolean> {
    const removed = await this.meta.deleteObject(bucket.id, key);
    if (removed) this.changes?.changed(bucket.id, -removed.reduce((n, b) => n + b.size, 0), -1);
    if (removed) await this.release(removed);
    return removed !== null;
  }

  async setTags(bucket: BucketRow, key: string, tags: Record<string, string>): Promise<void> {
    if (!(await this.meta.setObjectTags(bucket.id, key, tags))) throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  listObjects(bucket: BucketRow, q: ListObjectsQuery): Promise<ObjectSummary[]> {
    return this.meta.listObjects(bucket.id, q);
  }

  /**
   * Releases blobs no committed row references any more (see BlobLifecycle.release). A failure
   * leaves them to the collector, never an error.
   */
  async release(blobs: BlobPart[]): Promise<void> {
    await this.lifecycle.release(blobs);
  }

  private async deleteBlob(ref: string): Promise<void> {
    try {
      await this.blobs.delete(ref);
    } catch (err) {
      this.log.warn({ err, ref }, 'blob release failed; the sweep will remove it');
    }
  }

  /** One pass of the blob collector (crash leftovers, releases due); returns how many blobs it deleted. */
  collectBlobs(): Promise<number> {
    return this.lifecycle.sweep();
  }

  close(): void {
    this.lifecycle.close();
  }

  /**
   * Removes blobs older than `minAgeMs` that no committed row references, by listing the blob store:
   * for a local folder that holds blobs written before the ledger existed.
   */
  async sweepOrphans(minAgeMs: number): Promise<number> {
    const referenced = await this.meta.referencedBlobRefs();
    const cutoff = Date.now() - minAgeMs;
    let removed = 0;
    for await (const { ref, mtime } of this.blobs.list()) {
      // A pinned blob is being read; its deferred release deletes it when the read closes.
      if (mtime.getTime() < cutoff && !referenced.has(ref) && !this.lifecycle.isPinned(ref)) {
        await this.blobs.delete(ref);
        removed++;
      }
    }
    return removed;
  }
}
