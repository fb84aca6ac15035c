import { S3Error } from '../errors.js';
import { header, type S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { customerKeyFrom, readVersionId } from '../protection-headers.js';
import { versioningMode } from '../../objects/bucket-config.js';
import { checksumXml, versionIdOf } from './object.js';
import { bareEtag } from '../../util/etag.js';

// GetObjectAttributes: what HeadObject and ListParts tell, in one XML document, for the attributes
// the x-amz-object-attributes header names. skep keeps no checksum per part once an upload is
// complete, so a multipart object's ObjectParts carries its parts count only, which is what S3
// answers for an object stored without additional checksums.

const ATTRIBUTES = new Set(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);

function requestedAttributes(ctx: S3Context): Set<string> {
  const names = (header(ctx.req, 'x-amz-object-attributes') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) {
    throw new S3Error('InvalidRequest', 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty');
  }
  const unknown = names.find((n) => !ATTRIBUTES.has(n));
  if (unknown !== undefined) throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: unknown });
  return new Set(names);
}

export async function GetObjectAttributes(ctx: S3Context): Promise<S3Response> {
  const wanted = requestedAttributes(ctx);
  const bucket = await ctx.bucket();
  const row = await ctx.services.objects.findReadable(bucket, ctx.op.key!, { versionId: versionIdOf(ctx), customer: customerKeyFrom(ctx.req) });
  const value: Record<string, unknown> = {};
  // Elements in the order of S3's schema.
  if (wanted.has('ETag')) value.ETag = bareEtag(row.etag);
  if (wanted.has('Checksum') && row.checksum) {
    // The value without HeadObject's "-<parts>" suffix of a composite checksum, as S3 shows it here.
    value.Checksum = checksumXml({ ...row.checksum, value: row.checksum.value.replace(/-\d+$/, '') });
  }
  if (wanted.has('ObjectParts') && row.partsCount !== null) value.ObjectParts = { PartsCount: row.partsCount };
  if (wanted.has('StorageClass')) value.StorageClass = row.storageClass;
  if (wanted.has('ObjectSize')) value.ObjectSize = row.size;
  const headers: Record<string, string> = { 'Last-Modified': row.lastModified.toUTCString() };
  const versionId = readVersionId(row, versioningMode(bucket) !== 'unversioned');
  if (versionId !== undefined) headers['x-amz-version-id'] = versionId;
  return { headers, xml: { root: 'GetObjectAttributesResponse', value } };
}
