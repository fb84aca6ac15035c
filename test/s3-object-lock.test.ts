import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type CreateMultipartUploadCommandInput,
} from '@aws-sdk/client-s3';
import { useS3Server } from './helpers/server.js';
import { s3Error } from './helpers/s3.js';
import { issue, type Issued } from './helpers/tokens.js';
import { call, rootBearer } from './helpers/api.js';
import { raw, xmlField } from './helpers/raw-s3.js';

// Object Lock through the AWS SDK: buckets created with it, default retention, per-version
// retention and legal hold, what no one may delete (S3, DeleteObjects, the REST API and its
// forced bucket delete alike), and the GOVERNANCE bypass that only admin-rw tokens have.

const ctx = useS3Server('lock');
const DAY = 86_400_000;
const inDays = (n: number) => new Date(Math.ceil((Date.now() + n * DAY) / 1000) * 1000);

async function lockedBucket(tag: string): Promise<string> {
  const bucket = ctx.bucketName(tag);
  await ctx.s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  return bucket;
}

const tokens: Record<string, Issued> = {};
/** admin-rw and object-rw tokens, issued once the server runs. */
async function issueTokens(): Promise<void> {
  for (const permission of ['admin-rw', 'object-rw']) tokens[permission] ??= await issue(ctx.server, { permission });
}

describe('Object Lock configuration', () => {
  test('a bucket created with Object Lock has versioning enabled for good and no default retention', async () => {
    const bucket = await lockedBucket('create');
    assert.equal((await ctx.s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status, 'Enabled');
    const conf = await ctx.s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    assert.deepEqual(conf.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
    const suspend = await s3Error(ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } })));
    assert.deepEqual([suspend.name, suspend.$metadata.httpStatusCode], ['InvalidBucketState', 409]);
  });

  test('default retention: set, read back, applied to new versions; invalid periods are refused as S3 refuses them', async () => {
    const bucket = await lockedBucket('default');
    const conf = { ObjectLockEnabled: 'Enabled' as const, Rule: { DefaultRetention: { Mode: 'GOVERNANCE' as const, Days: 2 } } };
    await ctx.s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: conf }));
    assert.deepEqual((await ctx.s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration, conf);
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(head.ObjectLockMode, 'GOVERNANCE');
    const until = head.ObjectLockRetainUntilDate!.getTime();
    assert.ok(Math.abs(until - (Date.now() + 2 * DAY)) < 60_000, `retain until ${head.ObjectLockRetainUntilDate?.toISOString()}`);
    assert.ok(put.VersionId);
    for (const [retention, code] of [
      [{ Mode: 'GOVERNANCE', Days: 0 }, 'InvalidRetentionPeriod'],
      [{ Mode: 'GOVERNANCE', Years: -1 }, 'InvalidRetentionPeriod'],
      [{ Mode: 'GOVERNANCE', Days: 1, Years: 1 }, 'MalformedXML'],
      [{ Mode: 'governance', Days: 1 }, 'MalformedXML'],
    ] as const) {
      const err = await s3Error(ctx.s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: retention as never } } })));
      assert.equal(err.name, code, JSON.stringify(retention));
    }
    // A misspelt element is refused, not read as absent (which would drop the default retention).
    for (const inner of ['<Rulee><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rulee>', '<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Dayz>2</Dayz></DefaultRetention></Rule>']) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { 'object-lock': '' }, body: `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>${inner}</ObjectLockConfiguration>` });
      assert.deepEqual([res.status, xmlField(res.text, 'Code')], [400, 'MalformedXML'], inner);
    }
    assert.equal((await ctx.s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration?.Rule?.DefaultRetention?.Days, 2, 'unchanged');
  });

  test('a multipart upload gets the default retention in force when completion creates the version, whatever lock headers it was created with', async () => {
    const bucket = await lockedBucket('mpu-default');
    const setDefault = (Days: number) =>
      ctx.s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days } } } }));
    await setDefault(1);
    const start = async (Key: string, lock: Partial<CreateMultipartUploadCommandInput> = {}) => {
      const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ...lock }));
      const { ETag } = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: 'a' }));
      return () => ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
    };
    const explicit = inDays(5);
    const completions = [
      await start('plain'),
      await start('held', { ObjectLockLegalHoldStatus: 'ON' }),
      await start('explicit', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: explicit, ObjectLockLegalHoldStatus: 'OFF' }),
    ];
    // Stored with the retention the default gives now too: a node of an older skep completing it
    // (a rolling upgrade) reads only that, and must not find none.
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'row', ObjectLockLegalHoldStatus: 'OFF' }));
    const stored = (await ctx.server.meta.getUpload(UploadId!))?.objectLock;
    assert.deepEqual([stored?.retention?.mode, stored?.legalHold, stored?.defaultRetention], ['GOVERNANCE', false, true]);
    // Completed later, under another default: that one, counted from completion.
    const later = 10 * 60_000;
    ctx.server.shiftClock(later);
    try {
      await setDefault(2);
      for (const complete of completions) await complete();
    } finally {
      ctx.server.shiftClock(-later);
    }
    for (const [key, hold] of [['plain', undefined], ['held', 'ON']]) {
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.deepEqual([head.ObjectLockMode, head.ObjectLockLegalHoldStatus], ['GOVERNANCE', hold], key);
      const retained = head.ObjectLockRetainUntilDate!.getTime() - head.LastModified!.getTime();
      assert.ok(Math.abs(retained - 2 * DAY) < 2000, `${key}: retained ${retained} ms from its completion`);
    }
    // A retention asked for is kept as asked (as an upload stored with one resolved at creation is).
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'explicit' }));
    assert.deepEqual([head.ObjectLockMode, head.ObjectLockRetainUntilDate?.toISOString(), head.ObjectLockLegalHoldStatus], ['GOVERNANCE', explicit.toISOString(), 'OFF']);
  });

  test('without Object Lock: no configuration to read, none to set on an unversioned bucket, and no retention on its objects', async () => {
    const bucket = await ctx.newBucket('plain');
    assert.equal((await s3Error(ctx.s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket })))).name, 'ObjectLockConfigurationNotFoundError');
    const set = await s3Error(ctx.s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } })));
    assert.deepEqual([set.name, set.$metadata.httpStatusCode], ['InvalidBucketState', 409]);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    assert.equal((await s3Error(ctx.s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } })))).name, 'InvalidRequest');
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k2', Body: 'x', ObjectLockLegalHoldStatus: 'ON' })))).name, 'InvalidRequest');
    // Turned on once versioning is enabled, as S3 allows for existing buckets.
    await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await ctx.s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
    assert.deepEqual((await ctx.s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
  });
});

