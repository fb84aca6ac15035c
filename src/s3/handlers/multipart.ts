import { S3Error } from '../errors.js';
import { queryInt } from '../query-int.js';
import { abortHeaders, expirationHeaders } from '../../lifecycle/expiration-headers.js';
import { header, type S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { declaredSize, openBody, readSmallBody } from '../body.js';
import { parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { parseRange } from '../range.js';
import { storageClassFrom, storedHeadersFrom, tagsFromHeader, userMetadataFrom } from '../object-headers.js';
import { checksumAlgorithmFrom, checksumXml, copySourceVersionHeader, newVersionHeader, writeCondition, withCopySource, type BucketResolver } from './object.js';
import type { ObjectLease } from '../../objects/object-service.js';
import { customerKeyFrom, encryptionHeaders, encryptionRequest, lockRequest } from '../protection-headers.js';
import { owner } from './bucket.js';
import { objectAclFromHeader } from './access.js';
import { MAX_PART_NUMBER, MultipartService, resolveChecksumType, type CompletedPartRequest } from '../../objects/multipart-service.js';
import { CHECKSUM_ALGORITHMS, checksumHeader } from '../../checksums/types.js';
import { validateChecksumValue } from '../../checksums/digest.js';
import type { PartRow, UploadRow } from '../../storage/metadata/metadata-store.js';
import { encoder } from './list.js';
import { listingLimit } from '../../auth/scope.js';
import { objectLocation } from '../object-location.js';

// CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
// AbortMultipartUpload, ListParts, ListMultipartUploads.

function uploadIdOf(ctx: S3Context): string {
  return ctx.op.query.get('uploadId') ?? '';
}

function partChecksumXml(part: Pick<PartRow, 'checksum'>): Record<string, string> {
  return part.checksum ? { [`Checksum${part.checksum.algorithm}`]: part.checksum.value } : {};
}

export async function CreateMultipartUpload(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const algorithm = checksumAlgorithmFrom(ctx) ?? null;
  const checksumType = resolveChecksumType(algorithm, header(ctx.req, 'x-amz-checksum-type'));
  const encryption = encryptionRequest(ctx.req);
  const acl = await objectAclFromHeader(ctx);
  const upload = await ctx.services.multipart.create({
    acl,
    bucket,
    key: ctx.op.key!,
    headers: storedHeadersFrom(ctx.req),
    userMetadata: userMetadataFrom(ctx.req),
    tags: tagsFromHeader(ctx.req),
    storageClass: storageClassFrom(ctx.req),
    checksumAlgorithm: algorithm,
    checksumType,
    encryption,
    lock: lockRequest(ctx.req),
  });
  const customer = encryption?.kind === 'SSE-C' ? encryption.customer : undefined;
  return {
    headers: {
      ...(algorithm ? { 'x-amz-checksum-algorithm': algorithm, 'x-amz-checksum-type': checksumType ?? undefined } : {}),
      ...encryptionHeaders(upload.encryption, customer),
      ...abortHeaders(bucket, upload, ctx.lifecycleDayMs),
    },
    xml: { root: 'InitiateMultipartUploadResult', value: { Bucket: bucket.name, Key: upload.key, UploadId: upload.uploadId } },
  };
}

export async function UploadPart(ctx: S3Context): Promise<S3Response> {
  // A part belongs to an upload, not to a version (UploadPartCopy's source may name one).
  const versionId = ctx.op.query.get('versionId');
  if (versionId !== undefined) throw new S3Error('InvalidArgument', 'This operation does not accept a version-id.', { ArgumentName: 'versionId', ArgumentValue: versionId });
  const resolved = await ctx.resolved();
  const bucket = resolved.row;
  const partNumber = MultipartService.checkPartNumber(ctx.op.query.get('partNumber'));
  const upload = await ctx.services.multipart.requireUpload(bucket, ctx.op.key!, uploadIdOf(ctx));
  // Parts count toward no quota until the object is completed (and checked whole then); a part
  // that could not fit even on its own is refused before its bytes are stored, as MinIO does.
  const declared = declaredSize(ctx.req, ctx.auth.payload);
  if (resolved.quota && declared !== undefined) await ctx.services.quotas.check(bucket, resolved.quota, ctx.op.key!, declared);
  const customer = customerKeyFrom(ctx.req);
  const dataKey = ctx.services.multipart.partKey(bucket, upload, customer);
  const body = openBody(ctx.req, ctx.auth.payload, { maxSize: ctx.limits.maxPartSize, checksumAlgorithm: upload.checksumAlgorithm ?? undefined });
  const part = await ctx.services.multipart.uploadPart(upload, partNumber, body.digest, body.checksum?.algorithm, dataKey);
  const headers: Record<string, string | undefined> = { ETag: part.etag, ...(encryptionHeaders(upload.encryption, customer) as Record<string, string>) };
  if (part.checksum) headers[checksumHeader(part.checksum.algorithm)] = part.checksum.value;
  return { headers };
}

export function makeUploadPartCopy(resolveBucket: BucketResolver) {
  return async function UploadPartCopy(ctx: S3Context): Promise<S3Response> {
    const bucket = await ctx.bucket();
    const partNumber = MultipartService.checkPartNumber(ctx.op.query.get('partNumber'));
    const upload = await ctx.services.multipart.requireUpload(bucket, ctx.op.key!, uploadIdOf(ctx));
    return withCopySource(ctx, resolveBucket, (source) => copyPart(ctx, upload, partNumber, source));
  };
}

/** UploadPartCopy once its source is leased: the optional source range, the part limit, the copy. */
async function copyPart(ctx: S3Context, upload: UploadRow, partNumber: number, lease: ObjectLease): Promise<S3Response> {
  const source = lease.row;
  const resolved = await ctx.resolved();
  const customer = customerKeyFrom(ctx.req);
  const dataKey = ctx.services.multipart.partKey(resolved.row, upload, customer);
  const rangeText = header(ctx.req, 'x-amz-copy-source-range');
  let range;
  if (rangeText !== undefined) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeText.trim());
    if (!m || Number(m[2]) < Number(m[1])) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range' });
    // Not 416 InvalidRange as for a GET: the range is an argument of this copy.
    if (Number(m[2]) >= source.size) {
      throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${source.size}`, { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeText });
    }
    range = parseRange(`bytes=${m[1]}-${m[2]}`, source.size);
  }
  const size = range ? range.end - range.start + 1 : source.size;
  if (size > ctx.limits.maxPartSize) {
    throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(ctx.limits.maxPartSize) });
  }
  // As for UploadPart: a part that could not fit under the quota even on its own is refused.
  if (resolved.quota) await ctx.services.quotas.check(resolved.row, resolved.quota, upload.key, size);
  const part = await ctx.services.multipart.uploadPartCopy(upload, partNumber, lease, range, dataKey);
  return {
    headers: { ...copySourceVersionHeader(lease), ...encryptionHeaders(upload.encryption, customer) },
    xml: {
      root: 'CopyPartResult',
      value: { ETag: part.etag, LastModified: part.lastModified.toISOString(), ...partChecksumXml(part) },
    },
  };
}

// What 10,000 parts can take with room to spare: about 200 bytes each with an escaped ETag, one
// checksum, namespace prefixes and indentation.
const COMPLETE_BODY_LIMIT = MAX_PART_NUMBER * 320;
// A part has at most 7 children (PartNumber, ETag and the five checksums); 10 leaves room.
const COMPLETE_PARTS_LIMIT = { element: 'Part', max: MAX_PART_NUMBER, message: `The request may list at most ${MAX_PART_NUMBER} parts.`, maxElements: MAX_PART_NUMBER * 10 + 16 };

export async function CompleteMultipartUpload(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const bucket = resolved.row;
  // A completed upload too: a retry of its completion is answered again.
  const upload = await ctx.services.multipart.requireUpload(bucket, ctx.op.key!, uploadIdOf(ctx), 'or-completed');
  const condition = writeCondition(ctx);
  // Here x-amz-checksum-<alg> is the whole object's checksum, compared once the parts are combined.
  const body = await readSmallBody(ctx.req, ctx.auth.payload, COMPLETE_BODY_LIMIT, { objectChecksumHeaders: true });
  const doc = parseXml(body, 'CompleteMultipartUpload', COMPLETE_PARTS_LIMIT);
  const parts: CompletedPartRequest[] = xmlList(doc.Part).map((entry) => {
    const e = xmlNode(entry)!;
    const numberText = xmlText(e.PartNumber)?.trim();
    const etag = xmlText(e.ETag);
    if (!numberText || !/^\d+$/.test(numberText) || etag === undefined) throw new S3Error('MalformedXML');
    const checksum = upload.checksumAlgorithm ? xmlText(e[`Checksum${upload.checksumAlgorithm}`]) : undefined;
    return { partNumber: Number(numberText), etag, checksum };
  });
  const fullAlg = CHECKSUM_ALGORITHMS.find((a) => header(ctx.req, checksumHeader(a)) !== undefined);
  const fullValue = fullAlg && header(ctx.req, checksumHeader(fullAlg))!;
  // A value that is no checksum at all is refused as PutObject refuses it, before any comparison.
  // A composite value may carry its part count ("<base64>-3"), as S3 accepts and answers it.
  if (fullAlg && !validateChecksumValue(fullAlg, fullValue!.replace(/-\d+$/, ''))) {
    throw new S3Error('InvalidRequest', `Value for ${checksumHeader(fullAlg)} header is invalid.`);
  }
  const customer = customerKeyFrom(ctx.req);
  const done = await ctx.services.multipart.complete(bucket, upload, {
    parts,
    customer,
    condition,
    objectChecksum: fullAlg && { algorithm: fullAlg, value: fullValue! },
    checksumType: header(ctx.req, 'x-amz-checksum-type'),
    objectSize: objectSizeHeader(ctx),
    beforeCommit: resolved.quota ? (size: number) => ctx.services.quotas.check(bucket, resolved.quota, upload.key, size) : undefined,
  });
  return {
    headers: { ...newVersionHeader(bucket, done.versionId), ...encryptionHeaders(done.encryption, customer), ...expirationHeaders(bucket, done, ctx.lifecycleDayMs) },
    xml: {
      root: 'CompleteMultipartUploadResult',
      value: { Location: objectLocation(ctx, bucket.name, done.key), Bucket: bucket.name, Key: done.key, ETag: done.etag, ...checksumXml(done.checksum) },
    },
  };
}

/** x-amz-mp-object-size: the size the client expects the completed object to have, if it says. */
function objectSizeHeader(ctx: S3Context): number | undefined {
  const text = header(ctx.req, 'x-amz-mp-object-size');
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new S3Error('InvalidRequest', `Value for x-amz-mp-object-size header is invalid: '${text}'`);
  const size = Number(text);
  if (size < 0) throw new S3Error('InvalidRequest', `Value for x-amz-mp-object-size header is less than zero: '${text}'`);
  return size;
}

export async function AbortMultipartUpload(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const upload = await ctx.services.multipart.requireUpload(bucket, ctx.op.key!, uploadIdOf(ctx));
  await ctx.services.multipart.abort(upload);
  return { status: 204 };
}

export async function ListParts(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const upload = await ctx.services.multipart.requireUpload(bucket, ctx.op.key!, uploadIdOf(ctx));
  const maxParts = queryInt(ctx.op.query, 'max-parts', 1000, 1000);
  const marker = queryInt(ctx.op.query, 'part-number-marker', 0, Number.MAX_SAFE_INTEGER);
  const rows = maxParts === 0 ? [] : await ctx.services.multipart.listParts(upload, marker, maxParts + 1);
  const truncated = rows.length > maxParts;
  const page = rows.slice(0, maxParts);
  return {
    // As CreateMultipartUpload: when a rule will abort this upload, so a client resuming it knows.
    headers: abortHeaders(bucket, upload, ctx.lifecycleDayMs),
    xml: {
      root: 'ListPartsResult',
      value: {
        Bucket: bucket.name,
        Key: upload.key,
        UploadId: upload.uploadId,
        PartNumberMarker: marker,
        ...(page.length ? { NextPartNumberMarker: page[page.length - 1].partNumber } : {}),
        MaxParts: maxParts,
        IsTruncated: truncated,
        Part: page.map((p) => ({
          PartNumber: p.partNumber,
          LastModified: p.lastModified.toISOString(),
          ETag: p.etag,
          Size: p.size,
          ...partChecksumXml(p),
        })),
        Initiator: owner(ctx),
        Owner: owner(ctx),
        StorageClass: upload.storageClass,
        ...(upload.checksumAlgorithm ? { ChecksumAlgorithm: upload.checksumAlgorithm, ChecksumType: upload.checksumType } : {}),
      },
    },
  };
}

export async function ListMultipartUploads(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const enc = encoder(ctx);
  const prefix = ctx.op.query.get('prefix') ?? '';
  const delimiter = ctx.op.query.get('delimiter') ?? '';
  const keyMarker = ctx.op.query.get('key-marker') ?? '';
  const uploadIdMarker = ctx.op.query.get('upload-id-marker') ?? '';
  const maxUploads = queryInt(ctx.op.query, 'max-uploads', 1000, 1000);
  const page = await ctx.services.multipart.listUploadsPage(bucket, {
    prefix,
    delimiter,
    keyMarker: keyMarker || undefined,
    uploadIdMarker: keyMarker && uploadIdMarker ? uploadIdMarker : undefined,
    maxUploads,
    // A prefix-scoped token sees only the uploads under its prefixes.
    within: listingLimit(ctx.auth.principal?.bucketScope, bucket.name, prefix),
  });
  const value: Record<string, unknown> = {
    Bucket: bucket.name,
    KeyMarker: enc(keyMarker),
    UploadIdMarker: uploadIdMarker,
    // A page that ends on a common prefix resumes after it: NextKeyMarker alone.
    ...(page.isTruncated && page.nextKeyMarker !== undefined
      ? { NextKeyMarker: enc(page.nextKeyMarker), ...(page.nextUploadIdMarker !== undefined ? { NextUploadIdMarker: page.nextUploadIdMarker } : {}) }
      : {}),
    Prefix: enc(prefix),
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    MaxUploads: maxUploads,
    IsTruncated: page.isTruncated,
    Upload: page.uploads.map((u) => ({
      Key: enc(u.key),
      UploadId: u.uploadId,
      Initiator: owner(ctx),
      Owner: owner(ctx),
      StorageClass: u.storageClass,
      Initiated: u.initiated.toISOString(),
      ...(u.checksumAlgorithm ? { ChecksumAlgorithm: u.checksumAlgorithm, ChecksumType: u.checksumType } : {}),
    })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  };
  if (ctx.op.query.has('encoding-type')) value.EncodingType = 'url';
  return { xml: { root: 'ListMultipartUploadsResult', value } };
}
