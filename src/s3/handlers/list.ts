import { S3Error } from '../errors.js';
import { queryInt } from '../query-int.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { uriEncode } from '../../sigv4/uri-encode.js';
import { owner } from './bucket.js';
import { checkVersionId } from './object.js';
import { listingLimit } from '../../auth/scope.js';
import { commonPrefixesList, contentsList, versionsList } from '../list-xml.js';
import { decodeContinuationToken, encodeContinuationToken } from '../continuation-token.js';

// ListObjects (v1), ListObjectsV2 and ListObjectVersions over the same paging engine.

const MAX_KEYS = 1000;

function maxKeysOf(ctx: S3Context): number {
  return queryInt(ctx.op.query, 'max-keys', MAX_KEYS, MAX_KEYS);
}

export function encoder(ctx: S3Context): (s: string) => string {
  const type = ctx.op.query.get('encoding-type');
  if (type === undefined) return (s) => s;
  if (type !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: type });
  return (s) => uriEncode(s, true);
}

function commonParams(ctx: S3Context) {
  const prefix = ctx.op.query.get('prefix') ?? '';
  const delimiter = ctx.op.query.get('delimiter') ?? '';
  return { prefix, delimiter };
}

async function page(ctx: S3Context, prefix: string, delimiter: string, marker: string | undefined, maxKeys: number) {
  const bucket = await ctx.bucket();
  if (maxKeys === 0) return { contents: [], commonPrefixes: [], isTruncated: false, last: undefined };
  // A prefix-scoped token sees only the keys under its prefixes (folders above them included).
  const within = listingLimit(ctx.auth.principal?.bucketScope, bucket.name, prefix);
  return ctx.services.objects.listPage(bucket, { prefix, delimiter, marker: marker || undefined, maxKeys, within });
}

export async function ListObjects(ctx: S3Context): Promise<S3Response> {
  const { prefix, delimiter } = commonParams(ctx);
  const enc = encoder(ctx);
  const marker = ctx.op.query.get('marker') ?? '';
  const maxKeys = maxKeysOf(ctx);
  const result = await page(ctx, prefix, delimiter, marker, maxKeys);
  const keyOwner = owner(ctx);
  const value: Record<string, unknown> = {
    Name: ctx.op.bucket,
    Prefix: enc(prefix),
    Marker: enc(marker),
    MaxKeys: maxKeys,
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    IsTruncated: result.isTruncated,
    // S3 returns NextMarker only when a delimiter is given; clients use the last key otherwise.
    ...(result.isTruncated && delimiter && result.last ? { NextMarker: enc(result.last) } : {}),
    Contents: contentsList(result.contents, enc, keyOwner),
    CommonPrefixes: commonPrefixesList(result.commonPrefixes, enc),
  };
  if (ctx.op.query.has('encoding-type')) value.EncodingType = 'url';
  return { xml: { root: 'ListBucketResult', value } };
}

export async function ListObjectsV2(ctx: S3Context): Promise<S3Response> {
  const { prefix, delimiter } = commonParams(ctx);
  const enc = encoder(ctx);
  const token = ctx.op.query.get('continuation-token');
  const startAfter = ctx.op.query.get('start-after') ?? '';
  const maxKeys = maxKeysOf(ctx);
  const fetchOwner = ctx.op.query.get('fetch-owner') === 'true';
  const marker = token !== undefined ? decodeContinuationToken(token) : startAfter;
  const result = await page(ctx, prefix, delimiter, marker, maxKeys);
  const keyOwner = fetchOwner ? owner(ctx) : undefined;
  const value: Record<string, unknown> = {
    Name: ctx.op.bucket,
    Prefix: enc(prefix),
    ...(startAfter ? { StartAfter: enc(startAfter) } : {}),
    ...(token !== undefined ? { ContinuationToken: token } : {}),
    KeyCount: result.contents.length + result.commonPrefixes.length,
    MaxKeys: maxKeys,
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    IsTruncated: result.isTruncated,
    ...(result.isTruncated && result.last ? { NextContinuationToken: encodeContinuationToken(result.last) } : {}),
    Contents: contentsList(result.contents, enc, keyOwner),
    CommonPrefixes: commonPrefixesList(result.commonPrefixes, enc),
  };
  if (ctx.op.query.has('encoding-type')) value.EncodingType = 'url';
  return { xml: { root: 'ListBucketResult', value } };
}

/** Every version and delete marker, newest first within a key, with S3's paging markers. */
export async function ListObjectVersions(ctx: S3Context): Promise<S3Response> {
  const { prefix, delimiter } = commonParams(ctx);
  const enc = encoder(ctx);
  const keyMarker = ctx.op.query.get('key-marker') ?? '';
  const versionIdMarker = ctx.op.query.get('version-id-marker') ?? '';
  if (versionIdMarker && !keyMarker) {
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker' });
  }
  if (versionIdMarker) checkVersionId(versionIdMarker, 'version-id-marker');
  const maxKeys = maxKeysOf(ctx);
  const bucket = await ctx.bucket();
  const result = await ctx.services.objects.listVersions(bucket, {
    prefix,
    delimiter,
    keyMarker: keyMarker || undefined,
    versionIdMarker: versionIdMarker || undefined,
    maxKeys,
    within: listingLimit(ctx.auth.principal?.bucketScope, bucket.name, prefix),
  });
  const value: Record<string, unknown> = {
    Name: ctx.op.bucket,
    Prefix: enc(prefix),
    KeyMarker: enc(keyMarker),
    VersionIdMarker: versionIdMarker,
    // NextVersionIdMarker names a version; a page that ends on a common prefix has only NextKeyMarker.
    ...(result.isTruncated && result.nextKeyMarker !== undefined
      ? { NextKeyMarker: enc(result.nextKeyMarker), ...(result.nextVersionIdMarker !== undefined ? { NextVersionIdMarker: result.nextVersionIdMarker } : {}) }
      : {}),
    MaxKeys: maxKeys,
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    IsTruncated: result.isTruncated,
    // One sequence in listing order, each entry a <Version> or a <DeleteMarker>.
    Version: versionsList(result.versions, enc, owner(ctx)),
    CommonPrefixes: commonPrefixesList(result.commonPrefixes, enc),
  };
  if (ctx.op.query.has('encoding-type')) value.EncodingType = 'url';
  return { xml: { root: 'ListVersionsResult', value } };
}
