import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as Minio from 'minio';
import { ROOT_KEY, useS3Server } from './helpers/server.js';
import { issue } from './helpers/tokens.js';

// minio-js, the MinIO JavaScript client, unmodified against skep: buckets, objects with metadata,
// ranges, multipart from a stream, copy and compose, listings, tags, presigned GET/PUT/POST,
// policy, versioning, lifecycle, encryption, Object Lock, and a token's revocation.

const ctx = useS3Server('mjs');
const MiB = 1024 * 1024;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

function client(credentials = ROOT_KEY): Minio.Client {
  return new Minio.Client({
    endPoint: '127.0.0.1',
    port: ctx.server.port,
    useSSL: false,
    accessKey: credentials.accessKeyId,
    secretKey: credentials.secretAccessKey,
    partSize: 5 * MiB,
  });
}

async function minioError(p: Promise<unknown>): Promise<{ code?: string }> {
  return p.then(
    () => assert.fail('expected the call to fail'),
    (err: unknown) => err as { code?: string },
  );
}

describe('minio-js', () => {
  let mc: Minio.Client;
  let work: string;
  const bucket = ctx.bucketName('main');
  before(async () => {
    mc = client();
    work = await mkdtemp(join(tmpdir(), 'skep-minio-'));
    await mc.makeBucket(bucket);
  });
  after(() => rm(work, { recursive: true, force: true }));

  test('makeBucket, bucketExists, listBuckets, removeBucket', async () => {
    const other = ctx.bucketName('other');
    await mc.makeBucket(other, 'us-east-1');
    assert.equal(await mc.bucketExists(other), true);
    assert.ok((await mc.listBuckets()).some((b) => b.name === other));
    await mc.removeBucket(other);
    assert.equal(await mc.bucketExists(other), false);
  });

  test('putObject with metadata; statObject, getObject and getPartialObject', async () => {
    const put = await mc.putObject(bucket, 'docs/hello.txt', Buffer.from('hello minio'), undefined, { 'Content-Type': 'text/plain', 'X-Amz-Meta-Color': 'blue' });
    assert.equal(put.etag, md5('hello minio'));
    const stat = await mc.statObject(bucket, 'docs/hello.txt');
    assert.equal(stat.size, 11);
    assert.equal(stat.etag, md5('hello minio'));
    assert.deepEqual(stat.metaData, { 'content-type': 'text/plain', color: 'blue' });
    assert.equal((await bytesOf(await mc.getObject(bucket, 'docs/hello.txt'))).toString(), 'hello minio');
    assert.equal((await bytesOf(await mc.getPartialObject(bucket, 'docs/hello.txt', 6, 3))).toString(), 'min');
    assert.equal((await bytesOf(await mc.getPartialObject(bucket, 'docs/hello.txt', 6))).toString(), 'minio');
    assert.equal((await minioError(mc.statObject(bucket, 'docs/missing.txt'))).code, 'NotFound');
  });

  test('a 12 MiB stream goes up as a multipart upload and comes back intact', async () => {
    const data = randomBytes(12 * MiB + 7);
    const put = await mc.putObject(bucket, 'big.bin', Readable.from([data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]), data.length);
    assert.match(put.etag, /^[0-9a-f]{32}-\d+$/, 'a multipart upload');
    assert.equal((await mc.statObject(bucket, 'big.bin')).size, data.length);
    assert.equal(md5(await bytesOf(await mc.getObject(bucket, 'big.bin'))), md5(data));
  });

  test('fPutObject and fGetObject', async () => {
    await writeFile(join(work, 'up.txt'), 'from a file');
    await mc.fPutObject(bucket, 'files/up.txt', join(work, 'up.txt'));
    await mc.fGetObject(bucket, 'files/up.txt', join(work, 'down.txt'));
    assert.equal(await readFile(join(work, 'down.txt'), 'utf8'), 'from a file');
  });

  test('listObjectsV2 and listObjects: recursive, by prefix, grouped by delimiter', async () => {
    for (const key of ['list/a.txt', 'list/b/c.txt', 'list/b/d.txt']) await mc.putObject(bucket, key, key);
    const recursive = await collect(mc.listObjectsV2(bucket, 'list/', true));
    assert.deepEqual(recursive.map((o) => o.name), ['list/a.txt', 'list/b/c.txt', 'list/b/d.txt']);
    assert.equal(recursive[0].size, 'list/a.txt'.length);
    const grouped = await collect(mc.listObjectsV2(bucket, 'list/', false));
    assert.deepEqual(grouped.map((o) => o.name ?? o.prefix).sort(), ['list/a.txt', 'list/b/']);
    const v1 = await collect(mc.listObjects(bucket, 'list/b/', true));
    assert.deepEqual(v1.map((o) => o.name), ['list/b/c.txt', 'list/b/d.txt']);
  });

  test('copyObject (both forms) and composeObject', async () => {
    await mc.putObject(bucket, 'copy/src.txt', 'copy me');
    await mc.copyObject(new Minio.CopySourceOptions({ Bucket: bucket, Object: 'copy/src.txt' }), new Minio.CopyDestinationOptions({ Bucket: bucket, Object: 'copy/dst.txt' }));
    assert.equal((await bytesOf(await mc.getObject(bucket, 'copy/dst.txt'))).toString(), 'copy me');
    await mc.copyObject(bucket, 'copy/legacy.txt', `/${bucket}/copy/src.txt`, new Minio.CopyConditions());
    assert.equal((await bytesOf(await mc.getObject(bucket, 'copy/legacy.txt'))).toString(), 'copy me');
    const first = randomBytes(5 * MiB);
    await mc.putObject(bucket, 'copy/part1.bin', first);
    const composed = await mc.composeObject(new Minio.CopyDestinationOptions({ Bucket: bucket, Object: 'copy/composed.bin' }), [
      new Minio.CopySourceOptions({ Bucket: bucket, Object: 'copy/part1.bin' }),
      new Minio.CopySourceOptions({ Bucket: bucket, Object: 'copy/src.txt' }),
    ]);
    assert.match(String((composed as { etag?: string }).etag), /-2$/);
    assert.equal(md5(await bytesOf(await mc.getObject(bucket, 'copy/composed.bin'))), md5(Buffer.concat([first, Buffer.from('copy me')])));
  });

  test('object and bucket tags', async () => {
    await mc.putObject(bucket, 'tagged.txt', 'x');
    await mc.setObjectTagging(bucket, 'tagged.txt', { env: 'test' });
    assert.deepEqual(await mc.getObjectTagging(bucket, 'tagged.txt'), [{ Key: 'env', Value: 'test' }]);
    await mc.setBucketTagging(bucket, { team: 'storage', tier: 'hot' });
    assert.deepEqual(await mc.getBucketTagging(bucket), [{ Key: 'team', Value: 'storage' }, { Key: 'tier', Value: 'hot' }]);
    await mc.removeBucketTagging(bucket);
    assert.equal((await minioError(mc.getBucketTagging(bucket))).code, 'NoSuchTagSet');
  });

  test('presigned GET (with a response header), PUT and POST policy', async () => {
    await mc.putObject(bucket, 'share.txt', 'shared');
    const get = await fetch(await mc.presignedGetObject(bucket, 'share.txt', 60, { 'response-content-type': 'application/x-shared' }));
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), 'application/x-shared');
    assert.equal(await get.text(), 'shared');
    const put = await fetch(await mc.presignedPutObject(bucket, 'via-url.txt', 60), { method: 'PUT', body: 'put by url' });
    assert.equal(put.status, 200);
    assert.equal((await bytesOf(await mc.getObject(bucket, 'via-url.txt'))).toString(), 'put by url');
    const policy = mc.newPostPolicy();
    policy.setBucket(bucket);
    policy.setKey('posted.txt');
    policy.setExpires(new Date(Date.now() + 60_000));
    policy.setContentLengthRange(1, 1024);
    policy.setContentType('text/plain');
    const { postURL, formData } = await mc.presignedPostPolicy(policy);
    const form = new FormData();
    for (const [k, v] of Object.entries(formData)) form.append(k, String(v));
    form.append('file', new Blob(['posted by a form'], { type: 'text/plain' }), 'x.txt');
    const post = await fetch(postURL, { method: 'POST', body: form });
    assert.equal(post.status, 204, await post.clone().text());
    assert.equal((await mc.statObject(bucket, 'posted.txt')).metaData['content-type'], 'text/plain');
    // A file the policy's range refuses is not stored.
    const tooBig = new FormData();
    for (const [k, v] of Object.entries(formData)) tooBig.append(k, String(v));
    tooBig.append('file', new Blob(['x'.repeat(2000)], { type: 'text/plain' }), 'x.txt');
    assert.equal((await fetch(postURL, { method: 'POST', body: tooBig })).status, 400);
    assert.equal((await bytesOf(await mc.getObject(bucket, 'posted.txt'))).toString(), 'posted by a form');
  });

  test("a revoked token's client and its presigned URLs stop working", async () => {
    const issued = await issue(ctx.server, { permission: 'object-rw', bucketScope: [bucket] });
    const scoped = client(issued.credentials);
    await scoped.putObject(bucket, 'scoped.txt', 'by a scoped key');
    const url = await scoped.presignedGetObject(bucket, 'scoped.txt', 600);
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await minioError(scoped.makeBucket(ctx.bucketName('denied')))).code, 'AccessDenied');
    await ctx.server.tokens.revoke(issued.token.id, { actor: 'test' });
    assert.equal((await fetch(url)).status, 403);
    assert.equal((await minioError(scoped.statObject(bucket, 'scoped.txt'))).code, 'AccessDenied');
  });

  test('bucket policy, lifecycle and default encryption round-trip', async () => {
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject'], Resource: [`arn:aws:s3:::${bucket}/keep/*`] }] };
    await mc.setBucketPolicy(bucket, JSON.stringify(policy));
    assert.deepEqual(JSON.parse(await mc.getBucketPolicy(bucket)).Statement[0].Action, ['s3:DeleteObject']);
    await mc.setBucketLifecycle(bucket, { Rule: [{ ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }] } as unknown as Minio.LifecycleConfig);
    const lifecycle = (await mc.getBucketLifecycle(bucket)) as unknown as { Rule: { ID: string; Expiration: { Days: number } } };
    assert.equal(lifecycle.Rule.ID, 'tmp');
    assert.equal(Number(lifecycle.Rule.Expiration.Days), 1);
    await mc.setBucketEncryption(bucket);
    const enc = (await mc.getBucketEncryption(bucket)) as { ServerSideEncryptionConfiguration: { Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: string } } } };
    assert.equal(enc.ServerSideEncryptionConfiguration.Rule.ApplyServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    await mc.removeBucketEncryption(bucket);
    await mc.removeBucketLifecycle(bucket);
  });

  test('versioning: versions listed, an older one read by versionId', async () => {
    const versioned = ctx.bucketName('ver');
    await mc.makeBucket(versioned);
    await mc.setBucketVersioning(versioned, { Status: 'Enabled' });
    assert.deepEqual(await mc.getBucketVersioning(versioned), { Status: 'Enabled' });
    const v1 = await mc.putObject(versioned, 'doc.txt', 'first');
    const v2 = await mc.putObject(versioned, 'doc.txt', 'second');
    assert.ok(v1.versionId && v2.versionId && v1.versionId !== v2.versionId);
    const versions = await collect(mc.listObjects(versioned, 'doc', true, { IncludeVersion: true })) as { versionId?: string; isLatest?: boolean }[];
    assert.deepEqual(versions.map((v) => [v.versionId, v.isLatest]), [[v2.versionId, true], [v1.versionId, false]]);
    assert.equal((await bytesOf(await mc.getObject(versioned, 'doc.txt', { versionId: v1.versionId! }))).toString(), 'first');
    await mc.removeObject(versioned, 'doc.txt', { versionId: v1.versionId! });
    assert.equal((await collect(mc.listObjects(versioned, 'doc', true, { IncludeVersion: true }))).length, 1);
  });

  test('Object Lock: a locked bucket, default retention, retention and legal hold on an object', async () => {
    const locked = ctx.bucketName('lock');
    await mc.makeBucket(locked, 'us-east-1', { ObjectLocking: true });
    await mc.setObjectLockConfig(locked, { mode: 'GOVERNANCE', unit: 'Days', validity: 1 } as Parameters<Minio.Client['setObjectLockConfig']>[1]);
    const config = await mc.getObjectLockConfig(locked);
    assert.deepEqual(config, { objectLockEnabled: 'Enabled', mode: 'GOVERNANCE', validity: 1, unit: 'Days' });
    const { versionId } = await mc.putObject(locked, 'held.txt', 'keep');
    const until = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    until.setUTCMilliseconds(0);
    await mc.putObjectRetention(locked, 'held.txt', { mode: 'GOVERNANCE', retainUntilDate: until.toISOString(), versionId } as Parameters<Minio.Client['putObjectRetention']>[2]);
    const retention = await mc.getObjectRetention(locked, 'held.txt', { versionId: versionId! });
    assert.equal(retention?.mode, 'GOVERNANCE');
    assert.equal(new Date(retention!.retainUntilDate!).getTime(), until.getTime());
    await mc.setObjectLegalHold(locked, 'held.txt', { status: 'ON', versionId } as Parameters<Minio.Client['setObjectLegalHold']>[2]);
    assert.deepEqual(await mc.getObjectLegalHold(locked, 'held.txt', { versionId: versionId! }), { Status: 'ON' });
    assert.equal((await minioError(mc.removeObject(locked, 'held.txt', { versionId: versionId! }))).code, 'AccessDenied');
    await mc.setObjectLegalHold(locked, 'held.txt', { status: 'OFF', versionId } as Parameters<Minio.Client['setObjectLegalHold']>[2]);
  });

  test('incomplete uploads are listed and removed; removeObjects deletes in one request', async () => {
    const uploadId = await mc.initiateNewMultipartUpload(bucket, 'unfinished.bin', {});
    assert.ok(uploadId);
    assert.deepEqual((await collect(mc.listIncompleteUploads(bucket, 'unfinished', true))).map((u) => u.key), ['unfinished.bin']);
    await mc.removeIncompleteUpload(bucket, 'unfinished.bin');
    assert.deepEqual(await collect(mc.listIncompleteUploads(bucket, 'unfinished', true)), []);
    for (const key of ['rm/1', 'rm/2', 'rm/3']) await mc.putObject(bucket, key, key);
    const errors = await mc.removeObjects(bucket, ['rm/1', 'rm/2', 'rm/3', 'rm/never-existed']);
    assert.deepEqual(errors, []);
    assert.deepEqual(await collect(mc.listObjectsV2(bucket, 'rm/', true)), []);
  });
});
