import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import type { ByteRange } from '../storage/blob/blob-store.js';
import type { BucketRow, CompletedPart, ObjectRow, PartRow, PutCondition, StoredEncryption, UploadCompletion, UploadRow } from '../storage/metadata/metadata-store.js';
import { BodyDigest } from '../checksums/digest.js';
import { combineCrc, compositeChecksum, multipartEtag, type CrcAlgorithm } from '../checksums/multipart.js';
import type { ChecksumAlgorithm, ChecksumType, StoredChecksum } from '../checksums/types.js';
import { etagOf, sealStream, writeRefused, type ObjectLease, type ObjectService } from './object-service.js';
import type { CustomerKey, EncryptionRequest } from './sse.js';
import { newVersionLock, removalGuard, type LockState } from './object-lock.js';
import { objectLockOf } from './bucket-config.js';
import { isStoreError } from '../storage/metadata/store-errors.js';
import { pastCommonPrefix, walkRanges, withoutNul } from './listing.js';
import { bareEtag } from '../util/etag.js';
import { hasNul } from '../util/nul.js';
import { quotaCharge } from '../quotas/quota-service.js';

// Multipart uploads: each part is its own blob; completion commits an object row that lists the
// parts' blobs in order (no bytes are copied), in one transaction that drops the parts and marks
// the upload completed. A completed upload is gone for every request but a retry of its
// completion, which is answered as the first one was (S3 does so: an SDK retries a completion
// whose answer it lost); its row is removed a day later (pruneCompleted).

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MAX_PART_NUMBER = 10000;
/** How long a completed upload's row is kept for retries of its completion. */
export const COMPLETED_UPLOAD_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface CompletedPartRequest {
  partNumber: number;
  etag: string;
  /** The part checksum the client lists (base64), if any. */
  checksum?: string;
}

export interface UploadListingRequest {
  prefix: string;
  delimiter: string;
  /** Resume after this key (or, with uploadIdMarker, after that upload of it). */
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
  /** Only keys under these prefixes (ListingRequest.within: a prefix-scoped token's reach). */
  within?: readonly string[];
}

