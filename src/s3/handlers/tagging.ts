import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { validateTags } from '../../objects/tags.js';
import { versionIdHeader, versionIdOf } from './object.js';

// GetObjectTagging, PutObjectTagging, DeleteObjectTagging, of the current version or of versionId;
// GetBucketTagging, PutBucketTagging, DeleteBucketTagging, the bucket's own tags (cost allocation
// and inventory tools read them; Terraform reads them on every plan).

function versionHeader(versionId: string | undefined): Record<string, string> {
  return versionId !== undefined && versionId !== 'null' ? { 'x-amz-version-id': versionId } : {};
}

export async function GetObjectTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const row = await ctx.services.objects.headObject(bucket, ctx.op.key!, versionIdOf(ctx));
  return { headers: versionHeader(row.versionId), xml: tagSetXml(row.tags) };
}

/** The tags of a Tagging document (PutObjectTagging, PutBucketTagging); a key given twice is InvalidTag. */
async function tagSetOf(ctx: S3Context): Promise<Record<string, string>> {
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  return tagSetFrom(parseXml(body, 'Tagging'));
}

/** The tags of a parsed Tagging document (also a POST form's `tagging` field); a key given twice is InvalidTag. */
export function tagSetFrom(doc: Record<string, unknown>): Record<string, string> {
  const set = xmlNode(doc.TagSet);
  if (set === undefined) throw new S3Error('MalformedXML');
  // A Map, not an object literal: "constructor" or "__proto__" is a tag key like any other.
  const tags = new Map<string, string>();
  for (const entry of xmlList(set.Tag)) {
    const e = xmlNode(entry)!;
    const key = xmlText(e.Key);
    const value = xmlText(e.Value);
    // S3's schema requires both (an empty <Value/> is a value).
    if (key === undefined || value === undefined) throw new S3Error('MalformedXML');
    if (tags.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags.set(key, value);
  }
  return Object.fromEntries(tags);
}

/** A TagSet document, sorted by key as S3 returns it. */
function tagSetXml(tags: Record<string, string>): S3Response['xml'] {
  const sorted = Object.entries(tags)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([Key, Value]) => ({ Key, Value }));
  return { root: 'Tagging', value: { TagSet: { Tag: sorted } } };
}

export async function PutObjectTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  const tags = await tagSetOf(ctx);
  validateTags(tags);
  const changed = await ctx.services.objects.setTags(bucket, ctx.op.key!, tags, versionId);
  return { headers: versionIdHeader(bucket, changed) };
}

export async function DeleteObjectTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  const changed = await ctx.services.objects.setTags(bucket, ctx.op.key!, {}, versionId);
  return { status: 204, headers: versionIdHeader(bucket, changed) };
}

export async function GetBucketTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  return { xml: tagSetXml(ctx.services.bucketConfig.getTags(bucket)) };
}

export async function PutBucketTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  await ctx.services.bucketConfig.putTags(bucket, await tagSetOf(ctx), ctx.by);
  // 200, as the API reference has it (minio-js accepts nothing else; AWS's SDKs take any 2xx).
  return {};
}

export async function DeleteBucketTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  await ctx.services.bucketConfig.deleteTags(bucket, ctx.by);
  return { status: 204 };
}
