import { S3Error } from '../errors.js';
import { header, type S3Context } from '../context.js';
import type { S3Response, HeaderValue } from '../render.js';
import { declaredSize, openBody, readSmallBody, refuseBody } from '../body.js';
import { parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { checkConditions, etagMatches, rangeApplies } from '../conditions.js';
import { parseRange } from '../range.js';
import {
  applyResponseOverrides,
  responseOverrides,
  objectResponseHeaders,
  storageClassFrom,
  storedHeadersFrom,
  copiedHeaders,
  tagsFromHeader,
  userMetadataFrom,
} from '../object-headers.js';
import { checksumHeader, parseChecksumAlgorithm, type ChecksumAlgorithm, type StoredChecksum } from '../../checksums/types.js';
import type { BucketRow, ObjectRow, ObjectVersionRow, PutCondition } from '../../storage/metadata/metadata-store.js';
import { isVersionId, type DeleteResult, type ObjectLease } from '../../objects/object-service.js';
import { versioningMode } from '../../objects/bucket-config.js';
import type { ResolvedBucket } from '../../buckets/bucket-config-service.js';
import { checkObjectKey, decodeKeyEscapes } from '../endpoint.js';
import { copySourceCustomerKey, customerKeyFrom, encryptionHeaders, encryptionRequest, lockRequest, versionHeaders, type LockReadable } from '../protection-headers.js';
import { governanceBypass } from '../actor.js';
import { objectAclFromHeader } from './access.js';
import { authorize, REQUIRED_RIGHT } from '../../auth/authorize.js';
import { bareEtag } from '../../util/etag.js';
import { companionActions, policyActionFor } from '../../auth/bucket-access.js';
import type { RequestFacts } from '../../auth/bucket-policy.js';
import { NO_FACTS, requestFacts } from '../admission.js';
import type { RequestSource } from '../../audit/actor.js';
import { expirationHeaders } from '../../lifecycle/expiration-headers.js';

// Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject.

/** If-None-Match: * and If-Match on writes (conditional create / overwrite). */
export function writeCondition(ctx: S3Context): PutCondition {
  const ifNoneMatch = header(ctx.req, 'if-none-match');
  const ifMatch = header(ctx.req, 'if-match');
  // S3 takes one or the other: both at once is refused rather than one of them silently dropped.
  if (ifNoneMatch !== undefined && ifMatch !== undefined) throw new S3Error('NotImplemented', 'If-Match and If-None-Match cannot be combined on writes.');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on writes supports only "*".');
    return { kind: 'ifNoneMatch' };
  }
  if (ifMatch !== undefined) return { kind: 'ifMatch', etag: `"${bareEtag(ifMatch)}"` };
  return { kind: 'none' };
}

/**
 * A version ID from a request: never empty, and of a form this server makes (InvalidArgument, as
 * S3 answers); one of that form that names no version is NoSuchVersion where it is looked up.
 */
export function checkVersionId(v: string, argument: string): string {
  if (v === '') throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { ArgumentName: argument, ArgumentValue: '' });
  if (!isVersionId(v)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: argument, ArgumentValue: v });
  return v;
}

/** Object ACLs live on the current version: a versionId must name it (NoSuchVersion, NotImplemented otherwise). */
export async function requireCurrentVersion(ctx: S3Context, bucket: BucketRow): Promise<void> {
  const versionId = versionIdOf(ctx);
  if (versionId === undefined) return;
  const row = await ctx.services.objects.headObject(bucket, ctx.op.key!, versionId);
  if (!row.isLatest) throw new S3Error('NotImplemented', 'skep keeps ACLs on the current version of an object only.');
}

/** The versionId query parameter, if any. */
export function versionIdOf(ctx: S3Context): string | undefined {
  const v = ctx.op.query.get('versionId');
  return v === undefined ? undefined : checkVersionId(v, 'versionId');
}

/** x-amz-version-id of a version a request acted on, when the bucket keeps versions ('null' under Suspended). */
export function versionIdHeader(bucket: BucketRow, versionId: string | undefined): Record<string, string> {
  return versioningMode(bucket) === 'unversioned' || versionId === undefined ? {} : { 'x-amz-version-id': versionId };
}