export interface UploadListingPage {
  uploads: UploadRow[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Where the next page resumes: the last upload (key and upload ID), or the last common prefix. */
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface CompleteRequest {
  parts: CompletedPartRequest[];
  condition: PutCondition;
  /** x-amz-checksum-<alg>: the whole object's checksum as the client computed it. */
  objectChecksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** x-amz-checksum-type as sent: the checksum mode the client expects the upload to have. */
  checksumType?: string;
  /** x-amz-mp-object-size: the object's size as the client expects it. */
  objectSize?: number;
  /** The SSE-C key headers the completion sent, if any: they must be the upload's key. */
  customer?: CustomerKey;
  /** Called with the object's size before it is committed (a quota check); a throw keeps the upload. */
  beforeCommit?: (size: number) => Promise<void>;
}

/** What a CompleteMultipartUpload answers: the committed object, or the one an earlier completion committed. */
export interface CompletedObject {
  key: string;
  etag: string;
  versionId: string;
  size: number;
  /** When it was committed (its Last-Modified), and its tags: what lifecycle rules judge it by. */
  lastModified: Date;
  tags: Record<string, string>;
  checksum: StoredChecksum | null;
  encryption: StoredEncryption | null;
}

/**
 * A completion may name the upload's checksum mode (x-amz-checksum-type) and send the whole
 * object's checksum (x-amz-checksum-<alg>): both must be the upload's own, or the request is
 * refused rather than the claim ignored. An upload created without an algorithm is in S3's default
 * mode (FULL_OBJECT); skep keeps no checksum for it, and a whole-object value sent for it is
 * ignored, as S3 ignores it.
 */
function checkCompletionChecksum(upload: UploadRow, request: CompleteRequest): void {
  if (request.checksumType !== undefined) {
    const type = request.checksumType.toUpperCase();
    if (type !== 'FULL_OBJECT' && type !== 'COMPOSITE') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
    const mode = upload.checksumType ?? 'FULL_OBJECT';
    if (type !== mode) {
      throw new S3Error('InvalidRequest', `The upload was created using the ${mode} checksum mode. The complete request must use the same checksum mode.`);
    }
  }
  const alg = upload.checksumAlgorithm;
  const sent = request.objectChecksum?.algorithm;
  if (alg && sent && sent !== alg) {
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${alg.toLowerCase()}, actual checksum Type: ${sent.toLowerCase()}`);
  }
}

export interface NewUpload {
  bucket: BucketRow;
  key: string;
  headers: UploadRow['headers'];
  userMetadata: Record<string, string>;
  tags: Record<string, string>;
  storageClass: string;
  checksumAlgorithm: ChecksumAlgorithm | null;
  checksumType: ChecksumType | null;
  /** Requested encryption; absent: the bucket's default, if any. */
  encryption?: EncryptionRequest;
  /** Object Lock headers for the object; a retention not asked for is the bucket's default at completion. */
  lock?: Partial<LockState>;
  /** Canned ACL the completed object gets (x-amz-acl at create), or null (private). */
  acl?: string | null;
}

/** The object's size and whole-object checksum, as the completion claims them (if it does). */
function checkObjectClaims(request: CompleteRequest, size: number, checksum: StoredChecksum | null): void {
  if (request.objectSize !== undefined && request.objectSize !== size) {
    throw new S3Error('InvalidRequest', `The provided 'x-amz-mp-object-size' header value ${request.objectSize} does not match what was computed: ${size}`);
  }
  const expected = request.objectChecksum;
  // A COMPOSITE value may be named with its part count or without it ("<base64>-3" or "<base64>").
  const matches = (value: string) => value === checksum!.value || (checksum!.type === 'COMPOSITE' && value === checksum!.value.replace(/-\d+$/, ''));
  if (expected && checksum && !matches(expected.value)) {
    throw new S3Error('BadDigest', `The ${checksum.algorithm} you specified did not match the calculated checksum.`);
  }
}

/**
 * A completion of an upload already completed: answered as the completion that committed it
 * was, if it names the same parts (numbers and ETags) and its size and checksum claims hold for
 * that object; else NoSuchUpload, as for an upload aborted. Write conditions are not evaluated
 * again (they held when the object was committed), nor does it matter what became of the object
 * since: this answers for the request, which did succeed.
 */
function answerAgain(upload: UploadRow, request: CompleteRequest): CompletedObject {
  const done: UploadCompletion | undefined = upload.completion;
  const same =
    done !== undefined &&
    done.parts.length === request.parts.length &&
    done.parts.every((p, i) => p.partNumber === request.parts[i].partNumber && bareEtag(p.etag) === bareEtag(request.parts[i].etag));
  if (!same) throw new S3Error('NoSuchUpload', undefined, { UploadId: upload.uploadId });
  checkObjectClaims(request, done.size, done.checksum);
  return {
    key: upload.key,
    etag: done.etag,
    versionId: done.versionId,
    size: done.size,
    lastModified: done.completedAt,
    tags: upload.tags,
    checksum: done.checksum,
    encryption: upload.encryption ?? null,
  };
}

/** CRC64NVME supports only full-object checksums; the other CRCs default to composite. */
export function resolveChecksumType(alg: ChecksumAlgorithm | null, requested: string | undefined): ChecksumType | null {
  if (!alg) {
    if (requested) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return null;
  }
  const type = requested?.toUpperCase() ?? (alg === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type !== 'FULL_OBJECT' && type !== 'COMPOSITE') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (type === 'FULL_OBJECT' && (alg === 'SHA1' || alg === 'SHA256')) {
    throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${alg.toLowerCase()} checksum algorithm.`);
  }
  if (type === 'COMPOSITE' && alg === 'CRC64NVME') {
    throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  }
  return type;
}

export class MultipartService {
  constructor(
    private readonly objects: ObjectService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private get meta() {
    return this.objects.meta;
  }

  async create(input: NewUpload): Promise<UploadRow> {
    // A retention not asked for is the bucket's default when completion makes the version. The one
    // it gives now is stored too, with a flag: a node of an older skep completing the upload (a
    // rolling upgrade) reads only the retention, and must not find none.
    const asked = input.lock && (input.lock.retention !== undefined || input.lock.legalHold !== undefined);
    const resolved = asked ? this.objects.lockFor(input.bucket, input.lock, this.clock()) : null;
    const lock = resolved && (input.lock?.retention === undefined ? { ...resolved, defaultRetention: true } : resolved);
    // The data key is made now: every part is sealed with it (SSE-C: the customer's, checked per part).
    const sealed = this.objects.sealFor(input.bucket, input.encryption);
    const row: UploadRow = {
      // Time-ordered IDs, so one key's uploads list in initiation order and upload-id-marker pages hold.
      uploadId: Date.now().toString(36).padStart(10, '0') + randomBytes(18).toString('base64url'),
      bucketId: input.bucket.id,
      key: input.key,
      initiated: new Date(),
      headers: input.headers,
      userMetadata: input.userMetadata,
      tags: input.tags,
      storageClass: input.storageClass,
      checksumAlgorithm: input.checksumAlgorithm,
      checksumType: input.checksumType,
      encryption: sealed?.stored ?? null,
      objectLock: lock,
      acl: input.acl ?? null,
    };
    await this.meta.createUpload(row).catch((err: unknown) => {
      // The bucket was deleted since it was looked up.
      if (isStoreError(err, 'foreign-key')) throw new S3Error('NoSuchBucket');
      throw err;
    });
    return row;
  }

  /**
   * The upload, which must belong to this bucket and key and be in progress; 'or-completed' also
   * accepts a completed one (for a retried completion).
   */
  async requireUpload(bucket: BucketRow, key: string, uploadId: string, accept: 'in-progress' | 'or-completed' = 'in-progress'): Promise<UploadRow> {
    const upload = hasNul(uploadId) ? null : await this.meta.getUpload(uploadId);
    if (!upload || upload.bucketId !== bucket.id || upload.key !== key || (upload.completion && accept === 'in-progress')) {
      throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    }
    return upload;
  }

  /** Removes completed uploads past their retention; returns how many. */
  pruneCompleted(): Promise<number> {
    return this.meta.deleteCompletedUploads(new Date(this.clock().getTime() - COMPLETED_UPLOAD_RETENTION_MS));
  }

  /** The upload's parts after part number `afterPart`, in order, at most `limit`. */
  listParts(upload: UploadRow, afterPart: number, limit: number): Promise<PartRow[]> {
    return this.meta.listParts(upload.uploadId, afterPart, limit);
  }

  /**
   * A ListMultipartUploads page: uploads in progress by key then upload, from the markers, with
   * keys that continue past the delimiter rolled into common prefixes. A common prefix is one
   * entry (returned once, counted once), and a key marker that is one resumes after all of it.
   */
  async listUploadsPage(bucket: BucketRow, asked: UploadListingRequest): Promise<UploadListingPage> {
    const page: UploadListingPage = { uploads: [], commonPrefixes: [], isTruncated: false };
    const req = withoutNul(asked);
    if (!req) return page;
    const { prefix, delimiter, maxUploads } = req;
    if (maxUploads <= 0) return page;
    let keyMarker = req.keyMarker;
    let uploadIdMarker = keyMarker === undefined ? undefined : req.uploadIdMarker;
    const past = uploadIdMarker === undefined ? pastCommonPrefix(keyMarker, prefix, delimiter) : undefined;
    if (past === null) return page;
    if (past !== undefined) keyMarker = undefined;
    page.isTruncated = await walkRanges(
      req.within ?? [prefix],
      { prefix, delimiter, maxKeys: maxUploads },
      past,
      {
        fetch: (range, from, limit) => this.meta.listUploads(bucket.id, { prefix: range, keyMarker, uploadIdMarker, from, limit }),
        passed: (row) => {
          keyMarker = row.key;
          uploadIdMarker = row.uploadId;
        },
        reseek: () => {
          keyMarker = undefined;
          uploadIdMarker = undefined;
        },
      },
      {
        row: (row) => {
          page.uploads.push(row);
          page.nextKeyMarker = row.key;
          page.nextUploadIdMarker = row.uploadId;
        },
        commonPrefix: (cp) => {
          page.commonPrefixes.push(cp);
          page.nextKeyMarker = cp;
          page.nextUploadIdMarker = undefined;
        },
      },
    );
    return page;
  }

  static checkPartNumber(text: string | undefined): number {
    if (!text || !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_PART_NUMBER) {
      throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, { ArgumentName: 'partNumber', ArgumentValue: text ?? '' });
    }
    return Number(text);
  }

