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

// Buckets and objects: the rules of the domain, independent of HTTP. An object write is
// blob written -> metadata committed in one transaction -> replaced blobs released.

export interface NewObject {
  bucket: BucketRow;
  key: string;
  headers: StoredHeaders;
  userMetadata: Record<string, string>;
  tags: Record<string, string>;
  storageClass: string;
  condition: PutCondition;
}

export function preconditionError(outcome: Exclude<PutOutcome, { ok: true }>['reason']): S3Error {
  if (outcome === 'missing') return new S3Error('NoSuchKey');
  return new S3Error('PreconditionFailed', undefined, { Condition: outcome === 'exists' ? 'If-None-Match' : 'If-Match' });
}

export class ObjectService {
  constructor(
    readonly meta: MetadataStore,
    readonly blobs: BlobStore,
    private readonly log: Logger,
  ) {}

  // ---- buckets ----

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

  async deleteBucket(bucket: BucketRow): Promise<void> {
    const result = await this.meta.deleteBucket(bucket.id);
    if (result === 'not-empty') throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket.name });
  }

  // ---- objects ----

  async headObject(bucket: BucketRow, key: string): Promise<ObjectRow> {
    const row = await this.meta.getObject(bucket.id, key);
    if (!row) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return row;
  }

  openObject(row: ObjectRow, range?: ByteRange): Readable {
    return readBlobs(this.blobs, row.blobs, range);
  }

  /**
   * Streams a verified body into a new blob and commits it. The digest stream fails on a checksum
   * mismatch, in which case the blob store discards the bytes and nothing is committed.
   */
  async putObject(input: NewObject, body: BodyDigest, checksumAlgorithm: ChecksumAlgorithm | undefined): Promise<ObjectRow> {
    await this.checkCondition(input.bucket, input.key, input.condition);
    const written = await this.blobs.put(body);
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
      await this.release(newBlobs);
      throw err;
    }
    if (!outcome.ok) {
      await this.release(newBlobs);
      throw preconditionError(outcome.reason);
    }
    await this.release(outcome.replaced);
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
    const written = await this.blobs.put(reading.pipe(digest));
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
    };
    await this.commit(row, target.condition, row.blobs);
    return row;
  }

  async deleteObject(bucket: BucketRow, key: string): Promise<boolean> {
    const removed = await this.meta.deleteObject(bucket.id, key);
    if (removed) await this.release(removed);
    return removed !== null;
  }

  async setTags(bucket: BucketRow, key: string, tags: Record<string, string>): Promise<void> {
    if (!(await this.meta.setObjectTags(bucket.id, key, tags))) throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  listObjects(bucket: BucketRow, q: ListObjectsQuery): Promise<ObjectSummary[]> {
    return this.meta.listObjects(bucket.id, q);
  }

  /** Releases blobs no longer referenced; a failure leaves an orphan for the sweep, never an error. */
  async release(blobs: BlobPart[]): Promise<void> {
    for (const blob of blobs) {
      try {
        await this.blobs.delete(blob.ref);
      } catch (err) {
        this.log.warn({ err, ref: blob.ref }, 'blob release failed; the sweep will remove it');
      }
    }
  }

  /** Removes blobs older than `minAgeMs` that no committed row references (crash leftovers). */
  async sweepOrphans(minAgeMs: number): Promise<number> {
    const referenced = await this.meta.referencedBlobRefs();
    const cutoff = Date.now() - minAgeMs;
    let removed = 0;
    for await (const { ref, mtime } of this.blobs.list()) {
      if (mtime.getTime() < cutoff && !referenced.has(ref)) {
        await this.blobs.delete(ref);
        removed++;
      }
    }
    return removed;
  }
}
