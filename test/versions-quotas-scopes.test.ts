import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { isDenied, issue, outcome, type Issued } from './helpers/tokens.js';
import { call, rootBearer } from './helpers/api.js';

// Versions against storage quotas and prefix-scoped tokens. Kept versions take space, so quotas
// count them: an overwrite in a versioned bucket adds a version (no credit for the one it hides),
// deleting a version gives room back, and a recount agrees with the running counters. A token
// scoped to a prefix sees and touches only the versions under it, in S3 and the REST API.

let server: TestServer;
let s3: S3Client;
const p = () => server.bootstrap.projectId;

async function bucketQuota(bucket: string, q?: { maxBytes: number | null; maxObjects: number | null }) {
  const r = q
    ? await call(server, 'PUT', `/projects/${p()}/buckets/${bucket}/quota`, { as: rootBearer(server), json: q })
    : await call(server, 'GET', `/projects/${p()}/buckets/${bucket}/quota`, { as: rootBearer(server) });
  assert.equal(r.status, 200, r.text);
  return r.body as { quota: unknown; used: { bytes: number; objects: number } };
}

async function quotaExceeded(promise: Promise<unknown>): Promise<void> {
  const err = await promise.then(
    () => assert.fail('the write went through'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof S3ServiceException, String(err));
  assert.equal(err.name, 'QuotaExceeded');
}

async function versionCount(bucket: string): Promise<number> {
  return ((await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? []).length;
}

before(async () => {
  server = await startTestServer();
  s3 = server.client({ maxAttempts: 1 });
});
after(() => server.stop());

describe('quotas count every kept version', () => {
  test('versioning Enabled: an overwrite adds a version, deleting one gives room back, a recount agrees', async () => {
    const b = 'quota-versioned';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'one' }));
    assert.deepEqual((await bucketQuota(b, { maxBytes: null, maxObjects: 2 })).used, { bytes: 3, objects: 1 });
    const second = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'two!' }));
    assert.deepEqual((await bucketQuota(b)).used, { bytes: 7, objects: 2 }, 'the first version is kept and counted');
    // Same key, but a third version would be a third object.
    await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'three' })));
    assert.equal(await versionCount(b), 2, 'nothing was written');
    // A delete marker holds nothing and adds nothing; deleting a version for good frees its room.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.deepEqual((await bucketQuota(b)).used, { bytes: 7, objects: 2 });
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: second.VersionId }));
    assert.deepEqual((await bucketQuota(b)).used, { bytes: 3, objects: 1 });
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'three' }));
    const counted = (await bucketQuota(b)).used;
    assert.deepEqual(counted, { bytes: 8, objects: 2 });
    // Setting the quota again recounts the bucket from its versions: the same figures.
    assert.deepEqual((await bucketQuota(b, { maxBytes: null, maxObjects: 2 })).used, counted);
  });

  test('versioning Suspended: overwriting the "null" version replaces it, so it fits where a new object would not', async () => {
    const b = 'quota-suspended';
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'kept', Body: 'a kept version' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: '12345' }));
    const used = (await bucketQuota(b, { maxBytes: 14 + 5 + 2, maxObjects: null })).used;
    assert.deepEqual(used, { bytes: 19, objects: 2 });
    // 7 bytes over "k" replace its 5: 21 in all, within the quota.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: '1234567' }));
    assert.deepEqual((await bucketQuota(b)).used, { bytes: 21, objects: 2 });
    // Over "kept", whose current version has an ID, the write hides it and adds: refused.
    await quotaExceeded(s3.send(new PutObjectCommand({ Bucket: b, Key: 'kept', Body: 'x' })));
    assert.equal(await versionCount(b), 2);
  });
});

describe('a prefix-scoped token and versions', () => {
  const b = 'scoped-versions';
  let team: Issued;

  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: b, ObjectLockEnabledForBucket: true }));
    for (const key of ['team/a.txt', 'team/a.txt', 'other/b.txt', 'root.txt']) await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: key }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'other/b.txt' }));
    team = await issue(server, { permission: 'object-rw', bucketScope: [`${b}/team/`] });
  });

  test('ListObjectVersions shows only the versions and delete markers under the prefix, from the bucket root too', async () => {
    const all = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.equal((all.Versions ?? []).length, 4);
    const mine = await team.s3.send(new ListObjectVersionsCommand({ Bucket: b }));
    assert.deepEqual((mine.Versions ?? []).map((v) => v.Key), ['team/a.txt', 'team/a.txt']);
    assert.deepEqual(mine.DeleteMarkers ?? [], []);
    const folders = await team.s3.send(new ListObjectVersionsCommand({ Bucket: b, Delimiter: '/' }));
    assert.deepEqual((folders.CommonPrefixes ?? []).map((c) => c.Prefix), ['team/']);
    // Paged one at a time, the walk stays under the prefix.
    const walked: string[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (;;) {
      const page = await team.s3.send(new ListObjectVersionsCommand({ Bucket: b, MaxKeys: 1, KeyMarker, VersionIdMarker }));
      walked.push(...(page.Versions ?? []).map((v) => v.Key!));
      if (!page.IsTruncated) break;
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
    }
    assert.deepEqual(walked, ['team/a.txt', 'team/a.txt']);
  });

  test('retention and legal hold are refused outside the prefix, through S3 and the REST API', async () => {
    await team.s3.send(new PutObjectLegalHoldCommand({ Bucket: b, Key: 'team/a.txt', LegalHold: { Status: 'ON' } }));
    assert.equal((await team.s3.send(new GetObjectLegalHoldCommand({ Bucket: b, Key: 'team/a.txt' }))).LegalHold?.Status, 'ON');
    assert.ok(isDenied(await outcome(team.s3.send(new PutObjectLegalHoldCommand({ Bucket: b, Key: 'root.txt', LegalHold: { Status: 'ON' } })))));
    assert.ok(isDenied(await outcome(team.s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'root.txt' })))));
    const bearer = { bearer: team.credentials.bearerToken };
    const api = `/projects/${p()}/buckets/${b}/objects`;
    for (const [method, path, json] of [
      ['PUT', `${api}/legal-hold`, { key: 'root.txt', on: true }],
      ['PUT', `${api}/retention`, { key: 'root.txt', retention: null }],
      ['GET', `${api}/versions?key=root.txt`, undefined],
    ] as const) {
      const r = await call(server, method, path, { as: bearer, json });
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
    }
    assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket: b, Key: 'root.txt' })).catch(() => null))?.LegalHold?.Status ?? 'OFF', 'OFF');
    const inside = await call(server, 'GET', `${api}/versions?key=team/a.txt`, { as: bearer });
    assert.equal(inside.status, 200, inside.text);
    assert.equal(inside.body.items.length, 2);
    // Taken off again so the bucket's versions are not held.
    await team.s3.send(new PutObjectLegalHoldCommand({ Bucket: b, Key: 'team/a.txt', LegalHold: { Status: 'OFF' } }));
  });
});