/** x-amz-version-id of a version a write made: none for the null version a Suspended bucket writes, as S3 answers. */
export function newVersionHeader(bucket: BucketRow, versionId: string | undefined): Record<string, string> {
  return versionId === 'null' ? {} : versionIdHeader(bucket, versionId);
}

/**
 * x-amz-checksum-algorithm of a request that names the algorithm S3 is to compute (no value is
 * sent: CreateMultipartUpload, CopyObject). An algorithm S3 does not know is refused, not ignored.
 */
export function checksumAlgorithmFrom(ctx: S3Context): ChecksumAlgorithm | undefined {
  const text = header(ctx.req, 'x-amz-checksum-algorithm');
  const algorithm = parseChecksumAlgorithm(text);
  if (text && !algorithm) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]');
  return algorithm;
}

/** A checksum as the elements of S3's XML results: Checksum<ALGORITHM> and ChecksumType. */
export function checksumXml(checksum: StoredChecksum | null): Record<string, string> {
  return checksum ? { [`Checksum${checksum.algorithm}`]: checksum.value, ChecksumType: checksum.type } : {};
}

function checksumResponseHeaders(row: ObjectRow): Record<string, HeaderValue> {
  if (!row.checksum) return {};
  return { [checksumHeader(row.checksum.algorithm)]: row.checksum.value, 'x-amz-checksum-type': row.checksum.type };
}

/**
 * A quota check for a write into the caller's bucket: now when the size is known (before any byte
 * is read), else as the object's beforeCommit hook.
 */
export function quotaGuard(ctx: S3Context, resolved: ResolvedBucket, key: string, size: number | undefined): ((size: number) => Promise<void>) | undefined {
  if (!resolved.quota) return undefined;
  const check = (n: number) => ctx.services.quotas.check(resolved.row, resolved.quota, key, n);
  return size === undefined ? check : undefined;
}

export async function PutObject(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const bucket = resolved.row;
  const condition = writeCondition(ctx);
  const encryption = encryptionRequest(ctx.req);
  const lock = lockRequest(ctx.req);
  const acl = await objectAclFromHeader(ctx);
  const declared = declaredSize(ctx.req, ctx.auth.payload);
  if (resolved.quota && declared !== undefined) await ctx.services.quotas.check(bucket, resolved.quota, ctx.op.key!, declared);
  // Every header is read before the body is: a refusal they decide goes out instead of 100-continue.
  const described = { headers: storedHeadersFrom(ctx.req), userMetadata: userMetadataFrom(ctx.req), tags: tagsFromHeader(ctx.req), storageClass: storageClassFrom(ctx.req) };
  // So is a write condition the stored object already fails (it is checked again at the commit).
  await ctx.services.objects.checkCondition(bucket, ctx.op.key!, condition);
  const body = openBody(ctx.req, ctx.auth.payload, { maxSize: ctx.limits.maxObjectSize });
  const row = await ctx.services.objects.putObject(
    {
      acl,
      bucket,
      key: ctx.op.key!,
      ...described,
      condition,
      encryption,
      lock,
      beforeCommit: quotaGuard(ctx, resolved, ctx.op.key!, declared),
    },
    body.digest,
    body.checksum?.algorithm,
  );
  const customer = encryption?.kind === 'SSE-C' ? encryption.customer : undefined;
  return {
    headers: {
      ETag: row.etag,
      ...checksumResponseHeaders(row),
      ...newVersionHeader(bucket, row.versionId),
      ...encryptionHeaders(row.encryption, customer),
      ...expirationHeaders(bucket, row, ctx.lifecycleDayMs),
    },
  };
}

function conditionsFrom(ctx: S3Context) {
  return {
    ifMatch: header(ctx.req, 'if-match'),
    ifNoneMatch: header(ctx.req, 'if-none-match'),
    ifModifiedSince: header(ctx.req, 'if-modified-since'),
    ifUnmodifiedSince: header(ctx.req, 'if-unmodified-since'),
  };
}

