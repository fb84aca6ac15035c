import { randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { S3Error } from '../s3/errors.js';
import type { BlobStore, ByteRange } from '../storage/blob/blob-store.js';
import { storageAdded, storageRemoved } from '../storage/metadata/metadata-store.js';
import type {
  BlobPart,
  BucketRow,
  BucketStats,
  MetadataStore,
  ObjectRow,
  ObjectVersionRow,
  PutCondition,
  PutOutcome,
  StoredEncryption,
  StoredHeaders,
  UploadRow,
  VersioningMode,
} from '../storage/metadata/metadata-store.js';
import { BodyDigest } from '../checksums/digest.js';
import type { ChecksumAlgorithm, StoredChecksum } from '../checksums/types.js';
import { bucketNameProblem } from './bucket-name.js';
import { readBlobs } from './object-reader.js';
import { BlobLifecycle, type BlobLifecycleOptions } from './blob-lifecycle.js';
import { isStoreError } from '../storage/metadata/store-errors.js';
import { hasNul } from '../util/nul.js';
import { listPage, listVersionsPage, withoutNul, type ListingPage, type ListingRequest, type VersionListingPage, type VersionListingRequest } from './listing.js';
import { EncryptingStream, openSealedBytes, readSealedBlobs, sealedSize } from './chunked-cipher.js';
import { customerEtag, DataKeys, type CustomerKey, type EncryptionRequest } from './sse.js';
import { defaultEncryptionOf, initialProtectionSettings, objectLockOf, versioningMode } from './bucket-config.js';
import type { RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';
import { bypassesGovernance, checkRetainUntil, newVersionLock, removalBlocked, removalGuard, type LockState } from './object-lock.js';
import { sweepOrphans } from './orphan-sweep.js';
import { quotaCharge, quotaExceeded } from '../quotas/quota-service.js';

// Buckets and objects: the rules of the domain, independent of HTTP. An object write is
// blob written -> metadata committed in one atomic write -> replaced blobs released. In a
// versioned bucket nothing is replaced: the previous version stays, with its blobs, until that
// version itself is deleted.

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
  /** Requested encryption; absent: the bucket's default encryption, if any. */
  encryption?: EncryptionRequest;
  /** Object Lock headers; absent: the bucket's default retention, if any. */
  lock?: Partial<LockState>;
}

/** Which version to read, and the SSE-C key that opens it. */
export interface ReadOptions {
  versionId?: string;
  customer?: CustomerKey;
}

/** Told what each committed write and delete changed in a bucket (the quota counters, the usage history). */
export interface StorageChanges {
  /** A committed change of what `bucket` stores (under a quota, the commit counted it already). */
  changed(bucket: BucketRow, bytes: number, objects: number): void;
}

/**
 * An object version's row with its blobs pinned: they stay on disk, even if the key is overwritten
 * or deleted meanwhile, until release(). Streams from open() hold pins of their own until they close.
 */
export interface ObjectLease {
  readonly row: ObjectVersionRow;
  /** The key its bytes are sealed with (null: stored in clear). */
  readonly dataKey: Buffer | null;
  /** Streams the plaintext (or a range); the stream lets go of its pin when it ends, fails or is destroyed. */
  open(range?: ByteRange): Readable;
  /**
   * The plaintext (or a range) at once, read while the lease holds the pin, when the object is one
   * blob kept inline (in clear, or sealed and opened here); undefined otherwise, and open() streams it.
   */
  bytes(range?: ByteRange): Buffer | undefined;
  /** Lets go of the lease's pin (once; later calls do nothing). */
  release(): void;
}

/** What a forced bucket deletion may remove on the caller's behalf; false keeps the version or upload. */
export interface RemovalFilter {
  version(key: string, versionId: string): boolean;
  upload(key: string): boolean;
}

/** The outcome of DeleteObject, as S3 reports it. */
export interface DeleteResult {
  /** The version removed or the delete marker made (absent in unversioned buckets). */
  versionId?: string;
  /** A delete marker was made, or the version removed was one. */
  deleteMarker: boolean;
  /** Something was removed or hidden (false: there was no such object or version). */
  existed: boolean;
}

const refsOf = (blobs: readonly BlobPart[]): string[] => blobs.map((b) => b.ref);

/** Why a write was not committed, as S3 answers it. */
export function writeRefused(bucket: BucketRow, outcome: Exclude<PutOutcome, { ok: true }>): S3Error {
  return outcome.reason === 'quota' ? quotaExceeded(bucket.name, outcome.breach) : preconditionError(outcome.reason);
}

export function preconditionError(outcome: Exclude<Exclude<PutOutcome, { ok: true }>['reason'], 'quota'>): S3Error {
  if (outcome === 'missing') return new S3Error('NoSuchKey');
  if (outcome === 'locked') return new S3Error('AccessDenied', 'The version this write would replace is protected by Object Lock.');
  return new S3Error('PreconditionFailed', undefined, { Condition: outcome === 'exists' ? 'If-None-Match' : 'If-Match' });
}

/** A new version ID: 32 URL-safe characters, as AWS's. */
export function newVersionId(): string {
  // Never starting with '-' or '_': command-line clients (the AWS CLI's argparse) read a value
  // that begins with '-' as the next option ("--version-id -Dy…" fails).
  for (;;) {
    const id = randomBytes(24).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** Whether `v` could be a version ID this server made ('null', or the form newVersionId makes). */
export function isVersionId(v: string): boolean {
  return v === 'null' || /^[A-Za-z0-9_-]{32}$/.test(v);
}

export class ObjectService {
  /** Blob writes, read pins, releases and the collector (see blob-lifecycle.ts). */
  readonly lifecycle: BlobLifecycle;

  constructor(
    readonly meta: MetadataStore,
    readonly blobs: BlobStore,
    private readonly log: Logger,
    readonly keys: DataKeys,
    private readonly audit: AuditService,
    /** Counts what writes and deletes change (StorageMeter); none in tests that do not need it. */
    readonly changes?: StorageChanges,
    private readonly clock: () => Date = () => new Date(),
    lifecycle: BlobLifecycleOptions = {},
  ) {
    this.lifecycle = new BlobLifecycle(meta, blobs, log, lifecycle);
  }

  /** Streams `body` into a new blob (recorded as pending until a commit refers to it). */
  writeBlob(body: Readable): Promise<BlobPart> {
    return this.lifecycle.write(body);
  }

  // ---- buckets ----

  async createBucket(projectId: string, name: string, region: string, opts: { objectLock?: boolean } = {}): Promise<BucketRow> {
    const problem = bucketNameProblem(name);
    if (problem) throw new S3Error('InvalidBucketName', problem, { BucketName: name });
    const row: BucketRow = { id: randomUUID(), projectId, name, region, createdAt: new Date() };
    const result = await this.meta.createBucket(row, initialProtectionSettings(opts.objectLock ?? false));
    if (result === 'exists') throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
    return row;
  }

  /** The bucket with its settings (one query), or NoSuchBucket. */
  async requireBucket(projectId: string, name: string): Promise<BucketRow> {
    const found = hasNul(name) ? null : await this.meta.getBucketWithSettings(projectId, name);
    if (!found) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    return { ...found.bucket, settings: found.settings };
  }

  listBuckets(projectId: string): Promise<BucketRow[]> {
    return this.meta.listBuckets(projectId);
  }

  bucketStats(bucket: BucketRow): Promise<BucketStats> {
    return this.meta.bucketStats(bucket.id);
  }

  /**
   * Deletes a bucket, for every protocol. It must hold no objects, versions or delete markers;
   * unfinished multipart uploads do not keep it alive (as in S3, they are aborted with it). With
   * `force`, every version is removed first. A version under Object Lock, which nobody can remove,
   * and what `may` keeps (the caller's bucket policy Deny) stop the delete before anything is
   * removed (BucketNotEmpty, AccessDenied): removing the rest would leave a bucket that stays, with
   * its newest versions gone and older ones current again. Should one be locked or denied while it
   * runs, that one is kept, with the bucket. NoSuchBucket when a concurrent delete took the bucket first.
   */
  async deleteBucket(bucket: BucketRow, opts: { force?: boolean; may?: RemovalFilter } = {}): Promise<{ objects: number; uploads: number }> {
    const attempts = opts.force ? FORCE_ATTEMPTS : 1;
    const removed = { objects: 0, uploads: 0 };
    const kept: string[] = [];
    if (opts.force) await this.refuseUnremovable(bucket, opts.may);
    for (let attempt = 0; attempt < attempts && kept.length === 0; attempt++) {
      if (opts.force) removed.objects += await this.emptyBucket(bucket, opts.may, kept);
      else if ((await this.meta.listObjectVersions(bucket.id, { prefix: '', limit: 1 })).length > 0) break;
      removed.uploads += await this.abortUploads(bucket, opts.may, kept);
      if (kept.length > 0) break;
      const outcome = await this.meta.deleteBucket(bucket.id);
      if (outcome === 'deleted') return removed;
      // A concurrent delete took the bucket after this request found it: S3 answers that delete's
      // loser NoSuchBucket, and only the winner is audited.
      if (outcome === 'gone') throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    }
    if (kept.length > 0) {
      throw new S3Error('AccessDenied', `The bucket policy does not let you delete ${kept[0]}; the bucket and what the policy protects were kept.`);
    }
    const locked = opts.force ? await this.firstLockedVersion(bucket) : null;
    if (locked) {
      throw new S3Error('BucketNotEmpty', `The bucket holds object versions under Object Lock (${locked.what}); it cannot be deleted until they are released.`, { BucketName: bucket.name });
    }
    throw new S3Error('BucketNotEmpty', opts.force ? 'Objects kept arriving while the bucket was being emptied; try again.' : undefined, { BucketName: bucket.name });
  }

  /** Removes every version (and delete marker) the lock rules and `may` allow; returns how many, and adds what `may` kept to `kept`. */
  private async emptyBucket(bucket: BucketRow, may: RemovalFilter | undefined, kept: string[]): Promise<number> {
    const now = this.clock();
    let removed = 0;
    for await (const page of this.versionPages(bucket)) {
      for (const v of page) {
        if (removalBlocked(v, now, false)) continue;
        if (may && !may.version(v.key, v.versionId)) {
          kept.push(`${v.key} version ${v.versionId}`);
          continue;
        }
        const out = await this.meta.deleteObjectVersion(bucket.id, v.key, v.versionId, removalGuard(now), quotaCharge(bucket));
        if (!out.ok || !out.deleted) continue;
        await this.dropped(bucket, out.release);
        removed++;
      }
    }
    return removed;
  }

  /** Every version (and delete marker) of the bucket, a page at a time; the pages may be changed as they are read. */
  private async *versionPages(bucket: BucketRow): AsyncGenerator<ObjectVersionRow[]> {
    // Resumed by the last version's place, which stays a place once that version is removed.
    let marker: { keyMarker: string; versionIdMarker: string; versionSeqMarker: number } | undefined;
    for (;;) {
      const page = await this.meta.listObjectVersions(bucket.id, { prefix: '', ...marker, limit: EMPTY_PAGE });
      yield page;
      if (page.length < EMPTY_PAGE) return;
      const last = page.at(-1)!;
      marker = { keyMarker: last.key, versionIdMarker: last.versionId, versionSeqMarker: last.seq };
    }
  }

  /** Every multipart upload of the bucket, a page at a time; the pages may be changed as they are read. */
  private async *uploadPages(bucket: BucketRow): AsyncGenerator<UploadRow[]> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const uploads = await this.meta.listUploads(bucket.id, { prefix: '', keyMarker, uploadIdMarker, limit: EMPTY_PAGE });
      yield uploads;
      if (uploads.length < EMPTY_PAGE) return;
      keyMarker = uploads.at(-1)!.key;
      uploadIdMarker = uploads.at(-1)!.uploadId;
    }
  }

  /** Aborts every multipart upload of the bucket `may` allows; returns how many, and adds what `may` kept to `kept`. */
  private async abortUploads(bucket: BucketRow, may: RemovalFilter | undefined, kept: string[]): Promise<number> {
    let aborted = 0;
    for await (const uploads of this.uploadPages(bucket)) {
      for (const u of uploads) {
        if (may && !may.upload(u.key)) kept.push(`the multipart upload of ${u.key}`);
        else if (await this.abortUpload(u)) aborted++;
      }
    }
    return aborted;
  }

  /** Removes an upload and releases its parts' blobs; false when it was gone already. */
  async abortUpload(upload: UploadRow): Promise<boolean> {
    const blobs = await this.meta.abortUpload(upload.uploadId);
    if (!blobs) return false;
    await this.release(blobs);
    return true;
  }

  /** Before a forced delete removes anything: BucketNotEmpty for a locked version, AccessDenied for what `may` keeps. */
  private async refuseUnremovable(bucket: BucketRow, may: RemovalFilter | undefined): Promise<void> {
    const locked = await this.firstLockedVersion(bucket, may);
    if (locked?.denied) throw new S3Error('AccessDenied', `The bucket policy does not let you delete ${locked.what}; nothing was deleted.`);
    if (locked) throw new S3Error('BucketNotEmpty', `The bucket holds object versions under Object Lock (${locked.what}); it cannot be deleted until they are released.`, { BucketName: bucket.name });
    if (!may) return;
    for await (const uploads of this.uploadPages(bucket)) {
      const denied = uploads.find((u) => !may.upload(u.key));
      if (denied) throw new S3Error('AccessDenied', `The bucket policy does not let you delete the multipart upload of ${denied.key}; nothing was deleted.`);
    }
  }

  /** The first version nobody may remove (Object Lock), or with `may` that the caller may not (`denied`). */
  private async firstLockedVersion(bucket: BucketRow, may?: RemovalFilter): Promise<{ what: string; denied: boolean } | null> {
    const now = this.clock();
    for await (const page of this.versionPages(bucket)) {
      for (const v of page) {
        const blocked = removalBlocked(v, now, false);
        if (blocked || (may && !may.version(v.key, v.versionId))) return { what: `${v.key} version ${v.versionId}`, denied: !blocked };
      }
    }
    return null;
  }

  // ---- reading ----

  /** A version's row (the current one without versionId), without its bytes; S3's errors when missing. */
  async headObject(bucket: BucketRow, key: string, versionId?: string): Promise<ObjectVersionRow> {
    const row = await this.findVersion(bucket, key, versionId);
    return this.requireReadable(bucket, key, row, versionId);
  }

  private findVersion(bucket: BucketRow, key: string, versionId: string | undefined): Promise<ObjectVersionRow | null> {
    if (versionId !== undefined) return this.meta.getObjectVersion(bucket.id, key, versionId);
    return this.meta.getObject(bucket.id, key).then((r) => r && ({ ...(r as ObjectVersionRow), isLatest: true, isDeleteMarker: false, noncurrentSince: null }));
  }

  /** NoSuchKey / NoSuchVersion, or for a delete marker what S3 answers (with its headers). */
  private async requireReadable(bucket: BucketRow, key: string, row: ObjectVersionRow | null, versionId: string | undefined): Promise<ObjectVersionRow> {
    if (row && !row.isDeleteMarker) return row;
    if (versionId !== undefined) {
      if (!row) throw new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against a delete marker.', { Method: 'GET', ResourceType: 'DeleteMarker' }, {
        'x-amz-delete-marker': 'true',
        'x-amz-version-id': row.versionId,
        'Last-Modified': row.lastModified.toUTCString(),
      });
    }
    // Only a versioned bucket can have a delete marker in front of the key.
    const latest = versioningMode(bucket) === 'unversioned' ? null : await this.meta.getLatestVersion(bucket.id, key);
    const headers: Record<string, string> = latest?.isDeleteMarker ? { 'x-amz-delete-marker': 'true', 'x-amz-version-id': latest.versionId } : {};
    throw new S3Error('NoSuchKey', undefined, { Key: key }, headers);
  }

  /**
   * A version of `key` (the current one without versionId), its blobs pinned until the lease is
   * released, and its data key opened (an SSE-C object needs the customer's key). Reads that open
   * the bytes later (a GET after its conditions, a copy) use this, so an overwrite or delete that
   * commits meanwhile cannot remove a part's blob before the read reaches it.
   */
  async leaseObject(bucket: BucketRow, key: string, opts: ReadOptions = {}): Promise<ObjectLease> {
    const found = await this.lifecycle.lookupPinned(() => this.findVersion(bucket, key, opts.versionId));
    let held = !!found;
    const release = () => {
      if (!held) return;
      held = false;
      this.unpin(found!.blobs);
    };
    try {
      const row = await this.requireReadable(bucket, key, found, opts.versionId);
      const dataKey = this.keys.open(row.encryption, opts.customer);
      return {
        row,
        dataKey,
        open: (range) => this.openObject(row, range, dataKey),
        bytes: (range) => this.inlineBytes(row, dataKey, range),
        release,
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * An object's bytes (or a range of them) read at once, when its one blob is kept inline, and
   * opened here when it is sealed; undefined when it must be streamed.
   */
  private inlineBytes(row: ObjectRow, dataKey: Buffer | null, range: ByteRange | undefined): Buffer | undefined {
    if (row.blobs.length !== 1 || !this.blobs.getInline) return undefined;
    const blob = row.blobs[0];
    if (!dataKey) return this.blobs.getInline(blob.ref, blob.size, range);
    const sealed = this.blobs.getInline(blob.ref, sealedSize(blob.size));
    return sealed && openSealedBytes(sealed, blob, dataKey, range);
  }

  /** The version a HEAD describes, checked as a read is (the SSE-C key included), with nothing pinned. */
  async findReadable(bucket: BucketRow, key: string, opts: ReadOptions = {}): Promise<ObjectVersionRow> {
    const row = await this.requireReadable(bucket, key, await this.findVersion(bucket, key, opts.versionId), opts.versionId);
    this.keys.checkReadable(row.encryption, opts.customer);
    return row;
  }

  /** Streams an object's plaintext; its blobs stay pinned until the stream closes. */
  openObject(row: ObjectRow, range: ByteRange | undefined, dataKey: Buffer | null): Readable {
    this.lifecycle.pin(refsOf(row.blobs));
    const stream = dataKey ? readSealedBlobs(this.blobs, row.blobs, dataKey, range) : readBlobs(this.blobs, row.blobs, range);
    // 'close' follows the end, an error and destroy() (a client that went away) alike.
    stream.once('close', () => this.unpin(row.blobs));
    return stream;
  }

  private unpin(blobs: readonly BlobPart[]): void {
    this.lifecycle.unpin(refsOf(blobs));
  }

  // ---- writing ----

  /**
   * Streams a verified body into a new blob (sealed, when the object is encrypted) and commits it.
   * The digest stream fails on a checksum mismatch, in which case the blob store discards the
   * bytes and nothing is committed.
   */
  async putObject(input: NewObject, body: BodyDigest, checksumAlgorithm: ChecksumAlgorithm | undefined): Promise<ObjectRow> {
    // input.condition holds at the commit; a caller with one checks it first (checkCondition),
    // before it asks for the body.
    const now = this.clock();
    const lock = this.lockFor(input.bucket, input.lock, now);
    const sealed = this.sealFor(input.bucket, input.encryption);
    const written = await this.writeBlob(sealed ? sealStream(body, sealed.dataKey) : body);
    // An encrypted blob is larger than the object: sizes in rows are always the plaintext's.
    const blob = { ref: written.ref, size: sealed ? body.size : written.size };
    if (input.beforeCommit) {
      try {
        await input.beforeCommit(blob.size);
      } catch (err) {
        await this.discard([blob]);
        throw err;
      }
    }
    const checksum: StoredChecksum | null = checksumAlgorithm
      ? { algorithm: checksumAlgorithm, type: 'FULL_OBJECT', value: body.checksumBase64! }
      : null;
    const row: ObjectRow = {
      bucketId: input.bucket.id,
      key: input.key,
      size: blob.size,
      etag: `"${etagOf(sealed, body.md5Hex)}"`,
      lastModified: now,
      headers: input.headers,
      userMetadata: input.userMetadata,
      checksum,
      blobs: [blob],
      partsCount: null,
      tags: input.tags,
      storageClass: input.storageClass,
      encryption: sealed?.stored ?? null,
      retention: lock.retention,
      legalHold: lock.legalHold,
      acl: input.acl ?? null,
    };
    await this.commit(input.bucket, row, input.condition, [blob]);
    return row;
  }

  /**
   * The encryption of a new object: the request's, else the bucket's default, else none. Every
   * write that makes an object (PUT, POST, copy, multipart upload) asks here, so here a bucket
   * that blocks SSE-C refuses it (403, as S3).
   */
  sealFor(bucket: BucketRow, requested: EncryptionRequest | undefined): { stored: StoredEncryption; dataKey: Buffer } | null {
    if (requested?.kind === 'SSE-C') this.refuseIfSseCBlocked(bucket);
    const config = defaultEncryptionOf(bucket);
    const req = requested ?? (config ? ({ kind: 'SSE-S3' } as const) : undefined);
    return req ? this.keys.create(req) : null;
  }

  /** 403 when the bucket blocks SSE-C (BlockedEncryptionTypes), as S3 answers any SSE-C write there. */
  refuseIfSseCBlocked(bucket: BucketRow): void {
    if (defaultEncryptionOf(bucket)?.blockSseC) {
      throw new S3Error('AccessDenied', 'This bucket blocks writes encrypted with customer-provided keys (SSE-C).');
    }
  }

  /** Checks a write's Object Lock headers: only a bucket with Object Lock takes them, and a retain-until date must lie ahead. */
  private checkLockRequest(bucket: BucketRow, requested: Partial<LockState> | undefined, now: Date): void {
    const asked = requested && (requested.retention !== undefined || requested.legalHold !== undefined);
    if (asked && !objectLockOf(bucket)) throw new S3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration');
    if (requested?.retention) checkRetainUntil(requested.retention.until, now);
  }

  /** The Object Lock state of a new version: the headers', else the bucket's default retention. */
  lockFor(bucket: BucketRow, requested: Partial<LockState> | undefined, now: Date): LockState {
    this.checkLockRequest(bucket, requested, now);
    return newVersionLock(objectLockOf(bucket), requested, now);
  }

  /**
   * Runs a write in the bucket's versioning mode, with a new version ID when versions are kept.
   * A bucket whose versioning changed since it was read is read again (the store notices).
   */
  async inVersioningMode<T extends { ok: boolean; reason?: string }>(bucket: BucketRow, write: (mode: VersioningMode, versionId: string) => Promise<T>): Promise<T> {
    let current = bucket;
    for (let attempt = 0; ; attempt++) {
      const mode = versioningMode(current);
      const outcome = await write(mode, mode === 'enabled' ? newVersionId() : 'null');
      if (outcome.ok || outcome.reason !== 'versioned' || attempt >= 3) return outcome;
      current = await this.requireBucket(bucket.projectId, bucket.name);
    }
  }

  /**
   * Commits a row whose blobs are already written, charged to the bucket's quotas if it has any;
   * on failure the new blobs are released.
   */
  async commit(bucket: BucketRow, row: ObjectRow, condition: PutCondition, newBlobs: BlobPart[]): Promise<void> {
    let outcome: PutOutcome;
    const quota = quotaCharge(bucket);
    try {
      outcome = await this.inVersioningMode(bucket, (mode, versionId) => {
        row.versionId = versionId;
        return this.meta.putObject(row, condition, mode, removalGuard(this.clock()), quota);
      });
    } catch (err) {
      await this.discard(newBlobs);
      // The bucket was deleted while the body streamed (its row is what the object refers to).
      if (isStoreError(err, 'foreign-key')) throw new S3Error('NoSuchBucket');
      throw err;
    }
    if (!outcome.ok) {
      await this.discard(newBlobs);
      throw writeRefused(bucket, outcome);
    }
    await this.counted(bucket, row.size, outcome.replaced);
    await this.release(outcome.replaced);
  }

  /** Deletes blobs written for a commit that did not happen (still pending in the ledger, if kept). */
  async discard(blobs: BlobPart[]): Promise<void> {
    for (const b of blobs) await this.deleteBlob(b.ref);
    if (!this.lifecycle.ledger) return;
    await this.meta.forgetBlobs(blobs.map((b) => b.ref)).catch((err: unknown) => this.log.warn({ err }, 'forgetting discarded blobs failed'));
  }

  /**
   * Reports a committed object of `size` that replaced the object made of `replaced` (none: a new
   * key). Under a quota the commit counted it (quotaCharge), and only the usage figure is told.
   */
  async counted(bucket: BucketRow, size: number, replaced: readonly BlobPart[]): Promise<void> {
    const added = storageAdded(size, replaced);
    this.changes?.changed(bucket, added.bytes, added.objects);
  }

  /**
   * Releases the blobs of a removed version and counts it out of its bucket (no blobs: nothing
   * was removed, or only a delete marker, which holds no bytes). Under a quota the removal's own
   * transaction counted it (every removal passes quotaCharge), and only the usage figure is told.
   */
  private async dropped(bucket: BucketRow, blobs: BlobPart[]): Promise<void> {
    const removed = storageRemoved(blobs);
    if (blobs.length > 0) this.changes?.changed(bucket, removed.bytes, removed.objects);
    await this.release(blobs);
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
   * Copies a leased version's bytes into a new blob (blobs are never shared between rows),
   * decrypting with the source's key and sealing with the target's. The copy is a single-part
   * object: its ETag is the MD5 of the bytes and its checksum is recomputed in full, with
   * `checksumAlgorithm` when the request names one (x-amz-checksum-algorithm), else the source's.
   */
  async copyObject(source: ObjectLease, target: NewObject, checksumAlgorithm?: ChecksumAlgorithm): Promise<ObjectRow> {
    await this.checkCondition(target.bucket, target.key, target.condition);
    const now = this.clock();
    const lock = this.lockFor(target.bucket, target.lock, now);
    const sealed = this.sealFor(target.bucket, target.encryption);
    const algorithm = checksumAlgorithm ?? source.row.checksum?.algorithm;
    const digest = new BodyDigest({ checksumAlgorithm: algorithm, sizeHint: source.row.size });
    const reading = source.open();
    reading.on('error', (err) => digest.destroy(err));
    const plain = reading.pipe(digest);
    // Destroyed however the write ends, so a failed write does not leave the source open and pinned.
    const written = await this.writeBlob(sealed ? sealStream(plain, sealed.dataKey) : plain).finally(() => reading.destroy());
    const blob = { ref: written.ref, size: sealed ? digest.size : written.size };
    const row: ObjectRow = {
      bucketId: target.bucket.id,
      key: target.key,
      size: blob.size,
      etag: `"${etagOf(sealed, digest.md5Hex)}"`,
      lastModified: now,
      headers: target.headers,
      userMetadata: target.userMetadata,
      checksum: algorithm ? { algorithm, type: 'FULL_OBJECT', value: digest.checksumBase64! } : null,
      blobs: [blob],
      partsCount: null,
      tags: target.tags,
      storageClass: target.storageClass,
      encryption: sealed?.stored ?? null,
      retention: lock.retention,
      legalHold: lock.legalHold,
      acl: target.acl ?? null,
    };
    await this.commit(target.bucket, row, target.condition, row.blobs);
    return row;
  }

  /**
   * DeleteObject. Without a version ID: an unversioned bucket removes the object; a versioned one
   * puts a delete marker in front of it (nothing is lost). With one: that version goes for good,
   * unless Object Lock protects it; `bypass` (an admin-rw caller that sent the bypass header)
   * lets GOVERNANCE retention give way, and is audited when it does. With `onlyIf` (If-Match), the
   * version removed or hidden must pass it as it stands when the change commits, not only when it
   * was read: PreconditionFailed otherwise, NoSuchKey when there is none.
   */
  async deleteObject(bucket: BucketRow, key: string, opts: { versionId?: string; bypass?: RequestSource; onlyIf?: (v: ObjectVersionRow) => boolean } = {}): Promise<DeleteResult> {
    const now = this.clock();
    const { onlyIf } = opts;
    let failed: 'missing' | 'etag-mismatch' | null = null;
    const passes = (v: ObjectVersionRow | null): boolean => {
      failed = !v ? 'missing' : onlyIf && !onlyIf(v) ? 'etag-mismatch' : null;
      return failed === null;
    };
    if (opts.versionId === undefined) {
      const outcome = await this.inVersioningMode(bucket, async (mode, versionId) => {
        if (mode === 'unversioned' && onlyIf) {
          const out = await this.meta.deleteObjectVersion(bucket.id, key, versionId, (v) => passes(v) && removalBlocked(v, now, false) === null, quotaCharge(bucket));
          if (!out.ok) return out;
          if (!out.deleted) return { ok: false as const, reason: 'missing' as const };
          await this.dropped(bucket, out.release);
          return { ok: true as const, result: { deleteMarker: false, existed: true } as DeleteResult };
        }
        if (mode === 'unversioned') {
          const removed = await this.meta.deleteObject(bucket.id, key, quotaCharge(bucket));
          if (removed) await this.dropped(bucket, removed);
          return { ok: true as const, result: { deleteMarker: false, existed: removed !== null } as DeleteResult };
        }
        const onlyIfCurrent = onlyIf && ((current: ObjectVersionRow | null) => passes(current && !current.isDeleteMarker ? current : null));
        const out = await this.meta.putDeleteMarker({ bucketId: bucket.id, key, versionId, lastModified: now }, mode, removalGuard(now), onlyIfCurrent, quotaCharge(bucket));
        if (!out.ok) return out;
        await this.dropped(bucket, out.release);
        return { ok: true as const, result: { versionId, deleteMarker: true, existed: true } };
      });
      if (!outcome.ok) throw preconditionError(failed ?? (outcome.reason === 'missing' ? 'missing' : 'locked'));
      return outcome.result;
    }
    let blocked: string | null = null;
    let bypassed = false;
    const out = await this.meta.deleteObjectVersion(
      bucket.id,
      key,
      opts.versionId,
      (v) => {
        if (onlyIf && !passes(v)) return false;
        blocked = removalBlocked(v, now, !!opts.bypass);
        bypassed = blocked === null && !!opts.bypass && bypassesGovernance(v, now);
        return blocked === null;
      },
      quotaCharge(bucket),
    );
    if (!out.ok) throw failed ? preconditionError(failed) : new S3Error('AccessDenied', `Object Lock: ${blocked ?? 'this object version is protected'}.`);
    if (onlyIf && !out.deleted) throw preconditionError('missing');
    if (bypassed && opts.bypass) {
      await this.audit.record({ action: 'object.governance-bypassed', actor: opts.bypass.actor, projectId: bucket.projectId, bucket: bucket.name, source: opts.bypass.source, detail: `deleted ${key} version ${opts.versionId}` });
    }
    await this.dropped(bucket, out.release);
    return { versionId: opts.versionId, deleteMarker: out.deleted?.isDeleteMarker ?? false, existed: out.deleted !== null };
  }

  /**
   * Lifecycle expiration of a current object, if it is still that version and not locked: removed
   * in an unversioned bucket, hidden behind a delete marker in a versioned one. Null when skipped.
   */
  async expireCurrent(bucket: BucketRow, row: ObjectVersionRow): Promise<DeleteResult | null> {
    const now = this.clock();
    const same = (v: ObjectVersionRow | null) => !!v && sameVersion(v, row);
    const outcome = await this.inVersioningMode(bucket, async (mode, versionId) => {
      if (mode === 'unversioned') {
        const out = await this.meta.deleteObjectVersion(bucket.id, row.key, row.versionId, (v) => same(v) && removalBlocked(v, now, false) === null, quotaCharge(bucket));
        if (!out.ok || !out.deleted) return { ok: false as const, reason: 'changed' };
        await this.dropped(bucket, out.release);
        return { ok: true as const, result: { deleteMarker: false, existed: true } as DeleteResult };
      }
      const out = await this.meta.putDeleteMarker({ bucketId: bucket.id, key: row.key, versionId, lastModified: now }, mode, removalGuard(now), same, quotaCharge(bucket));
      if (!out.ok) return out;
      await this.dropped(bucket, out.release);
      return { ok: true as const, result: { versionId, deleteMarker: true, existed: true } };
    });
    return outcome.ok ? outcome.result : null;
  }

  /** Lifecycle removal of a noncurrent version or a delete marker, if unchanged and not locked. */
  async expireVersion(bucket: BucketRow, row: ObjectVersionRow): Promise<boolean> {
    const now = this.clock();
    const out = await this.meta.deleteObjectVersion(bucket.id, row.key, row.versionId, (v) => sameVersion(v, row) && removalBlocked(v, now, false) === null, quotaCharge(bucket));
    if (!out.ok || !out.deleted) return false;
    await this.dropped(bucket, out.release);
    return true;
  }

  /** Replaces the tags of the current version, or of versionId; returns the ID of the version changed. */
  async setTags(bucket: BucketRow, key: string, tags: Record<string, string>, versionId?: string): Promise<string> {
    const changed = await this.meta.setObjectTags(bucket.id, key, tags, versionId);
    if (changed !== null) return changed;
    await this.headObject(bucket, key, versionId); // the precise error: no key, no version, a delete marker
    throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  /** One ListObjects page (v1, v2 and the REST API alike): keys and common prefixes after the marker. */
  async listPage(bucket: BucketRow, req: ListingRequest): Promise<ListingPage> {
    const clean = withoutNul(req);
    return clean ? listPage(this.meta, bucket.id, clean) : { contents: [], commonPrefixes: [], isTruncated: false };
  }

  async listVersions(bucket: BucketRow, req: VersionListingRequest): Promise<VersionListingPage> {
    const clean = withoutNul(req);
    return clean ? listVersionsPage(this.meta, bucket.id, clean) : { versions: [], commonPrefixes: [], isTruncated: false };
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
   * Removes blobs older than `minAgeMs` that no committed row references, by listing the blob
   * store (the embedded default, which keeps no blob ledger): see orphan-sweep.ts.
   */
  sweepOrphans(minAgeMs: number, opts: { batch?: number; signal?: AbortSignal } = {}): Promise<number> {
    return sweepOrphans({ meta: this.meta, blobs: this.blobs, isPinned: (ref) => this.lifecycle.isPinned(ref), minAgeMs, ...opts });
  }
}

const EMPTY_PAGE = 1000;
/** A forced delete retries when writers keep adding objects meanwhile, then gives up. */
const FORCE_ATTEMPTS = 5;

/** The ETag of a new object: the MD5 of its bytes, or for SSE-C a keyed digest of it. */
export function etagOf(sealed: { stored: StoredEncryption; dataKey: Buffer } | null, md5Hex: string): string {
  return sealed?.stored.kind === 'SSE-C' ? customerEtag(sealed.dataKey, md5Hex) : md5Hex;
}

/**
 * source piped through the encryption; a failed source (a bad checksum, a client gone) fails the
 * sealed stream, so the blob store discards the write.
 */
export function sealStream(source: Readable, dataKey: Buffer): Readable {
  const sealing = new EncryptingStream(dataKey);
  source.once('error', (err) => sealing.destroy(err));
  source.once('close', () => {
    if (!source.readableEnded && !sealing.destroyed) sealing.destroy(Object.assign(new Error('The request body ended early.'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  });
  return source.pipe(sealing);
}

/** The same version as it was read: a write since (even to the null version) makes it another. */
function sameVersion(a: ObjectVersionRow, b: ObjectVersionRow): boolean {
  return a.versionId === b.versionId && a.etag === b.etag && a.lastModified.getTime() === b.lastModified.getTime() && a.isDeleteMarker === b.isDeleteMarker;
}
