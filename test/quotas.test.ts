import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, ROOT_KEY, type TestServer } from './helpers/server.js';
import { fetchOutcome, outcome } from './helpers/tokens.js';
import { postForm } from './helpers/post-form.js';
import { adminSession, call, isProblem, problemText, rootBearer, type Session } from './helpers/api.js';
import { send, signedHeaders } from './helpers/raw-s3.js';

// Storage quotas per bucket and per project (bytes, objects): PutObject, POST forms, CopyObject and
// CompleteMultipartUpload (and a part too large to fit at all) past a quota answer 403 QuotaExceeded and store nothing; overwrites
// count only what they add; deletes give room back. Set through the REST API.

let server: TestServer;
let s3: S3Client;
let owner: Session;
const KiB = 1024;
const p = () => server.bootstrap.projectId;

async function setBucketQuota(bucket: string, q: { maxBytes: number | null; maxObjects: number | null }) {
  const r = await call(server, 'PUT', `/projects/${p()}/buckets/${bucket}/quota`, { as: rootBearer(server), json: q });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

async function quotaExceeded(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof S3ServiceException, String(err));
    assert.equal(err.name, 'QuotaExceeded');
    assert.equal(err.$metadata.httpStatusCode, 403);
    return err.message;
  }
  assert.fail('the write went through');
}