/** Shared by GET and HEAD: version, SSE-C key, conditions, partNumber, Range, and the headers that describe the object. */
async function readObject(ctx: S3Context, withBody: boolean): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const bucket = resolved.row;
  const versionId = versionIdOf(ctx);
  const customer = customerKeyFrom(ctx.req);
  const partText = ctx.op.query.get('partNumber');
  // Both select bytes; S3 refuses to guess which one wins.
  if (partText !== undefined && header(ctx.req, 'range') !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }
  const overrides = responseOverrides(ctx.op.query, ctx.auth.principal === null);
  const versioned = versioningMode(bucket) !== 'unversioned';
  const mayRead = lockReadable(ctx, resolved);
  if (!withBody) {
    // HEAD reads no bytes, so it pins nothing.
    const row = await ctx.services.objects.findReadable(bucket, ctx.op.key!, { versionId, customer });
    const response = describeObject(ctx, row, partText, null, overrides);
    Object.assign(response.headers!, versionHeaders(row, versioned, mayRead, customer), currentExpiration(ctx, bucket, row));
    return response;
  }
  // Leased, so an overwrite or delete committed while the body streams cannot cut it short.
  const lease = await ctx.services.objects.leaseObject(bucket, ctx.op.key!, { versionId, customer });
  try {
    const response = describeObject(ctx, lease.row, partText, lease, overrides);
    Object.assign(response.headers!, versionHeaders(lease.row, versioned, mayRead, customer), currentExpiration(ctx, bucket, lease.row));
    return response;
  } finally {
    lease.release();
  }
}

/**
 * Whether the reader may also read the object's retention or legal hold, as the authorizer would
 * answer GetObjectRetention or GetObjectLegalHold: a policy may grant GetObject alone, or deny these.
 */
function lockReadable(ctx: S3Context, resolved: ResolvedBucket): LockReadable {
  const { access } = resolved;
  let facts: RequestFacts | undefined;
  return (op) => {
    facts ??= access.policy ? requestFacts(ctx.req, ctx.op, ctx.auth.principal, ctx.now(), ctx.by.source) : NO_FACTS;
    const action = policyActionFor(op, ctx.op.query.get('versionId'));
    return authorize(ctx.auth.principal, REQUIRED_RIGHT[op], resolved.row.name, { action, key: ctx.op.key, access, facts }).allow;
  };
}

/** x-amz-expiration of a read: the rules' Expiration applies to the current version only. */
function currentExpiration(ctx: S3Context, bucket: BucketRow, row: ObjectVersionRow): Readonly<Record<string, string>> | undefined {
  return row.isLatest ? expirationHeaders(bucket, row, ctx.lifecycleDayMs) : undefined;
}

/**
 * The response for an object: conditions, part or range, headers, and with a lease (GET) the body
 * (bytes read under the lease, or a stream that pins the blobs itself).
 */
