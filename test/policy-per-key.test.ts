import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  DeleteObjectsCommand,
  DeletePublicAccessBlockCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { s3Error } from './helpers/s3.js';
import { useS3Server } from './helpers/server.js';
import { xmlField } from './helpers/raw-s3.js';
import { formData, postPolicyFields } from './helpers/post-form.js';
import { issue } from './helpers/tokens.js';

// Requests that name their keys in the body — DeleteObjects entries, a POST form's key — are
// decided by the bucket's policy per object ARN, for tokens and anonymous callers alike; and a
// policy's variables (${aws:userid}) are filled in per caller.

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

  test('a policy that opens only object ARNs admits an anonymous DeleteObjects', async () => {
    const bucket = await withPolicy('objarn', (b) => [{ Effect: 'Allow', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${b}/tmp/*` }], ['tmp/x', 'keep']);
    const out = await anonymousDelete(bucket, ['tmp/x', 'keep']);
    assert.equal(out.status, 200);
    assert.deepEqual(out.deleted, ['tmp/x']);
    assert.deepEqual(out.denied, ['keep']);
  });
});

describe('POST forms: the policy decides the form\'s key', () => {
  const post = (bucket: string, fields: Record<string, string>, filename = 'upload.bin') =>
    fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(fields, 'body', filename) });

  test("a token's Deny on a prefix refuses a signed form to a key under it, ${filename} filled in", async () => {
    const bucket = await withPolicy('pdeny', (b) => [{ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${b}/protected/*` }]);
    const writer = await issue(ctx.server, { permission: 'object-rw' });
    const credentials = { accessKeyId: writer.credentials.accessKeyId, secretAccessKey: writer.credentials.secretAccessKey };
    const denied = await post(bucket, postPolicyFields({ bucket, key: 'protected/x', credentials }));
    assert.equal(denied.status, 403);
    assert.equal(xmlField(await denied.text(), 'Code'), 'AccessDenied');
    assert.equal(await exists(bucket, 'protected/x'), false);
    const named = postPolicyFields({ bucket, key: 'protected/${filename}', credentials });
    const viaFilename = await post(bucket, named, 'y');
    assert.equal(viaFilename.status, 403);
    assert.equal(await exists(bucket, 'protected/y'), false);
    const open = await post(bucket, postPolicyFields({ bucket, key: 'open/x', credentials }));
    assert.equal(open.status, 204, await open.text());
  });

  test("the form's acl field is the policy's s3:x-amz-acl", async () => {
    const bucket = await withPolicy('pacl', (b) => [
      { Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${b}/*`, Condition: { StringEquals: { 's3:x-amz-acl': 'public-read' } } },
    ]);
    const writer = await issue(ctx.server, { permission: 'object-rw' });
    const credentials = { accessKeyId: writer.credentials.accessKeyId, secretAccessKey: writer.credentials.secretAccessKey };
    const denied = await post(bucket, postPolicyFields({ bucket, key: 'a', credentials, fields: { acl: 'public-read' } }));
    assert.equal(denied.status, 403);
    assert.equal(xmlField(await denied.text(), 'Code'), 'AccessDenied');
    const plain = await post(bucket, postPolicyFields({ bucket, key: 'a', credentials }));
    assert.equal(plain.status, 204, await plain.text());
  });

  test('an anonymous form writes only where the policy opens s3:PutObject', async () => {
    const bucket = await withPolicy('panon', (b) => [
      { Effect: 'Allow', Principal: '*', Action: ['s3:PutObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/uploads/*`] },
    ]);
    const evil = await post(bucket, { key: 'other/evil.html' });
    assert.equal(evil.status, 403);
    assert.equal(await exists(bucket, 'other/evil.html'), false);
    const ok = await post(bucket, { key: 'uploads/ok' });
    assert.equal(ok.status, 204, await ok.text());
  });

  test('a policy that opens only object ARNs admits an anonymous form to them', async () => {
    const bucket = await withPolicy('pobj', (b) => [{ Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${b}/uploads/*` }]);
    const ok = await post(bucket, { key: 'uploads/${filename}' }, 'ok.txt');
    assert.equal(ok.status, 204, await ok.text());
    assert.equal(await exists(bucket, 'uploads/ok.txt'), true);
    const other = await post(bucket, { key: 'other' });
    assert.equal(other.status, 403);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'other' })))).$metadata.httpStatusCode, 404);
  });
});

describe('policy variables: one statement, a home per token', () => {
  test('a Deny outside home/${aws:userid}/ confines each token to its own keys, listings included', async () => {
    const project = ctx.server.bootstrap.projectId;
    const bucket = await withPolicy('home', (b) => [
      { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${project}:root` }, Action: ['s3:GetObject', 's3:PutObject'], NotResource: `arn:aws:s3:::${b}/home/\${aws:userid}/*` },
      { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${project}:root` }, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${b}`, Condition: { StringNotLike: { 's3:prefix': 'home/${aws:userid}/*' } } },
    ]);
    const alice = await issue(ctx.server, { permission: 'object-rw' });
    const bob = await issue(ctx.server, { permission: 'object-rw' });
    const home = (who: typeof alice) => `home/${who.token.id}/`;
    await alice.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${home(alice)}notes`, Body: 'alice' }));
    const read = await alice.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${home(alice)}notes` }));
    assert.equal(await read.Body?.transformToString(), 'alice');
    const listed = await alice.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: home(alice) }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), [`${home(alice)}notes`]);

    const denied = async (p: Promise<unknown>) => assert.equal((await s3Error(p)).name, 'AccessDenied');
    await denied(bob.s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${home(alice)}notes` })));
    await denied(bob.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${home(alice)}planted`, Body: 'x' })));
    await denied(bob.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: home(alice) })));
    await denied(alice.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'home/${aws:userid}/literal', Body: 'x' })));
    await bob.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${home(bob)}notes`, Body: 'bob' }));
  });
});