describe('retention and legal hold', () => {
  before(issueTokens);
  test('a version under retention or legal hold cannot be deleted by anyone without the bypass; a delete marker still can be added', async () => {
    const bucket = await lockedBucket('protect');
    const v1 = (await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'keep me', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(3) }))).VersionId!;
    const denied = await s3Error(ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1 })));
    assert.deepEqual([denied.name, denied.$metadata.httpStatusCode], ['AccessDenied', 403]);
    const bypassing = await s3Error(ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1, BypassGovernanceRetention: true })));
    assert.equal(bypassing.name, 'AccessDenied', 'COMPLIANCE gives way to no one');
    const batch = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'k', VersionId: v1 }] } }));
    assert.deepEqual(batch.Errors?.map((e) => e.Code), ['AccessDenied']);
    // A delete without a version ID removes nothing: it only hides the key.
    const marker = await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(marker.DeleteMarker, true);
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }));
    assert.equal(head.ObjectLockMode, 'COMPLIANCE');

    const v2 = (await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'held', Body: 'x', ObjectLockLegalHoldStatus: 'ON' }))).VersionId!;
    assert.equal((await s3Error(ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'held', VersionId: v2, BypassGovernanceRetention: true })))).name, 'AccessDenied');
    assert.deepEqual((await ctx.s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'held' }))).LegalHold, { Status: 'ON' });
    await ctx.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'held', LegalHold: { Status: 'OFF' } }));
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'held', VersionId: v2 }));
  });

  test('a legal hold never placed is NoSuchObjectLockConfiguration and no header; once placed, ON or OFF is reported', async () => {
    const bucket = await lockedBucket('holdstate');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'never', Body: 'x' }));
    const none = await s3Error(ctx.s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'never' })));
    assert.deepEqual([none.name, none.$metadata.httpStatusCode], ['NoSuchObjectLockConfiguration', 404]);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'never' }))).ObjectLockLegalHoldStatus, undefined);
    await ctx.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'never', LegalHold: { Status: 'ON' } }));
    await ctx.s3.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: 'never', LegalHold: { Status: 'OFF' } }));
    assert.deepEqual((await ctx.s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'never' }))).LegalHold, { Status: 'OFF' });
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'never' }))).ObjectLockLegalHoldStatus, 'OFF');
    // Asked for OFF at the write: a hold was placed (off), as S3 keeps it.
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'off', Body: 'x', ObjectLockLegalHoldStatus: 'OFF' }));
    assert.equal((await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'off' }))).ObjectLockLegalHoldStatus, 'OFF');
    assert.deepEqual((await ctx.s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: 'off' }))).LegalHold, { Status: 'OFF' });
    // The REST API's versions view says whether a hold is on.
    const p = ctx.server.bootstrap.projectId;
    const versions = await call(ctx.server, 'GET', `/projects/${p}/buckets/${bucket}/objects/versions?key=never`, { as: rootBearer(ctx.server) });
    assert.deepEqual(versions.body.items.map((v: { legalHold: boolean }) => v.legalHold), [false]);
  });

  test('COMPLIANCE can be extended, never shortened, relaxed or removed', async () => {
    const bucket = await lockedBucket('compliance');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const first = inDays(2);
    await ctx.s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: first } }));
    const later = inDays(4);
    await ctx.s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }));
    for (const retention of [{ Mode: 'COMPLIANCE' as const, RetainUntilDate: first }, { Mode: 'GOVERNANCE' as const, RetainUntilDate: inDays(10) }]) {
      const err = await s3Error(ctx.s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: retention, BypassGovernanceRetention: true })));
      assert.equal(err.name, 'AccessDenied', JSON.stringify(retention));
    }
    const got = await ctx.s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }));
    assert.deepEqual(got.Retention, { Mode: 'COMPLIANCE', RetainUntilDate: later });
    assert.equal((await s3Error(ctx.s3.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() - DAY) } })))).name, 'InvalidArgument');
  });

  test('GOVERNANCE: shortening or deleting through it takes the bypass header and an admin-rw token; object-rw is refused even with the header', async () => {
    const bucket = await lockedBucket('governance');
    const admin = tokens['admin-rw'].s3;
    const writer = tokens['object-rw'].s3;
    const v1 = (await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(5) }))).VersionId!;
    // Extending needs no bypass, for whoever may write.
    await writer.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(6) } }));
    // Shortening: refused without the header, and for object-rw with it.
    assert.equal((await s3Error(admin.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } })))).name, 'AccessDenied');
    const rwBypass = await s3Error(writer.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) }, BypassGovernanceRetention: true })));
    assert.equal(rwBypass.name, 'AccessDenied');
    assert.equal((await s3Error(writer.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1, BypassGovernanceRetention: true })))).name, 'AccessDenied');
    assert.equal((await s3Error(admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1 })))).name, 'AccessDenied', 'no header, no bypass');
    // Turning GOVERNANCE into COMPLIANCE (same or later date) would take the bypass away for good: it needs the bypass itself.
    for (const as of [writer, admin]) {
      const hardened = await s3Error(as.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(7) } })));
      assert.equal(hardened.name, 'AccessDenied');
    }
    assert.equal((await admin.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }))).Retention!.Mode, 'GOVERNANCE');
    // admin-rw with the header may.
    await admin.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) }, BypassGovernanceRetention: true }));
    assert.ok(Math.abs((await admin.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'k' }))).Retention!.RetainUntilDate!.getTime() - inDays(1).getTime()) < 2000);
    await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1, BypassGovernanceRetention: true }));
    assert.deepEqual((await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? [], []);
    // Both bypasses are in the audit log.
    const audit = await call(ctx.server, 'GET', `/projects/${ctx.server.bootstrap.projectId}/audit?limit=50`, { as: rootBearer(ctx.server) });
    const bypassed = audit.body.items.filter((e: { action: string; bucket: string }) => e.action === 'object.governance-bypassed' && e.bucket === bucket);
    assert.equal(bypassed.length, 2, JSON.stringify(bypassed));
    assert.ok(bypassed.every((e: { actor: string }) => e.actor === `token:${tokens['admin-rw'].token.id}`));
  });

  test('a retain-until date is an RFC 3339 timestamp with a four-digit year and a zone; anything looser is refused', async () => {
    const bucket = await lockedBucket('dates');
    for (const until of ['+100000-01-01T00:00:00Z', '2099', '2099-01-01T00:00:00', 'Tue, 01 Jan 2099 00:00:00 GMT']) {
      const put = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, headers: { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': until }, body: 'x' });
      assert.equal(put.status, 400, until);
      assert.equal(xmlField(put.text, 'Code'), 'InvalidArgument', until);
      const retention = await raw(ctx.server, {
        method: 'PUT',
        path: `/${bucket}/k`,
        query: { retention: '' },
        body: `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>${until}</RetainUntilDate></Retention>`,
      });
      assert.equal(xmlField(retention.text, 'Code'), 'MalformedXML', until);
    }
    assert.deepEqual((await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? [], [], 'nothing was written');
    const ok = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': '2099-01-01T00:00:00+01:00' }, body: 'x' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).ObjectLockRetainUntilDate?.toISOString(), '2098-12-31T23:00:00.000Z');
  });

  test('a retention that has passed no longer protects', async () => {
    const bucket = await lockedBucket('expired');
    const v1 = (await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(1) }))).VersionId!;
    assert.equal((await s3Error(ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1 })))).name, 'AccessDenied');
    ctx.server.shiftClock(2 * DAY);
    try {
      await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: v1 }));
    } finally {
      ctx.server.shiftClock(-2 * DAY);
    }
  });
});