function describeObject(ctx: S3Context, row: ObjectRow, partText: string | undefined, lease: ObjectLease | null, overrides: readonly (readonly [string, string])[]): S3Response {
  checkConditions(conditionsFrom(ctx), row.etag, row.lastModified);

  let range = undefined;
  let emptyPart = false;
  const headers = objectResponseHeaders(row, { checksumMode: false });
  if (partText !== undefined) {
    if (!/^\d+$/.test(partText) || Number(partText) < 1 || Number(partText) > 10000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: partText });
    }
    const n = Number(partText);
    const partCount = row.partsCount ?? 1;
    if (n > partCount) throw new S3Error('InvalidPartNumber');
    if (row.partsCount !== null) {
      const start = row.blobs.slice(0, n - 1).reduce((s, b) => s + b.size, 0);
      // An empty part has no byte range to name: 200 with no body, as for an empty object.
      if (row.blobs[n - 1].size > 0) range = { start, end: start + row.blobs[n - 1].size - 1 };
      else emptyPart = true;
      headers['x-amz-mp-parts-count'] = row.partsCount;
    } else if (row.size > 0) {
      range = { start: 0, end: row.size - 1 };
    }
  } else if (rangeApplies(header(ctx.req, 'if-range'), row.etag, row.lastModified)) {
    range = parseRange(header(ctx.req, 'range'), row.size);
  }
  // Checksums describe the whole object; S3 omits them for ranges.
  const checksumMode = header(ctx.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
  if (checksumMode && !range && partText === undefined) Object.assign(headers, checksumResponseHeaders(row));
  applyResponseOverrides(headers, overrides);

  let status = 200;
  if (range) {
    status = 206;
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${row.size}`;
  }
  const length = range ? range.end - range.start + 1 : emptyPart ? 0 : row.size;
  headers['Content-Length'] = length;
  if (!lease) return { status, headers };
  const body = length === 0 ? Buffer.alloc(0) : (lease.bytes(range) ?? lease.open(range));
  return { status, headers, body };
}

export function GetObject(ctx: S3Context): Promise<S3Response> {
  return readObject(ctx, true);
}

export function HeadObject(ctx: S3Context): Promise<S3Response> {
  return readObject(ctx, false);
}

function deleteHeaders(result: DeleteResult): Record<string, string> {
  return {
    ...(result.versionId !== undefined ? { 'x-amz-version-id': result.versionId } : {}),
    ...(result.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}),
  };
}

export async function DeleteObject(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  const result = await deleteOne(ctx, bucket, ctx.op.key!, versionId, header(ctx.req, 'if-match'), governanceBypass(ctx));
  return { status: 204, headers: deleteHeaders(result) };
}

/**
 * Deletes a key or one of its versions; deleting a missing one succeeds, as in S3. With an ETag
 * condition (DeleteObject's If-Match, a DeleteObjects entry's ETag) the object must exist
 * (NoSuchKey) and match it (PreconditionFailed).
 */
async function deleteOne(ctx: S3Context, bucket: BucketRow, key: string, versionId: string | undefined, ifMatch: string | undefined, bypass: RequestSource | undefined): Promise<DeleteResult> {
  if (ifMatch === undefined) return ctx.services.objects.deleteObject(bucket, key, { versionId, bypass });
  // Read first for S3's errors on what cannot be deleted conditionally (a delete marker, a bad
  // version); the delete then checks the ETag again as it commits, so a write in between is caught.
  const row = await ctx.services.objects.headObject(bucket, key, versionId);
  checkConditions({ ifMatch }, row.etag, row.lastModified);
  return ctx.services.objects.deleteObject(bucket, key, { versionId, bypass, onlyIf: (v) => etagMatches(ifMatch, v.etag) });
}

const MAX_DELETE_KEYS = 1000;
// What 1000 entries can take with room to spare: a 1024-byte key escaped to twice its length, a
// version ID and an ETag (escaped), LastModifiedTime, Size, namespace prefixes and indentation.
const DELETE_BODY_LIMIT = MAX_DELETE_KEYS * 3 * 1024;
// An entry has at most 5 children (Key, VersionId, ETag, LastModifiedTime, Size); 8 leaves room.
const DELETE_KEYS_LIMIT = { element: 'Object', max: MAX_DELETE_KEYS, message: `The request may contain at most ${MAX_DELETE_KEYS} keys.`, maxElements: MAX_DELETE_KEYS * 8 + 16 };

/**
 * Whether the caller may delete one entry of a DeleteObjects request. S3 authorizes each key on
 * its own (s3:DeleteObject, s3:DeleteObjectVersion for a version) against the object's ARN, for
 * tokens (level, scope, the policy's Denies) and anonymous callers (the policy, the ACLs) alike.
 */
function mayDeleteEntry(ctx: S3Context, resolved: ResolvedBucket, facts: () => RequestFacts, key: string, versionId: string | undefined, bypass: boolean): boolean {
  const action = policyActionFor('DeleteObjects', versionId);
  const alsoActions = companionActions('DeleteObjects', versionId, { bypassGovernance: bypass });
  const { access } = resolved;
  return authorize(ctx.auth.principal, 'DeleteObject', resolved.row.name, { action, alsoActions, key, access, facts: access.policy ? facts() : NO_FACTS }).allow;
}


export async function DeleteObjects(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const bucket = resolved.row;
  let facts: RequestFacts | undefined;
  const factsOf = () => (facts ??= requestFacts(ctx.req, ctx.op, ctx.auth.principal, ctx.now(), ctx.by.source));
  const bypass = governanceBypass(ctx);
  const body = await readSmallBody(ctx.req, ctx.auth.payload, DELETE_BODY_LIMIT);
  const doc = parseXml(body, 'Delete', DELETE_KEYS_LIMIT);
  const objects = xmlList(doc.Object).map((entry) => xmlNode(entry)!);
  if (objects.length === 0) throw new S3Error('MalformedXML', 'The request must name at least one key.');
  // An xs:boolean, as S3's schema types it: anything else does not validate.
  const quietText = xmlText(doc.Quiet)?.trim().toLowerCase();
  if (quietText !== undefined && !['true', 'false', '1', '0'].includes(quietText)) throw new S3Error('MalformedXML');
  const quiet = quietText === 'true' || quietText === '1';
  const deleted: Record<string, unknown>[] = [];
  const errors: Record<string, unknown>[] = [];
  for (const entry of objects) {
    const key = xmlText(entry.Key);
    const versionId = xmlText(entry.VersionId);
    const etag = xmlText(entry.ETag);
    if (key === undefined) throw new S3Error('MalformedXML');
    try {
      if (key === '') throw new S3Error('InvalidArgument', 'Object key must not be empty.');
      // A key outside a token's prefixes, or that the policy does not open to this caller, is an AccessDenied entry.
      if (!mayDeleteEntry(ctx, resolved, factsOf, key, versionId, bypass !== undefined)) throw new S3Error('AccessDenied');
      // S3 reports a version ID of no form it makes as a version that does not exist.
      if (versionId !== undefined && versionId !== '' && !isVersionId(versionId)) throw new S3Error('NoSuchVersion');
      if (versionId !== undefined) checkVersionId(versionId, 'VersionId');
      const result = await deleteOne(ctx, bucket, key, versionId, etag, bypass);
      if (quiet) continue;
      if (versionId !== undefined) deleted.push({ Key: key, VersionId: versionId, ...(result.deleteMarker ? { DeleteMarker: true, DeleteMarkerVersionId: versionId } : {}) });
      else if (result.deleteMarker) deleted.push({ Key: key, DeleteMarker: true, DeleteMarkerVersionId: result.versionId });
      else deleted.push({ Key: key });
    } catch (err) {
      const e = err instanceof S3Error ? err : new S3Error('InternalError');
      if (!(err instanceof S3Error)) ctx.log.error({ err }, 'DeleteObjects entry failed');
      errors.push({ Key: key, ...(versionId !== undefined ? { VersionId: versionId } : {}), Code: e.code, Message: e.message });
    }
  }
  return { xml: { root: 'DeleteResult', value: { Deleted: deleted, Error: errors } } };
}

/** What x-amz-copy-source names: a bucket, a key in it, and optionally one of its versions. */
export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

/**
 * Parses x-amz-copy-source ("bucket/key" or "/bucket/key", URL-encoded, optional ?versionId). As S3
 * does, the whole value is decoded and then split at its first '/': clients encode "bucket/key"
 * as one (bucket%2Fkey), and '+' reads as a space (a literal plus comes as %2B). The ?versionId
 * suffix is found before decoding, so an encoded '?' (%3F) stays in the key.
 */
export function parseCopySource(value: string): CopySource {
  let text = value.trim();
  let versionId: string | undefined;
  const q = text.indexOf('?');
  if (q >= 0) {
    const version = new URLSearchParams(text.slice(q + 1)).get('versionId');
    if (version !== null) versionId = checkVersionId(version, 'x-amz-copy-source');
    text = text.slice(0, q);
  }
  let path = decodeKeyEscapes(text.replace(/\+/g, ' '));
  if (path.startsWith('/')) path = path.slice(1);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  const key = path.slice(slash + 1);
  checkObjectKey(key);
  return { bucket: path.slice(0, slash), key, versionId };
}

/**
 * Resolves and checks the copy source: the bucket (in the caller's project), the version, its
 * SSE-C key, and x-amz-copy-source-if-*. The source is leased for the copy; the caller releases it.
 */
async function copySource(ctx: S3Context, resolveBucket: BucketResolver): Promise<ObjectLease> {
  const src = parseCopySource(header(ctx.req, 'x-amz-copy-source')!);
  const { row: bucket, mayList } = await resolveBucket(ctx, src);
  const lease = await ctx.services.objects
    .leaseObject(bucket, src.key, { versionId: src.versionId, customer: copySourceCustomerKey(ctx.req) })
    .catch((err: unknown) => {
      // The delete marker's own headers describe the source, not this request's result.
      if (err instanceof S3Error && err.code === 'MethodNotAllowed') {
        throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
      }
      // As a GET of the source would: a missing key is told only to who may list its bucket.
      if (err instanceof S3Error && err.code === 'NoSuchKey' && !mayList()) throw new S3Error('AccessDenied');
      throw err;
    });
  try {
    checkConditions(
      {
        ifMatch: header(ctx.req, 'x-amz-copy-source-if-match'),
        ifNoneMatch: header(ctx.req, 'x-amz-copy-source-if-none-match'),
        ifModifiedSince: header(ctx.req, 'x-amz-copy-source-if-modified-since'),
        ifUnmodifiedSince: header(ctx.req, 'x-amz-copy-source-if-unmodified-since'),
      },
      lease.row.etag,
      lease.row.lastModified,
      true,
    );
  } catch (err) {
    lease.release();
    throw err;
  }
  return lease;
}

/** Runs a copy from a leased source and lets go of the lease however it ends. */
export async function withCopySource<T>(ctx: S3Context, resolveBucket: BucketResolver, copy: (source: ObjectLease) => Promise<T>): Promise<T> {
  refuseBody(ctx.req);
  const lease = await copySource(ctx, resolveBucket);
  try {
    return await copy(lease);
  } finally {
    lease.release();
  }
}

/** x-amz-copy-source-version-id: the version a copy read, when it has one. */
export function copySourceVersionHeader(source: ObjectLease): Record<string, string> {
  return source.row.versionId !== 'null' ? { 'x-amz-copy-source-version-id': source.row.versionId } : {};
}

/** The copy source's bucket, once the caller may read the source; `mayList`: whether it may learn the source is missing. */
export type BucketResolver = (ctx: S3Context, source: CopySource) => Promise<{ row: BucketRow; mayList: () => boolean }>;

export function makeCopyObject(resolveBucket: BucketResolver) {
  return async function CopyObject(ctx: S3Context): Promise<S3Response> {
    const target = await ctx.resolved();
    return withCopySource(ctx, resolveBucket, (source) => copyInto(ctx, target, source));
  };
}

/** CopyObject once its source is leased: directives, the self-copy rule, the quota, then the copy. */
async function copyInto(ctx: S3Context, resolved: ResolvedBucket, lease: ObjectLease): Promise<S3Response> {
  const target = resolved.row;
  const source = lease.row;
  const directive = (header(ctx.req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  const tagging = (header(ctx.req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (!['COPY', 'REPLACE'].includes(directive)) throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' });
  if (!['COPY', 'REPLACE'].includes(tagging)) throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive' });
  const encryption = encryptionRequest(ctx.req);
  const checksumAlgorithm = checksumAlgorithmFrom(ctx);
  // A copy that names its source's version is a copy of that version, the current one included (a
  // restore), as S3 takes it; copying the object onto itself by its key alone must change something.
  const namedVersion = parseCopySource(header(ctx.req, 'x-amz-copy-source')!).versionId !== undefined;
  const sameObject = source.bucketId === target.id && source.key === ctx.op.key && !namedVersion;
  // A copy is STANDARD unless the request names a class, as S3 stores it (the source's is not kept).
  const storageClass = storageClassFrom(ctx.req);
  const redirects = header(ctx.req, 'x-amz-website-redirect-location') !== undefined;
  // An encrypted object copied onto itself is sealed again: decrypted in place or under a fresh data key (a rotation).
  if (sameObject && directive === 'COPY' && storageClass === source.storageClass && !encryption && !source.encryption && !redirects) {
    throw new S3Error('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  await ctx.services.quotas.check(target, resolved.quota, ctx.op.key!, source.size);
  const row = await ctx.services.objects.copyObject(lease, {
    acl: await objectAclFromHeader(ctx),
    bucket: target,
    key: ctx.op.key!,
    headers: directive === 'REPLACE' ? storedHeadersFrom(ctx.req) : copiedHeaders(source.headers, ctx.req),
    userMetadata: directive === 'REPLACE' ? userMetadataFrom(ctx.req) : source.userMetadata,
    tags: tagging === 'REPLACE' ? tagsFromHeader(ctx.req) : source.tags,
    storageClass,
    condition: writeCondition(ctx),
    encryption,
    lock: lockRequest(ctx.req),
  }, checksumAlgorithm);
  const customer = encryption?.kind === 'SSE-C' ? encryption.customer : undefined;
  return {
    headers: {
      ...newVersionHeader(target, row.versionId),
      ...copySourceVersionHeader(lease),
      ...encryptionHeaders(row.encryption, customer),
      ...expirationHeaders(target, row, ctx.lifecycleDayMs),
    },
    xml: { root: 'CopyObjectResult', value: { ETag: row.etag, LastModified: row.lastModified.toISOString(), ...checksumXml(row.checksum) } },
  };
}