async function exists(bucket: string, key: string): Promise<boolean> {
  return (await outcome(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).ok;
}

before(async () => {
  server = await startTestServer();
  s3 = server.client({ maxAttempts: 1 });
  owner = await adminSession(server);
});
after(() => server.stop());

describe('bucket quotas', () => {
  test('objects: the next new key is refused, an overwrite is not, a delete gives room back', async () => {
    const b = 'quota-objects';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'before-quota', Body: 'x' }));
    const set = await setBucketQuota(b, { maxBytes: null, maxObjects: 2 });
    assert.deepEqual(set, { quota: { maxBytes: null, maxObjects: 2 }, used: { bytes: 1, objects: 1 } }, 'counted from what the bucket held');
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'second', Body: 'y' }));
    const message = await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: b, Key: 'third', Body: 'z' })));
    assert.match(message, /quota of 2 objects/);
    assert.equal(await exists(b, 'third'), false);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'second', Body: 'overwritten' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'before-quota' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'third', Body: 'z' }));
    const now = await call(server, 'GET', `/projects/${p()}/buckets/${b}/quota`, { as: rootBearer(server) });
    assert.deepEqual(now.body.used, { bytes: 'overwritten'.length + 1, objects: 2 });
  });

  test('bytes: PUT (declared or streamed without a length), POST forms, copies and multipart completion are refused past it', async () => {
    const b = 'quota-bytes';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await setBucketQuota(b, { maxBytes: 10 * KiB, maxObjects: null });
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'eight', Body: Buffer.alloc(8 * KiB, 1) }));
    assert.match(await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: b, Key: 'four', Body: Buffer.alloc(4 * KiB, 2) }))), /10 KiB/);
    await quotaExceeded(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'copy', CopySource: `${b}/eight` })));
    // A presigned PUT (curl-like, with a length) and a form are refused the same way.
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: b, Key: 'presigned' }), { expiresIn: 60 });
    const presigned = await fetchOutcome(await fetch(url, { method: 'PUT', body: Buffer.alloc(4 * KiB) }));
    assert.deepEqual([presigned.status, !presigned.ok && presigned.code], [403, 'QuotaExceeded']);
    const form = await fetchOutcome(await postForm(server.url, { bucket: b, key: 'form', credentials: ROOT_KEY, file: Buffer.alloc(4 * KiB) }));
    assert.deepEqual([form.status, !form.ok && form.code], [403, 'QuotaExceeded']);
    // A body sent without a length (chunked) is checked once stored, before the commit.
    const headers = await signedHeaders(server, { method: 'PUT', path: `/${b}/chunked`, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'transfer-encoding': 'chunked' } });
    const chunked = (await send(server, 'PUT', `/${b}/chunked`, headers, [Buffer.alloc(3 * KiB), Buffer.alloc(KiB)])).status;
    assert.equal(chunked, 403);
    for (const key of ['four', 'copy', 'presigned', 'form', 'chunked']) assert.equal(await exists(b, key), false, `${key} was not stored`);
    // Multipart: a part that could not fit even on its own is refused before its bytes are stored
    // (parts would otherwise hold space no quota counts); one that fits uploads, and the whole
    // object is checked again at completion, which leaves the upload for a retry.
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'multi' }));
    await quotaExceeded(s3.send(new UploadPartCommand({ Bucket: b, Key: 'multi', UploadId, PartNumber: 1, Body: Buffer.alloc(5 * KiB) })));
    assert.equal((await s3.send(new ListPartsCommand({ Bucket: b, Key: 'multi', UploadId }))).Parts?.length ?? 0, 0, 'the refused part was not stored');
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'multi', UploadId, PartNumber: 1, Body: Buffer.alloc(2 * KiB) }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'one', Body: Buffer.alloc(KiB) }));
    const complete = () => s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'multi', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    await quotaExceeded(complete());
    assert.equal(await exists(b, 'multi'), false);
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads?.length, 1);
    // Room made, the same completion succeeds; an overwrite counts only what it adds.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'eight' }));
    await complete();
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'multi', Body: Buffer.alloc(9 * KiB) }));
    const used = await call(server, 'GET', `/projects/${p()}/buckets/${b}/quota`, { as: rootBearer(server) });
    assert.deepEqual(used.body.used, { bytes: 10 * KiB, objects: 2 });
  });

  test('over a lowered quota, writes that add nothing pass: a smaller overwrite, a metadata-only self-copy, the Suspended null version', async () => {
    const b = 'quota-lowered';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: Buffer.alloc(4 * KiB, 1) }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'other', Body: Buffer.alloc(4 * KiB, 1) }));
    await setBucketQuota(b, { maxBytes: 2 * KiB, maxObjects: 1 });
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: Buffer.alloc(3 * KiB, 2) }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'k', CopySource: `${b}/k`, MetadataDirective: 'REPLACE', Metadata: { a: 'b' } }));
    assert.match(await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: Buffer.alloc(4 * KiB, 3) }))), /adds 1\.0 KiB/);
    // Suspended: a write replaces the null version, current or not, so adds no object.
    const s = 'quota-suspended';
    await s3.send(new CreateBucketCommand({ Bucket: s }));
    await s3.send(new PutObjectCommand({ Bucket: s, Key: 'k', Body: 'null version' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: s, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: s, Key: 'k', Body: 'a real version' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: s, VersioningConfiguration: { Status: 'Suspended' } }));
    await setBucketQuota(s, { maxBytes: null, maxObjects: 2 });
    await s3.send(new PutObjectCommand({ Bucket: s, Key: 'k', Body: 'the new null' }));
    assert.match(await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: s, Key: 'new', Body: 'x' }))), /quota of 2 objects/);
  });

  test('UploadPartCopy refuses a part too large to fit on its own, as UploadPart does', async () => {
    const b = 'quota-part-copy';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'source', Body: Buffer.alloc(6 * KiB, 1) }));
    await setBucketQuota(b, { maxBytes: 8 * KiB, maxObjects: null });
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'multi' }));
    const copy = (range?: string) => s3.send(new UploadPartCopyCommand({ Bucket: b, Key: 'multi', UploadId, PartNumber: 1, CopySource: `${b}/source`, CopySourceRange: range }));
    await quotaExceeded(copy());
    assert.equal((await s3.send(new ListPartsCommand({ Bucket: b, Key: 'multi', UploadId }))).Parts?.length ?? 0, 0, 'the refused part was not stored');
    await copy('bytes=0-1023');
  });

  test('the REST upload is refused too (403 quota-exceeded); a bad quota is 400 naming the field', async () => {
    const b = 'quota-rest';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await setBucketQuota(b, { maxBytes: KiB, maxObjects: null });
    const r = await call(server, 'PUT', `/projects/${p()}/buckets/${b}/objects/content?key=big`, { as: rootBearer(server), raw: Buffer.alloc(2 * KiB) });
    assert.ok(isProblem(r, 403, 'quota-exceeded'), problemText(r));
    assert.equal(await exists(b, 'big'), false);
    for (const [body, field] of [[{ maxBytes: 0, maxObjects: null }, 'maxBytes'], [{ maxBytes: null, maxObjects: -1 }, 'maxObjects'], [{ maxBytes: 1.5, maxObjects: null }, 'maxBytes']] as const) {
      const bad = await call(server, 'PUT', `/projects/${p()}/buckets/${b}/quota`, { as: rootBearer(server), json: body });
      assert.ok(isProblem(bad, 400, 'validation', field), `${JSON.stringify(body)}: ${problemText(bad)}`);
    }
    // Removing the quota lets the write through.
    await setBucketQuota(b, { maxBytes: null, maxObjects: null });
    const ok = await call(server, 'PUT', `/projects/${p()}/buckets/${b}/objects/content?key=big`, { as: rootBearer(server), raw: Buffer.alloc(2 * KiB) });
    assert.equal(ok.status, 200, ok.text);
  });

  test('only an admin of the bucket sets its quota; the change is audited', async () => {
    const b = 'quota-rights';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const token = await server.tokens.create({ projectId: p(), name: 'writer', permission: 'object-rw', bucketScope: [b], createdBy: 'test' });
    const r = await call(server, 'PUT', `/projects/${p()}/buckets/${b}/quota`, { as: { bearer: token.credentials.bearerToken }, json: { maxBytes: 1, maxObjects: null } });
    assert.ok(isProblem(r, 403, 'forbidden'), problemText(r));
    await setBucketQuota(b, { maxBytes: 5 * KiB, maxObjects: null });
    const events = await server.services.audit.list({ projectId: p(), bucket: b, actions: ['bucket.config-changed'], limit: 5 });
    assert.ok(events.some((e) => /^quota: 5\.0 KiB/.test(e.detail ?? '')), JSON.stringify(events));
  });
});

