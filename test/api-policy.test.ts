import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, type As } from './helpers/api.js';

// A bucket's policy holds for the REST API as for S3: its Deny takes a right away from a bearer
// token or a console session, tested against the object (or the bucket, for listings) and the
// request's facts (address, TLS), as S3 tests them.

describe('REST API: bucket policies', () => {
  let server: TestServer;
  let s3: S3Client;
  let p: string;
  let writer: As;
  let n = 0;
  const objects = (bucket: string) => `/projects/${p}/buckets/${bucket}/objects`;
  const content = (bucket: string, key: string) => `${objects(bucket)}/content?key=${encodeURIComponent(key)}`;

  before(async () => {
    server = await startTestServer();
    s3 = server.client();
    p = server.bootstrap.projectId;
    writer = (await bearerToken(server, { permission: 'object-rw' })).as;
  });
  after(() => server.stop());

  async function bucketWith(statements: (bucket: string) => unknown[]): Promise<string> {
    const bucket = `apipol-${process.pid}-${++n}`;
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: bucket } })).status, 201);
    for (const Key of ['secret/s', 'open/o']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
    await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements(bucket) }) }));
    return bucket;
  }

  const denyAll = (b: string) => [
    { Effect: 'Deny', Principal: '*', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`] },
  ];

  test('a Deny refuses the read, write, delete and listing a token may otherwise do', async () => {
    const bucket = await bucketWith(denyAll);
    const get = await call(server, 'GET', content(bucket, 'secret/s'), { as: writer });
    assert.ok(isProblem(get, 403, 'forbidden'), problemText(get));
    assert.ok(!get.text.includes('secret/s'));
    const list = await call(server, 'GET', objects(bucket), { as: writer });
    assert.ok(isProblem(list, 403, 'forbidden'), problemText(list));
    const put = await call(server, 'PUT', content(bucket, 'secret/new'), { as: writer, raw: 'x', headers: { 'content-type': 'application/octet-stream' } });
    assert.ok(isProblem(put, 403, 'forbidden'), problemText(put));
    const del = await call(server, 'DELETE', `${objects(bucket)}?key=secret%2Fs`, { as: writer });
    assert.ok(isProblem(del, 403, 'forbidden'), problemText(del));
    // Policy management is never denied to the project's own tokens: remove it, and all is back.
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    const back = await call(server, 'GET', content(bucket, 'secret/s'), { as: writer });
    assert.equal(back.status, 200, problemText(back));
    assert.equal(back.text, 'secret/s');
  });

  test('a route naming a version is asked the version action, and a bypass of GOVERNANCE retention s3:BypassGovernanceRetention', async () => {
    const bucket = `apipol-${process.pid}-${++n}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }))).VersionId!;
    const until = new Date(Date.now() + 86_400_000);
    const locked = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v2', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until }))).VersionId!;
    await s3.send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:GetObjectVersion', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention'], Resource: `arn:aws:s3:::${bucket}/*` }] }),
    }));
    const admin = rootBearer(server);
    assert.equal((await call(server, 'GET', content(bucket, 'k'), { as: admin })).text, 'v2', 'the current version is s3:GetObject');
    assert.ok(isProblem(await call(server, 'GET', `${content(bucket, 'k')}&versionId=${v1}`, { as: admin }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'DELETE', `${objects(bucket)}?key=k&versionId=${v1}`, { as: admin }), 403, 'forbidden'));
    const bypass = await call(server, 'DELETE', `${objects(bucket)}?key=k&versionId=${locked}&bypassGovernanceRetention=true`, { as: admin });
    assert.ok(isProblem(bypass, 403, 'forbidden'), problemText(bypass));
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.deepEqual(versions.Versions?.map((v) => v.VersionId).sort(), [v1, locked].sort(), 'both versions stay');
  });

  test("a Deny on a prefix refuses only that prefix's objects; a console session is bound too", async () => {
    const bucket = await bucketWith((b) => [{ Effect: 'Deny', Principal: '*', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${b}/secret/*` }]);
    const admin = { session: await adminSession(server) };
    for (const as of [writer, admin]) {
      assert.ok(isProblem(await call(server, 'GET', content(bucket, 'secret/s'), { as }), 403, 'forbidden'));
      assert.equal((await call(server, 'GET', content(bucket, 'open/o'), { as })).status, 200);
      assert.ok(isProblem(await call(server, 'DELETE', `${objects(bucket)}?key=secret%2Fs`, { as }), 403, 'forbidden'));
    }
    const list = await call(server, 'GET', objects(bucket), { as: writer });
    assert.equal(list.status, 200, problemText(list));
    assert.deepEqual(list.body.items.map((i: { key: string }) => i.key), ['open/o', 'secret/s']);
  });

  test("conditions test the request's facts: the caller's address and plain HTTP", async () => {
    const overHttp = await bucketWith((b) => [
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${b}/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ]);
    assert.ok(isProblem(await call(server, 'GET', content(overHttp, 'open/o'), { as: writer }), 403, 'forbidden'));
    const fromLoopback = await bucketWith((b) => [
      { Effect: 'Deny', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${b}`, Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } },
    ]);
    assert.ok(isProblem(await call(server, 'GET', objects(fromLoopback), { as: writer }), 403, 'forbidden'));
    const elsewhere = await bucketWith((b) => [
      { Effect: 'Deny', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${b}`, Condition: { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } },
    ]);
    assert.equal((await call(server, 'GET', objects(elsewhere), { as: writer })).status, 200);
  });

  test("a listing's prefix is the policy's s3:prefix", async () => {
    const bucket = await bucketWith((b) => [
      { Effect: 'Deny', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${b}`, Condition: { StringNotLike: { 's3:prefix': 'open/*' } } },
    ]);
    assert.ok(isProblem(await call(server, 'GET', objects(bucket), { as: writer }), 403, 'forbidden'));
    const open = await call(server, 'GET', `${objects(bucket)}?prefix=open%2F`, { as: writer });
    assert.equal(open.status, 200, problemText(open));
    assert.deepEqual(open.body.items.map((i: { key: string }) => i.key), ['open/o']);
  });

  test('a Deny on s3:DeleteBucket refuses deleting the bucket', async () => {
    const bucket = await bucketWith((b) => [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteBucket', Resource: `arn:aws:s3:::${b}` }]);
    const del = await call(server, 'DELETE', `/projects/${p}/buckets/${bucket}?force=true`, { as: rootBearer(server) });
    assert.ok(isProblem(del, 403, 'forbidden'), problemText(del));
    assert.equal((await call(server, 'GET', content(bucket, 'open/o'), { as: writer })).status, 200);
  });

  test('a forced bucket deletion the policy would stop part way deletes nothing', async () => {
    // Removing the rest would leave the bucket with its newest versions gone and older ones current again.
    const bucket = await bucketWith((b) => [
      { Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject', 's3:AbortMultipartUpload'], Resource: `arn:aws:s3:::${b}/secret/*` },
    ]);
    await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'open/upload' }));
    const del = await call(server, 'DELETE', `/projects/${p}/buckets/${bucket}?force=true`, { as: rootBearer(server) });
    assert.ok(isProblem(del, 403, 'forbidden'), problemText(del));
    assert.match(problemText(del), /secret\/s.*nothing was deleted/);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.deepEqual(versions.Versions?.map((v) => v.Key), ['open/o', 'secret/s']);
    // An upload the policy protects stops it the same way.
    const other = await bucketWith((b) => [{ Effect: 'Deny', Principal: '*', Action: 's3:AbortMultipartUpload', Resource: `arn:aws:s3:::${b}/secret/*` }]);
    await s3.send(new CreateMultipartUploadCommand({ Bucket: other, Key: 'secret/upload' }));
    const again = await call(server, 'DELETE', `/projects/${p}/buckets/${other}?force=true`, { as: rootBearer(server) });
    assert.ok(isProblem(again, 403, 'forbidden'), problemText(again));
    assert.match(problemText(again), /multipart upload of secret\/upload; nothing was deleted/);
    assert.deepEqual((await s3.send(new ListObjectVersionsCommand({ Bucket: other }))).Versions?.map((v) => v.Key), ['open/o', 'secret/s']);
  });

  test('a forced deletion of a versioned bucket is denied by a Deny on s3:DeleteObjectVersion', async () => {
    const bucket = `apipol-${process.pid}-${++n}`;
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: bucket } })).status, 201);
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    await s3.send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObjectVersion', Resource: `arn:aws:s3:::${bucket}/*` }] }),
    }));
    const del = await call(server, 'DELETE', `/projects/${p}/buckets/${bucket}?force=true`, { as: rootBearer(server) });
    assert.ok(isProblem(del, 403, 'forbidden'), problemText(del));
    assert.equal((await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions?.length, 1);
    // Without the policy the same call empties and deletes the bucket.
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    assert.equal((await call(server, 'DELETE', `/projects/${p}/buckets/${bucket}?force=true`, { as: rootBearer(server) })).status, 204);
  });

  test("a Deny on a setting's S3 action refuses reading or changing it through the API", async () => {
    const bucket = await bucketWith((b) => [
      { Effect: 'Deny', Principal: '*', Action: ['s3:PutBucketVersioning', 's3:GetLifecycleConfiguration'], Resource: `arn:aws:s3:::${b}` },
    ]);
    const settings = `/projects/${p}/buckets/${bucket}/settings`;
    const put = await call(server, 'PUT', `${settings}/versioning`, { as: rootBearer(server), json: { status: 'Enabled' } });
    assert.ok(isProblem(put, 403, 'forbidden'), problemText(put));
    const get = await call(server, 'GET', settings, { as: rootBearer(server) });
    assert.ok(isProblem(get, 403, 'forbidden'), problemText(get));
    // What the policy does not name is unchanged.
    const encrypt = await call(server, 'PUT', `${settings}/encryption`, { as: rootBearer(server), json: { algorithm: 'AES256' } });
    assert.equal(encrypt.status, 200, problemText(encrypt));
  });

  test('a bucket that does not exist is still 404', async () => {
    const r = await call(server, 'GET', content(`missing-${process.pid}`, 'k'), { as: writer });
    assert.ok(isProblem(r, 404, 'not-found'), problemText(r));
  });
});
