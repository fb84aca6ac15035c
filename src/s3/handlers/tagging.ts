import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { parseXml, xmlText } from '../xml.js';
import { validateTags } from '../object-headers.js';
import { versionIdOf } from './object.js';

// GetObjectTagging, PutObjectTagging, DeleteObjectTagging, of the current version or of versionId.

function versionHeader(versionId: string | undefined): Record<string, string> {
  return versionId !== undefined && versionId !== 'null' ? { 'x-amz-version-id': versionId } : {};
}

export async function GetObjectTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const row = await ctx.services.objects.headObject(bucket, ctx.op.key!, versionIdOf(ctx));
  // Sorted by key, as S3 returns them.
  const tags = Object.entries(row.tags)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([Key, Value]) => ({ Key, Value }));
  return { headers: versionHeader(row.versionId), xml: { root: 'Tagging', value: { TagSet: { Tag: tags } } } };
}

export async function PutObjectTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  const doc = parseXml(body.toString('utf8'), 'Tagging');
  const set = doc.TagSet as Record<string, unknown> | string | undefined;
  if (set === undefined) throw new S3Error('MalformedXML');
  const list = (typeof set === 'object' ? (set.Tag as unknown[] | undefined) : undefined) ?? [];
  const tags: Record<string, string> = {};
  for (const entry of list) {
    const e = entry as Record<string, unknown>;
    const key = xmlText(e.Key);
    const value = xmlText(e.Value) ?? '';
    if (key === undefined) throw new S3Error('MalformedXML');
    if (key in tags) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags[key] = value;
  }
  validateTags(tags);
  await ctx.services.objects.setTags(bucket, ctx.op.key!, tags, versionId);
  return { headers: versionHeader(versionId) };
}

export async function DeleteObjectTagging(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  await ctx.services.objects.setTags(bucket, ctx.op.key!, {}, versionId);
  return { status: 204, headers: versionHeader(versionId) };
}