describe('a bucket holding locked versions', () => {
  before(issueTokens);
  test('cannot be deleted: not through S3, not through the REST API, not with force; the locked version and its bytes survive', async () => {
    const bucket = await lockedBucket('bucket');
    const v1 = (await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'locked', Body: 'precious', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(3) }))).VersionId!;
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'free', Body: 'free' }));
    assert.equal((await s3Error(ctx.s3.send(new DeleteBucketCommand({ Bucket: bucket })))).name, 'BucketNotEmpty');
    const p = ctx.server.bootstrap.projectId;
    const root = rootBearer(ctx.server);
    const forced = await call(ctx.server, 'DELETE', `/projects/${p}/buckets/${bucket}?force=true`, { as: root });
    assert.equal(forced.status, 409, forced.text);
    assert.match(forced.body.detail, /Object Lock/);
    // force refused before it removed anything: removing the rest would leave a bucket that stays,
    // its newest versions gone and older ones current again.
    const left = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.deepEqual(left.Versions?.map((v) => v.Key), ['free', 'locked']);
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'free', VersionId: left.Versions![0].VersionId }));
    const version = await call(ctx.server, 'DELETE', `/projects/${p}/buckets/${bucket}/objects?key=locked&versionId=${v1}`, { as: root });
    assert.equal(version.status, 403, version.text);
    // The REST API's bypass is admin-rw's too; object-rw is refused.
    const rw = await call(ctx.server, 'DELETE', `/projects/${p}/buckets/${bucket}/objects?key=locked&versionId=${v1}&bypassGovernanceRetention=true`, { as: { bearer: tokens['object-rw'].credentials.bearerToken } });
    assert.equal(rw.status, 403, rw.text);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'locked', VersionId: v1 }))).ContentLength, 8);
    const admin = await call(ctx.server, 'DELETE', `/projects/${p}/buckets/${bucket}/objects?key=locked&versionId=${v1}&bypassGovernanceRetention=true`, { as: { bearer: tokens['admin-rw'].credentials.bearerToken } });
    assert.equal(admin.status, 204, admin.text);
    assert.equal((await call(ctx.server, 'DELETE', `/projects/${p}/buckets/${bucket}?force=true`, { as: root })).status, 204);
  });

  test('the REST API sets legal holds and retention with the same rules', async () => {
    const bucket = await lockedBucket('api');
    const v1 = (await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }))).VersionId!;
    const p = ctx.server.bootstrap.projectId;
    const base = `/projects/${p}/buckets/${bucket}/objects`;
    const as = { bearer: tokens['object-rw'].credentials.bearerToken };
    assert.equal((await call(ctx.server, 'PUT', `${base}/legal-hold`, { as, json: { key: 'k', on: true } })).status, 204);
    const until = inDays(2).toISOString();
    assert.equal((await call(ctx.server, 'PUT', `${base}/retention`, { as, json: { key: 'k', versionId: v1, retention: { mode: 'GOVERNANCE', until } } })).status, 204);
    const versions = await call(ctx.server, 'GET', `${base}/versions?key=k`, { as });
    assert.deepEqual([versions.body.items[0].legalHold, versions.body.items[0].retention], [true, { mode: 'GOVERNANCE', until }]);
    // RFC 3339 with an offset (format: date-time) is the same instant, kept in UTC.
    const later = inDays(3);
    const offset = new Date(later.getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    assert.equal((await call(ctx.server, 'PUT', `${base}/retention`, { as, json: { key: 'k', versionId: v1, retention: { mode: 'GOVERNANCE', until: offset } } })).status, 204);
    const extended = await call(ctx.server, 'GET', `${base}/versions?key=k`, { as });
    assert.deepEqual(extended.body.items[0].retention, { mode: 'GOVERNANCE', until: later.toISOString() });
    const weaken = await call(ctx.server, 'PUT', `${base}/retention`, { as, json: { key: 'k', retention: null, bypassGovernanceRetention: true } });
    assert.equal(weaken.status, 403, 'object-rw may not bypass');
    const admin = { bearer: tokens['admin-rw'].credentials.bearerToken };
    assert.equal((await call(ctx.server, 'PUT', `${base}/retention`, { as: admin, json: { key: 'k', retention: null } })).status, 403, 'no bypass asked');
    assert.equal((await call(ctx.server, 'PUT', `${base}/retention`, { as: admin, json: { key: 'k', retention: null, bypassGovernanceRetention: true } })).status, 204);
    assert.equal((await call(ctx.server, 'DELETE', `${base}?key=k&versionId=${v1}`, { as: admin })).status, 403, 'the legal hold still holds');
    assert.equal((await call(ctx.server, 'PUT', `${base}/legal-hold`, { as, json: { key: 'k', on: false } })).status, 204);
    assert.equal((await call(ctx.server, 'DELETE', `${base}?key=k&versionId=${v1}`, { as })).status, 204);
  });
});