  /**
   * The key the upload's parts are sealed with (null: not encrypted). Parts of an SSE-C upload
   * must come with the key the upload was created with, and only while the bucket allows SSE-C.
   */
  partKey(bucket: BucketRow, upload: UploadRow, customer: CustomerKey | undefined): Buffer | null {
    this.refuseIfSseCBlocked(bucket, upload);
    if (upload.encryption?.kind === 'SSE-C' && !customer) {
      throw new S3Error('InvalidRequest', 'The multipart upload was initiated with SSE-C: each part needs the same SSE-C key headers.');
    }
    return this.objects.keys.open(upload.encryption ?? null, customer);
  }

  /** An SSE-C upload begun before its bucket blocked SSE-C is refused as a new one would be (the block is read now). */
  private refuseIfSseCBlocked(bucket: BucketRow, upload: UploadRow): void {
    if (upload.encryption?.kind === 'SSE-C') this.objects.refuseIfSseCBlocked(bucket);
  }

  /** Writes a part from a verified body stream, sealed with `dataKey` when the upload is encrypted. */
  async uploadPart(upload: UploadRow, partNumber: number, body: BodyDigest, algorithm: ChecksumAlgorithm | undefined, dataKey: Buffer | null): Promise<PartRow> {
    const written = await this.objects.writeBlob(dataKey ? sealStream(body, dataKey) : body);
    const size = dataKey ? body.size : written.size;
    const alg = upload.checksumAlgorithm ?? algorithm;
    const checksum: StoredChecksum | null = alg ? { algorithm: alg, type: 'FULL_OBJECT', value: body.checksumBase64! } : null;
    const sealed = dataKey && upload.encryption ? { stored: upload.encryption, dataKey } : null;
    const part: PartRow = {
      uploadId: upload.uploadId,
      partNumber,
      size,
      etag: `"${etagOf(sealed, body.md5Hex)}"`,
      lastModified: new Date(),
      blob: { ref: written.ref, size },
      checksum,
    };
    const result = await this.meta.putPart(part).catch(async (err: unknown) => {
      await this.objects.discard([part.blob]);
      throw err;
    });
    if (!result.ok) {
      await this.objects.discard([part.blob]);
      throw new S3Error('NoSuchUpload', undefined, { UploadId: upload.uploadId });
    }
    if (result.replaced) await this.objects.release([result.replaced]);
    return part;
  }

