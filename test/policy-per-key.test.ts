import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  DeleteObjectsCommand,
  DeletePublicAccessBlockCommand,
  HeadObjectCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { useS3Server } from './helpers/server.js';
import { xmlField } from './helpers/raw-s3.js';
import { issue } from './helpers/tokens.js';

// Requests that name their keys in the body — DeleteObjects entries — are decided by the
// bucket's policy per object ARN, for tokens and anonymous callers alike.

const ctx = useS3Server('perkey');

async function withPolicy(tag: string, statements: (bucket: string) => unknown[], keys: string[] = []): Promise<string> {
  const bucket = await ctx.newBucket(tag);
  await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
  for (const Key of keys) await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
  await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements(bucket) }) }));
  return bucket;
}

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    assert.equal((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode, 404);
    return false;
  }
}

/** An unsigned DeleteObjects: its status and the keys of its Deleted and Error entries. */
async function anonymousDelete(bucket: string, keys: string[]): Promise<{ status: number; deleted: string[]; denied: string[] }> {
  const body = `<Delete>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`;
  const md5 = createHash('md5').update(body).digest('base64');
  const res = await fetch(`${ctx.server.url}/${bucket}?delete`, { method: 'POST', headers: { 'content-md5': md5 }, body });
  const text = await res.text();
  const entries = (tag: string) => [...text.matchAll(new RegExp(`<${tag}>(.*?)</${tag}>`, 'g'))].map((m) => xmlField(m[1], 'Key')!);
  return { status: res.status, deleted: entries('Deleted'), denied: entries('Error') };
}

describe('DeleteObjects: the policy decides each key', () => {
  test("a token's Deny on objects under a prefix refuses those entries, not the others", async () => {
    const bucket = await withPolicy('deny', (b) => [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${b}/protected/*` }], ['protected/x', 'other']);
    const writer = await issue(ctx.server, { permission: 'object-rw' });
    const out = await writer.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'protected/x' }, { Key: 'other' }] } }));
    assert.deepEqual(out.Errors?.map((e) => [e.Key, e.Code]), [['protected/x', 'AccessDenied']]);
    assert.deepEqual(out.Deleted?.map((d) => d.Key), ['other']);
    assert.equal(await exists(bucket, 'protected/x'), true);
    assert.equal(await exists(bucket, 'other'), false);
  });

  test('an entry with a VersionId is s3:DeleteObjectVersion', async () => {
    const bucket = await withPolicy('version', (b) => [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObjectVersion', Resource: `arn:aws:s3:::${b}/*` }]);
    await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: 'v' }));
    const out = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'v', VersionId: put.VersionId }] } }));
    assert.deepEqual(out.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [['v', put.VersionId, 'AccessDenied']]);
    // Without a version, the same key takes a delete marker: s3:DeleteObject is not denied.
    const plain = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'v' }] } }));
    assert.equal(plain.Errors, undefined);
    assert.equal(plain.Deleted?.[0].DeleteMarker, true);
  });

  test('an anonymous caller deletes only the objects the policy opens to it', async () => {
    const bucket = await withPolicy(
      'anon',
      (b) => [{ Effect: 'Allow', Principal: '*', Action: 's3:DeleteObject', Resource: [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/tmp/*`] }],
      ['tmp/x', 'keep'],
    );
    const out = await anonymousDelete(bucket, ['keep', 'tmp/x']);
    assert.equal(out.status, 200);
    assert.deepEqual(out.denied, ['keep']);
    assert.deepEqual(out.deleted, ['tmp/x']);
    assert.equal(await exists(bucket, 'keep'), true);
  });

  test('a policy that opens only object ARNs admits an anonymous DeleteObjects', { todo: 'the bucket-level admission of POST ?delete (src/s3/admission.ts) still asks the policy about the bucket ARN' }, async () => {
    const bucket = await withPolicy('objarn', (b) => [{ Effect: 'Allow', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${b}/tmp/*` }], ['tmp/x', 'keep']);
    const out = await anonymousDelete(bucket, ['tmp/x', 'keep']);
    assert.equal(out.status, 200);
    assert.deepEqual(out.deleted, ['tmp/x']);
    assert.deepEqual(out.denied, ['keep']);
  });
});