describe('project quotas', () => {
  test('count every bucket of the project; owners set them', async () => {
    const [a, b] = ['proj-quota-a', 'proj-quota-b'];
    for (const name of [a, b]) await s3.send(new CreateBucketCommand({ Bucket: name }));
    const before = await call(server, 'GET', `/projects/${p()}/quota`, { as: rootBearer(server) });
    const used = before.body.used as { bytes: number; objects: number };
    const byToken = await call(server, 'PUT', `/projects/${p()}/quota`, { as: rootBearer(server), json: { maxBytes: null, maxObjects: used.objects + 2 } });
    assert.ok(isProblem(byToken, 403, 'forbidden'), `a bearer token may not set the project quota (owners, signed in): ${problemText(byToken)}`);
    const set = await call(server, 'PUT', `/projects/${p()}/quota`, { as: { session: owner }, json: { maxBytes: null, maxObjects: used.objects + 2 } });
    assert.equal(set.status, 200, set.text);
    await s3.send(new PutObjectCommand({ Bucket: a, Key: 'one', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'two', Body: '2' }));
    assert.match(await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: a, Key: 'three', Body: '3' }))), /project's quota/);
    const cleared = await call(server, 'PUT', `/projects/${p()}/quota`, { as: { session: owner }, json: { maxBytes: null, maxObjects: null } });
    assert.deepEqual(cleared.body.quota, null);
    await s3.send(new PutObjectCommand({ Bucket: a, Key: 'three', Body: '3' }));
    const events = await server.services.audit.list({ projectId: p(), actions: ['project.updated'], limit: 5 });
    assert.ok(events.some((e) => /^quota: none -> \d+ objects$/.test(e.detail ?? '')), JSON.stringify(events.map((e) => e.detail)));
  });

  test('what is stored is told only to a caller whose scope reaches all of it, as bucket listings tell it', async () => {
    const b = 'quota-scoped';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'in/a', Body: 'a' }));
    const token = async (bucketScope: string[]) =>
      ({ bearer: (await server.tokens.create({ projectId: p(), name: 'scoped', permission: 'admin-rw', bucketScope, createdBy: 'test' })).credentials.bearerToken });
    const bucketScoped = await token([b]);
    const prefixScoped = await token([`${b}/in/`]);
    const project = await call(server, 'GET', `/projects/${p()}/quota`, { as: bucketScoped });
    assert.equal(project.status, 200, project.text);
    assert.equal(project.body.used, null, 'a token of one bucket learns nothing of the others');
    assert.equal(typeof (await call(server, 'GET', `/projects/${p()}/quota`, { as: rootBearer(server) })).body.used.bytes, 'number');
    assert.deepEqual((await call(server, 'GET', `/projects/${p()}/buckets/${b}/quota`, { as: bucketScoped })).body.used, { bytes: 1, objects: 1 });
    const prefix = await call(server, 'GET', `/projects/${p()}/buckets/${b}/quota`, { as: prefixScoped });
    assert.equal(prefix.status, 200, prefix.text);
    assert.equal(prefix.body.used, null, 'a prefix-scoped token learns nothing of keys outside its prefixes');
  });
});