  /** UploadPartCopy: a part made of (a range of) an existing object, decrypted and sealed for this upload. */
  async uploadPartCopy(upload: UploadRow, partNumber: number, source: ObjectLease, range: ByteRange | undefined, dataKey: Buffer | null): Promise<PartRow> {
    const sizeHint = range ? range.end - range.start + 1 : source.row.size;
    const digest = new BodyDigest({ checksumAlgorithm: upload.checksumAlgorithm ?? undefined, sizeHint });
    const reading: Readable = source.open(range);
    reading.on('error', (err) => digest.destroy(err));
    // Destroyed however the write ends, so a failed write does not leave the source open and pinned.
    return this.uploadPart(upload, partNumber, reading.pipe(digest), undefined, dataKey).finally(() => reading.destroy());
  }

  async complete(bucket: BucketRow, upload: UploadRow, request: CompleteRequest): Promise<CompletedObject> {
    const { parts: requested, condition, beforeCommit } = request;
    if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
    checkCompletionChecksum(upload, request);
    for (let i = 1; i < requested.length; i++) {
      if (requested[i].partNumber <= requested[i - 1].partNumber) throw new S3Error('InvalidPartOrder');
    }
    // A completion need not send the upload's SSE-C key; one that does must send that key.
    if (request.customer) this.objects.keys.checkReadable(upload.encryption ?? null, request.customer);
    if (upload.completion) return answerAgain(upload, request);
    this.refuseIfSseCBlocked(bucket, upload);
    const stored = new Map<number, PartRow>();
    let after = 0;
    for (;;) {
      const page = await this.meta.listParts(upload.uploadId, after, 1000);
      for (const p of page) stored.set(p.partNumber, p);
      if (page.length < 1000) break;
      after = page[page.length - 1].partNumber;
    }
    // Parts gone since the upload was looked up: another request completed or aborted it.
    if (requested.some((r) => !stored.has(r.partNumber))) {
      const now = await this.meta.getUpload(upload.uploadId);
      if (!now || now.completion) return answerAgain(now ?? upload, request);
    }
    const parts: PartRow[] = requested.map((r) => {
      const p = stored.get(r.partNumber);
      if (!p || bareEtag(p.etag) !== bareEtag(r.etag)) {
        throw new S3Error('InvalidPart', undefined, { UploadId: upload.uploadId, PartNumber: String(r.partNumber), ETag: r.etag });
      }
      if (r.checksum !== undefined && p.checksum?.algorithm === upload.checksumAlgorithm && r.checksum !== p.checksum?.value) {
        throw new S3Error('InvalidPart', `The checksum of part ${r.partNumber} does not match the one uploaded.`);
      }
      return p;
    });
    parts.forEach((p, i) => {
      if (i < parts.length - 1 && p.size < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(p.size), MinSizeAllowed: String(MIN_PART_SIZE), PartNumber: String(p.partNumber), ETag: p.etag });
      }
    });

    const size = parts.reduce((n, p) => n + p.size, 0);
    const checksum = this.objectChecksum(upload, parts);
    checkObjectClaims(request, size, checksum);
    // The injected clock: the completion stamp is what pruneCompleted measures its retention against.
    const now = this.clock();
    // A retention asked for at creation is kept (null: none, as an older skep stored it); one that
    // was not is the bucket's default now.
    const asked = upload.objectLock;
    const lock = newVersionLock(objectLockOf(bucket), asked?.defaultRetention ? { legalHold: asked.legalHold } : (asked ?? undefined), now);
    const row: ObjectRow = {
      bucketId: bucket.id,
      key: upload.key,
      size,
      etag: multipartEtag(parts.map((p) => Buffer.from(bareEtag(p.etag), 'hex'))),
      lastModified: now,
      headers: upload.headers,
      userMetadata: upload.userMetadata,
      checksum,
      blobs: parts.map((p) => p.blob),
      partsCount: parts.length,
      tags: upload.tags,
      storageClass: upload.storageClass,
      encryption: upload.encryption ?? null,
      retention: lock.retention,
      legalHold: lock.legalHold,
      acl: upload.acl ?? null,
    };
    await beforeCommit?.(row.size);
    const named: CompletedPart[] = parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
    const result = await this.objects.inVersioningMode(bucket, (mode, versionId) => {
      row.versionId = versionId;
      return this.meta.completeUpload(upload.uploadId, row, condition, mode, removalGuard(now), named, quotaCharge(bucket));
    });
    if (!result.ok) {
      // Completed meanwhile (by a request this one retries, answered the same) or aborted.
      if (result.reason === 'no-such-upload') return answerAgain((await this.meta.getUpload(upload.uploadId)) ?? upload, request);
      if (result.reason === 'invalid-part') throw new S3Error('InvalidPart', 'A part was uploaded again while the upload was being completed.', { UploadId: upload.uploadId });
      throw writeRefused(bucket, result);
    }
    // What is released besides the parts left out of the object is the object it replaced.
    const used = new Set(parts.map((p) => p.blob.ref));
    const leftOut = new Set([...stored.values()].filter((p) => !used.has(p.blob.ref)).map((p) => p.blob.ref));
    await this.objects.counted(bucket, row.size, result.release.filter((b) => !leftOut.has(b.ref)));
    await this.objects.release(result.release);
    return {
      key: row.key,
      etag: row.etag,
      versionId: row.versionId ?? 'null',
      size: row.size,
      lastModified: row.lastModified,
      tags: row.tags,
      checksum: row.checksum,
      encryption: row.encryption ?? null,
    };
  }

  private objectChecksum(upload: UploadRow, parts: PartRow[]): StoredChecksum | null {
    const alg = upload.checksumAlgorithm;
    if (!alg) return null;
    const digests = parts.map((p) => {
      if (!p.checksum) throw new S3Error('InvalidPart', `Part ${p.partNumber} has no ${alg} checksum.`);
      return Buffer.from(p.checksum.value, 'base64');
    });
    if (upload.checksumType === 'FULL_OBJECT') {
      const combined = combineCrc(alg as CrcAlgorithm, parts.map((p, i) => ({ digest: digests[i], size: p.size })));
      return { algorithm: alg, type: 'FULL_OBJECT', value: combined.toString('base64') };
    }
    return { algorithm: alg, type: 'COMPOSITE', value: compositeChecksum(alg, digests) };
  }

  async abort(upload: UploadRow): Promise<void> {
    if (!(await this.objects.abortUpload(upload))) throw new S3Error('NoSuchUpload', undefined, { UploadId: upload.uploadId });
  }
}
