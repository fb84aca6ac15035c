// The contract every MetadataStore passes (SQLite and PostgreSQL). Call it from a
// *.test.ts with a factory that opens a fresh, empty store each time. The row builders are
// exported for an implementation's own tests.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type {
  BlobPart,
  BucketRow,
  MetadataStore,
  ObjectRow,
  PartRow,
  ProjectRow,
  UploadRow,
  TokenRow,
  AuditRow,
  UsageIncrement,
  UserRow,
  TemporaryCredentialRow,
  VersioningMode,
} from './metadata-store.js';
import { versionsContract } from './versions-contract.js';
import { delimitedListingContract } from './delimited-contract.js';

export const hex = (n: number) => randomBytes(n).toString('hex');
export const newBlob = (size = 100): BlobPart => ({ ref: hex(16), size });
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function projectRow(name = 'p'): ProjectRow {
  return { id: `prj_${hex(6)}`, name, createdAt: new Date(1_700_000_000_000), maxTokenDays: null };
}

export function bucketRow(projectId: string, name: string): BucketRow {
  return { id: `bkt_${hex(6)}`, projectId, name, region: 'us-east-1', createdAt: new Date(1_700_000_001_000) };
}

export function objectRow(bucketId: string, key: string, over: Partial<ObjectRow> = {}): ObjectRow {
  const blobs = over.blobs ?? [newBlob()];
  return {
    bucketId,
    key,
    size: blobs.reduce((n, b) => n + b.size, 0),
    etag: `"${hex(16)}"`,
    lastModified: new Date(1_700_000_002_000),
    headers: { 'content-type': 'text/plain' },
    userMetadata: {},
    checksum: null,
    blobs,
    partsCount: null,
    tags: {},
    storageClass: 'STANDARD',
    versionId: 'null',
    encryption: null,
    retention: null,
    legalHold: false,
    acl: null,
    ...over,
  };
}

export function uploadRow(bucketId: string, key: string, over: Partial<UploadRow> = {}): UploadRow {
  return {
    uploadId: `up_${hex(8)}`,
    bucketId,
    key,
    initiated: new Date(1_700_000_003_000),
    headers: {},
    userMetadata: {},
    tags: {},
    storageClass: 'STANDARD',
    checksumAlgorithm: null,
    checksumType: null,
    encryption: null,
    objectLock: null,
    acl: null,
    ...over,
  };
}

export function partRow(uploadId: string, partNumber: number, blob = newBlob()): PartRow {
  return {
    uploadId,
    partNumber,
    size: blob.size,
    etag: `"${hex(16)}"`,
    lastModified: new Date(1_700_000_004_000),
    blob,
    checksum: null,
  };
}

function tokenRow(projectId: string, over: Partial<TokenRow> = {}): TokenRow {
  return {
    id: `tok_${hex(6)}`,
    projectId,
    name: 'ci',
    description: '',
    permission: 'object-rw',
    bucketScope: ['a', 'b'],
    billing: false,
    createdAt: new Date(1_700_000_000_000),
    createdBy: 'cli',
    expiresAt: new Date(1_800_000_000_000),
    lastUsedAt: null,
    disabledAt: null,
    revokedAt: null,
    accessKeyId: 'SK' + hex(9).toUpperCase(),
    secretCiphertext: 'v1:abc',
    bearerPrefix: hex(6),
    bearerHash: hex(32),
    previousSecretCiphertext: null,
    previousBearerPrefix: null,
    previousBearerHash: null,
    rotationDeadline: null,
    allowedNetworks: null,
    rateLimit: null,
    ...over,
  };
}

function temporaryRow(token: TokenRow, over: Partial<TemporaryCredentialRow> = {}): TemporaryCredentialRow {
  return {
    id: `tmp_${hex(6)}`,
    tokenId: token.id,
    projectId: token.projectId,
    name: 'ci-job',
    accessKeyId: 'ST' + hex(9).toUpperCase(),
    secretCiphertext: 'v1:tmp',
    sessionTokenHash: hex(32),
    permission: 'object-ro',
    bucketScope: ['a/logs/'],
    createdAt: new Date(1_700_000_010_000),
    createdBy: 'token:x',
    expiresAt: new Date(1_700_003_610_000),
    revokedAt: null,
    ...over,
  };
}

const NO_VERSIONS = { noncurrentVersions: 0, noncurrentBytes: 0, deleteMarkers: 0 };
export const refs = (blobs: BlobPart[] | null | undefined) => (blobs ?? []).map((b) => b.ref).sort();

/** Keys whose UTF-8 byte order differs from JavaScript's UTF-16 order, plus edge code points. */
const TRICKY_KEYS = [
  'a',
  'a b',
  'a/',
  'a/b',
  'a0',
  'ab',
  'A',
  'b',
  'a\u007f',
  'a\u0080',
  'a\u00e9',
  'a\ud7ff',
  'a\ud7ffq',
  'a\ue000',
  'a\ufffd',
  'a\uffff',
  'a\uffffz',
  'a\uffff\u{10000}',
  'a\u{10000}',
  'a\u{1f600}',
  'a\u{1f600}/x',
  'a\u{10ffff}',
  'a\u{10ffff}x',
  'a\u{10ffff}\u{10ffff}',
  '\u{10ffff}',
  '\u{10ffff}\u{10ffff}',
];

export function metadataStoreContract(name: string, open: () => Promise<MetadataStore>, opts: { blobLedger?: boolean } = {}): void {
  /** Tests of what the write methods do to the ledger: skipped for a store opened without it. */
  const ledgerOnly = opts.blobLedger === false ? { skip: 'opened without the blob ledger' } : {};
  async function withStore(fn: (s: MetadataStore) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  }

  /** A store with one project and one bucket in it. */
  async function withBucket(fn: (s: MetadataStore, bucket: BucketRow) => Promise<void>): Promise<void> {
    await withStore(async (s) => {
      const p = projectRow();
      await s.createProject(p);
      const b = bucketRow(p.id, 'bucket');
      assert.equal(await s.createBucket(b), 'created');
      await fn(s, b);
    });
  }

  describe(`MetadataStore contract: ${name}`, () => {
    versionsContract(open);
    delimitedListingContract((fn) => withBucket((s, b) => fn(s, b.id)));

    describe('projects', () => {
      test('create, get and list', () =>
        withStore(async (s) => {
          const a = projectRow('alpha');
          const b = { ...projectRow('beta'), createdAt: new Date(1_800_000_000_000) };
          await s.createProject(a);
          await s.createProject(b);
          assert.deepEqual(await s.getProject(a.id), a);
          assert.equal(await s.getProject('prj_missing'), null);
          assert.deepEqual(await s.listProjects(), [a, b]);
        }));

      test('a duplicate project id is rejected', () =>
        withStore(async (s) => {
          const a = projectRow();
          await s.createProject(a);
          await assert.rejects(s.createProject({ ...a, name: 'other' }));
          assert.equal((await s.getProject(a.id))?.name, a.name);
        }));
    });

    describe('buckets', () => {
      test('names are unique within a project, not across projects', () =>
        withStore(async (s) => {
          const p1 = projectRow();
          const p2 = projectRow();
          await s.createProject(p1);
          await s.createProject(p2);
          const first = bucketRow(p1.id, 'photos');
          assert.equal(await s.createBucket(first), 'created');
          assert.equal(await s.createBucket(bucketRow(p1.id, 'photos')), 'exists');
          assert.equal((await s.getBucket(p1.id, 'photos'))?.id, first.id, 'the first bucket is kept');
          const other = bucketRow(p2.id, 'photos');
          assert.equal(await s.createBucket(other), 'created');
          assert.deepEqual(await s.getBucket(p2.id, 'photos'), other);
          assert.equal(await s.getBucket(p1.id, 'nope'), null);
        }));

      test('listBuckets is scoped to the project and sorted by name', () =>
        withStore(async (s) => {
          const p1 = projectRow();
          const p2 = projectRow();
          await s.createProject(p1);
          await s.createProject(p2);
          for (const n of ['zeta', 'alpha', 'mid']) await s.createBucket(bucketRow(p1.id, n));
          await s.createBucket(bucketRow(p2.id, 'elsewhere'));
          assert.deepEqual(
            (await s.listBuckets(p1.id)).map((b) => b.name),
            ['alpha', 'mid', 'zeta'],
          );
          assert.deepEqual(
            (await s.listBuckets(p2.id)).map((b) => b.name),
            ['elsewhere'],
          );
        }));

      test('deleteBucket deletes an empty bucket', () =>
        withBucket(async (s, b) => {
          assert.equal(await s.deleteBucket(b.id), 'deleted');
          assert.equal(await s.getBucket(b.projectId, b.name), null);
          assert.deepEqual(await s.listBuckets(b.projectId), []);
        }));

      test('deleteBucket of a bucket another delete took is gone, not deleted again', () =>
        withBucket(async (s, b) => {
          assert.equal(await s.deleteBucket(b.id), 'deleted');
          assert.equal(await s.deleteBucket(b.id), 'gone');
        }));

      test('deleteBucket refuses while an object is in it', () =>
        withBucket(async (s, b) => {
          await s.putObject(objectRow(b.id, 'k'), { kind: 'none' });
          assert.equal(await s.deleteBucket(b.id), 'not-empty');
          assert.ok(await s.getBucket(b.projectId, b.name));
          await s.deleteObject(b.id, 'k');
          assert.equal(await s.deleteBucket(b.id), 'deleted');
          assert.equal(await s.getBucket(b.projectId, b.name), null);
        }));

      test('deleteBucket refuses while a multipart upload is in it', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          assert.equal(await s.deleteBucket(b.id), 'not-empty');
          assert.ok(await s.getBucket(b.projectId, b.name));
          await s.abortUpload(u.uploadId);
          assert.equal(await s.deleteBucket(b.id), 'deleted');
        }));

      test('deleteBucket takes the completed uploads with it, and keeps them when it refuses', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const p1 = partRow(u.uploadId, 1);
          await s.putPart(p1);
          assert.ok((await s.completeUpload(u.uploadId, objectRow(b.id, 'k', { blobs: [p1.blob] }), { kind: 'none' }, 'unversioned', undefined, [p1])).ok);
          assert.equal(await s.deleteBucket(b.id), 'not-empty');
          assert.ok((await s.getUpload(u.uploadId))?.completion, 'kept while the bucket stays');
          await s.deleteObject(b.id, 'k');
          assert.equal(await s.deleteBucket(b.id), 'deleted');
          assert.equal(await s.getUpload(u.uploadId), null);
        }));
    });

    describe('bucket settings', () => {
      test('put, replace, read back all, remove one', () =>
        withBucket(async (s, b) => {
          assert.deepEqual(await s.getBucketSettings(b.id), {});
          assert.equal(await s.putBucketSetting(b.id, 'cors', '{"rules":[1]}', new Date(1)), true);
          assert.equal(await s.putBucketSetting(b.id, 'policy', '{"v":1}', new Date(2)), true);
          assert.equal(await s.putBucketSetting(b.id, 'cors', '{"rules":[2]}', new Date(3)), true);
          assert.deepEqual(await s.getBucketSettings(b.id), { cors: '{"rules":[2]}', policy: '{"v":1}' });
          assert.equal(await s.putBucketSetting(b.id, 'cors', null, new Date(4)), true);
          assert.deepEqual(await s.getBucketSettings(b.id), { policy: '{"v":1}' });
        }));

      test('getBucketWithSettings reads the bucket and all its settings at once', () =>
        withBucket(async (s, b) => {
          assert.deepEqual(await s.getBucketWithSettings(b.projectId, b.name), { bucket: b, settings: {}, projectQuota: null });
          await s.putBucketSetting(b.id, 'policy', '"p"', new Date(1));
          await s.putBucketSetting(b.id, 'acl', '"public-read"', new Date(1));
          assert.deepEqual(await s.getBucketWithSettings(b.projectId, b.name), { bucket: b, settings: { policy: '"p"', acl: '"public-read"' }, projectQuota: null });
          assert.equal(await s.getBucketWithSettings(b.projectId, 'no-such-bucket'), null);
          assert.equal(await s.getBucketWithSettings('another-project', b.name), null);
        }));

      test('settings belong to one bucket and go with it', () =>
        withBucket(async (s, b) => {
          const other = bucketRow(b.projectId, 'other');
          await s.createBucket(other);
          await s.putBucketSetting(b.id, 'versioning', '"Enabled"', new Date(1));
          assert.deepEqual(await s.getBucketSettings(other.id), {});
          assert.equal(await s.deleteBucket(b.id), 'deleted');
          assert.deepEqual(await s.getBucketSettings(b.id), {});
          assert.equal(await s.putBucketSetting(b.id, 'versioning', '"Enabled"', new Date(2)), false, 'no setting for a deleted bucket');
          assert.equal(await s.putBucketSetting(b.id, 'versioning', null, new Date(2)), false);
          assert.deepEqual(await s.getBucketSettings(b.id), {});
        }));
    });

    describe('objects', () => {
      test('put then get returns every field', () =>
        withBucket(async (s, b) => {
          const row = objectRow(b.id, 'dir/\u00e9t\u00e9 \u{1f600}.txt', {
            size: 5 * 1024 ** 4, // 5 TiB still round-trips exactly
            blobs: [newBlob(5 * 1024 ** 4 - 7), newBlob(7)],
            headers: { 'content-type': 'image/png', 'cache-control': 'no-cache', expires: 'Thu, 01 Dec 1994 16:00:00 GMT' },
            userMetadata: { owner: 'ana', 'x-note': 'h\u00e9' },
            checksum: { algorithm: 'CRC32C', type: 'COMPOSITE', value: 'AAAAAA==-2' },
            partsCount: 2,
            tags: { env: 'prod' },
            storageClass: 'STANDARD_IA',
            lastModified: new Date(1_712_345_678_901),
          });
          assert.deepEqual(await s.putObject(row, { kind: 'none' }), { ok: true, replaced: [] });
          assert.deepEqual(await s.getObject(b.id, row.key), row);
        }));

      test('get is scoped to the bucket and misses return null', () =>
        withBucket(async (s, b) => {
          const other = bucketRow(b.projectId, 'other');
          await s.createBucket(other);
          await s.putObject(objectRow(b.id, 'k'), { kind: 'none' });
          assert.equal(await s.getObject(other.id, 'k'), null);
          assert.equal(await s.getObject(b.id, 'K'), null);
          assert.ok(await s.getObject(b.id, 'k'));
        }));

      test('replacing returns the old blobs and keeps only the new row', () =>
        withBucket(async (s, b) => {
          const v1 = objectRow(b.id, 'k', { blobs: [newBlob(), newBlob()] });
          const v2 = objectRow(b.id, 'k', { userMetadata: { v: '2' } });
          await s.putObject(v1, { kind: 'none' });
          const out = await s.putObject(v2, { kind: 'none' });
          assert.ok(out.ok);
          assert.deepEqual(refs(out.replaced), refs(v1.blobs));
          assert.deepEqual(await s.getObject(b.id, 'k'), v2);
          assert.deepEqual(await s.bucketStats(b.id), { objects: 1, bytes: v2.size, ...NO_VERSIONS });
        }));

      test('a blob kept by the new row is not returned as replaced', () =>
        withBucket(async (s, b) => {
          const shared = newBlob();
          const dropped = newBlob();
          await s.putObject(objectRow(b.id, 'k', { blobs: [shared, dropped] }), { kind: 'none' });
          const out = await s.putObject(objectRow(b.id, 'k', { blobs: [shared] }), { kind: 'none' });
          assert.ok(out.ok);
          assert.deepEqual(refs(out.replaced), [dropped.ref]);
        }));

      test('ifNoneMatch creates once, then reports exists and changes nothing', () =>
        withBucket(async (s, b) => {
          const first = objectRow(b.id, 'k');
          assert.deepEqual(await s.putObject(first, { kind: 'ifNoneMatch' }), { ok: true, replaced: [] });
          const second = objectRow(b.id, 'k');
          assert.deepEqual(await s.putObject(second, { kind: 'ifNoneMatch' }), { ok: false, reason: 'exists' });
          assert.deepEqual(await s.getObject(b.id, 'k'), first);
        }));

      test('concurrent ifNoneMatch creates: exactly one succeeds', () =>
        withBucket(async (s, b) => {
          const rows = Array.from({ length: 8 }, () => objectRow(b.id, 'race'));
          const outs = await Promise.all(rows.map((r) => s.putObject(r, { kind: 'ifNoneMatch' })));
          const winners = outs.flatMap((o, i) => (o.ok ? [i] : []));
          assert.equal(winners.length, 1);
          for (const o of outs) if (!o.ok) assert.equal(o.reason, 'exists');
          assert.deepEqual(await s.getObject(b.id, 'race'), rows[winners[0]]);
        }));

      test('ifMatch: missing, mismatch, match and "*"', () =>
        withBucket(async (s, b) => {
          const v1 = objectRow(b.id, 'k');
          assert.deepEqual(await s.putObject(v1, { kind: 'ifMatch', etag: v1.etag }), { ok: false, reason: 'missing' });
          assert.equal(await s.getObject(b.id, 'k'), null);
          await s.putObject(v1, { kind: 'none' });

          const v2 = objectRow(b.id, 'k');
          assert.deepEqual(await s.putObject(v2, { kind: 'ifMatch', etag: '"0000"' }), {
            ok: false,
            reason: 'etag-mismatch',
          });
          assert.deepEqual(await s.getObject(b.id, 'k'), v1);

          const out = await s.putObject(v2, { kind: 'ifMatch', etag: v1.etag });
          assert.deepEqual(out, { ok: true, replaced: v1.blobs });
          assert.deepEqual(await s.getObject(b.id, 'k'), v2);

          // The same ETag without quotes matches too.
          const v3 = objectRow(b.id, 'k');
          assert.ok((await s.putObject(v3, { kind: 'ifMatch', etag: v2.etag.slice(1, -1) })).ok);
          const v4 = objectRow(b.id, 'k');
          assert.ok((await s.putObject(v4, { kind: 'ifMatch', etag: '*' })).ok);
          assert.deepEqual(await s.getObject(b.id, 'k'), v4);
        }));

      test('concurrent ifMatch replaces of one version: exactly one succeeds', () =>
        withBucket(async (s, b) => {
          const v1 = objectRow(b.id, 'k');
          await s.putObject(v1, { kind: 'none' });
          const rows = Array.from({ length: 6 }, () => objectRow(b.id, 'k'));
          const outs = await Promise.all(rows.map((r) => s.putObject(r, { kind: 'ifMatch', etag: v1.etag })));
          assert.equal(outs.filter((o) => o.ok).length, 1);
          for (const o of outs) if (!o.ok) assert.equal(o.reason, 'etag-mismatch');
          const released = outs.flatMap((o) => (o.ok ? o.replaced : []));
          assert.deepEqual(refs(released), refs(v1.blobs), 'the old blobs are released exactly once');
        }));

      test('concurrent unconditional puts of one key: all succeed, one wins, every other blob is released exactly once', () =>
        withBucket(async (s, b) => {
          const rows = Array.from({ length: 12 }, () => objectRow(b.id, 'k'));
          const outs = await Promise.all(rows.map((r) => s.putObject(r, { kind: 'none' })));
          assert.ok(outs.every((o) => o.ok));
          const final = await s.getObject(b.id, 'k');
          assert.ok(final && rows.some((r) => r.etag === final.etag), 'the stored row is one of the puts, whole');
          const released = outs.flatMap((o) => (o.ok ? o.replaced : []));
          const losers = rows.filter((r) => r.etag !== final!.etag).flatMap((r) => r.blobs);
          assert.deepEqual(refs(released), refs(losers), 'no blob released twice, none leaked, the winner kept');
        }));

      test('deleteObject returns the blobs once', () =>
        withBucket(async (s, b) => {
          const row = objectRow(b.id, 'k', { blobs: [newBlob(), newBlob()] });
          await s.putObject(row, { kind: 'none' });
          assert.deepEqual(await s.deleteObject(b.id, 'k'), row.blobs);
          assert.equal(await s.getObject(b.id, 'k'), null);
          assert.equal(await s.deleteObject(b.id, 'k'), null);
        }));

      test('setObjectTags replaces the tag set', () =>
        withBucket(async (s, b) => {
          await s.putObject(objectRow(b.id, 'k', { tags: { a: '1' } }), { kind: 'none' });
          assert.equal(await s.setObjectTags(b.id, 'k', { b: '2', c: '' }), 'null');
          assert.deepEqual((await s.getObject(b.id, 'k'))?.tags, { b: '2', c: '' });
          assert.equal(await s.setObjectTags(b.id, 'k', {}), 'null');
          assert.deepEqual((await s.getObject(b.id, 'k'))?.tags, {});
          assert.equal(await s.setObjectTags(b.id, 'missing', { a: '1' }), null);
          assert.equal(await s.getObject(b.id, 'missing'), null);
        }));

      test('an object carries its canned ACL; getObjectAcl / setObjectAcl read and change it alone', () =>
        withBucket(async (s, b) => {
          await s.putObject(objectRow(b.id, 'k', { acl: 'public-read' }), { kind: 'none' });
          assert.equal((await s.getObject(b.id, 'k'))?.acl, 'public-read');
          assert.equal(await s.getObjectAcl(b.id, 'k'), 'public-read');
          assert.equal(await s.setObjectAcl(b.id, 'k', null), true);
          assert.equal(await s.getObjectAcl(b.id, 'k'), null);
          assert.equal(await s.getObjectAcl(b.id, 'missing'), undefined);
          assert.equal(await s.setObjectAcl(b.id, 'missing', 'public-read'), false);
          // An overwrite is a new object: its ACL is the one it was written with.
          await s.putObject(objectRow(b.id, 'k', { acl: 'public-read' }), { kind: 'none' });
          await s.putObject(objectRow(b.id, 'k'), { kind: 'none' });
          assert.equal(await s.getObjectAcl(b.id, 'k'), null);
          const u = uploadRow(b.id, 'm', { acl: 'public-read' });
          await s.createUpload(u);
          assert.equal((await s.getUpload(u.uploadId))?.acl, 'public-read');
        }));

      test('bucketStats counts objects and bytes of one bucket', () =>
        withBucket(async (s, b) => {
          assert.deepEqual(await s.bucketStats(b.id), { objects: 0, bytes: 0, ...NO_VERSIONS });
          const other = bucketRow(b.projectId, 'other');
          await s.createBucket(other);
          await s.putObject(objectRow(b.id, 'a', { blobs: [newBlob(10)] }), { kind: 'none' });
          await s.putObject(objectRow(b.id, 'b', { blobs: [newBlob(5 * 1024 ** 4)] }), { kind: 'none' });
          await s.putObject(objectRow(other.id, 'c', { blobs: [newBlob(1000)] }), { kind: 'none' });
          assert.deepEqual(await s.bucketStats(b.id), { objects: 2, bytes: 10 + 5 * 1024 ** 4, ...NO_VERSIONS });
          await s.deleteObject(b.id, 'a');
          assert.deepEqual(await s.bucketStats(b.id), { objects: 1, bytes: 5 * 1024 ** 4, ...NO_VERSIONS });
          assert.deepEqual(await s.bucketStats(other.id), { objects: 1, bytes: 1000, ...NO_VERSIONS });
        }));
    });

    describe('listObjects', () => {
      const sortedKeys = [...TRICKY_KEYS].sort(byBytes);

      async function withKeys(fn: (s: MetadataStore, b: BucketRow) => Promise<void>): Promise<void> {
        await withBucket(async (s, b) => {
          // Insert in a shuffled order so the store, not insertion, decides the order.
          for (const k of [...TRICKY_KEYS].reverse()) await s.putObject(objectRow(b.id, k), { kind: 'none' });
          // A neighbour bucket whose keys must never show up.
          const other = bucketRow(b.projectId, 'neighbour');
          await s.createBucket(other);
          for (const k of ['a', 'a0', 'zz']) await s.putObject(objectRow(other.id, k), { kind: 'none' });
          await fn(s, b);
        });
      }
      const keysOf = (rows: Array<{ key: string }>) => rows.map((r) => r.key);

      test('orders keys by UTF-8 bytes, not UTF-16 code units', () =>
        withKeys(async (s, b) => {
          // Guard: this key set really does sort differently in UTF-16.
          assert.notDeepEqual(sortedKeys, [...TRICKY_KEYS].sort());
          assert.deepEqual(keysOf(await s.listObjects(b.id, { prefix: '', limit: 1000 })), sortedKeys);
        }));

      test('summaries carry size, etag, date, class and checksum', () =>
        withBucket(async (s, b) => {
          const row = objectRow(b.id, 'k', {
            checksum: { algorithm: 'SHA256', type: 'FULL_OBJECT', value: 'abc=' },
            storageClass: 'GLACIER',
          });
          await s.putObject(row, { kind: 'none' });
          assert.deepEqual(await s.listObjects(b.id, { prefix: '', limit: 10 }), [
            {
              key: row.key,
              size: row.size,
              etag: row.etag,
              lastModified: row.lastModified,
              storageClass: 'GLACIER',
              checksum: { algorithm: 'SHA256', type: 'FULL_OBJECT' },
            },
          ]);
        }));

      test('prefix selects exactly the keys that start with it', () =>
        withKeys(async (s, b) => {
          const prefixes = ['a', 'a/', 'a\ud7ff', 'a\uffff', 'a\u{1f600}', 'a\u{10ffff}', '\u{10ffff}', 'A', 'zz', 'a\u00e9'];
          for (const prefix of prefixes) {
            const want = sortedKeys.filter((k) => k.startsWith(prefix));
            const got = keysOf(await s.listObjects(b.id, { prefix, limit: 1000 }));
            assert.deepEqual(got, want, `prefix ${JSON.stringify(prefix)}`);
          }
        }));

      test('after is exclusive, from is inclusive, the tighter one wins', () =>
        withKeys(async (s, b) => {
          const list = (q: { prefix?: string; after?: string; from?: string }) =>
            s.listObjects(b.id, { prefix: q.prefix ?? '', after: q.after, from: q.from, limit: 1000 }).then(keysOf);
          const idx = (k: string) => sortedKeys.indexOf(k);
          assert.deepEqual(await list({ after: 'a\ufffd' }), sortedKeys.slice(idx('a\ufffd') + 1));
          assert.deepEqual(await list({ from: 'a\ufffd' }), sortedKeys.slice(idx('a\ufffd')));
          // after greater than from: after wins, and the other way round.
          assert.deepEqual(await list({ from: 'a', after: 'a\u{1f600}' }), sortedKeys.slice(idx('a\u{1f600}') + 1));
          assert.deepEqual(await list({ from: 'a\u{1f600}', after: 'a' }), sortedKeys.slice(idx('a\u{1f600}')));
          // equal: exclusive wins
          assert.deepEqual(await list({ from: 'ab', after: 'ab' }), sortedKeys.slice(idx('ab') + 1));
          // a marker before the prefix does not widen it; one after it narrows it.
          assert.deepEqual(
            await list({ prefix: 'a\uffff', after: 'a' }),
            sortedKeys.filter((k) => k.startsWith('a\uffff')),
          );
          assert.deepEqual(await list({ prefix: 'a\uffff', after: 'a\uffffz' }), ['a\uffff\u{10000}']);
          // A marker that is not itself a key.
          assert.deepEqual(await list({ after: 'a\u{1f5ff}' }), sortedKeys.slice(idx('a\u{1f600}')));
          // A marker past the prefix's range gives nothing.
          assert.deepEqual(await list({ prefix: 'a\ue000', after: 'b' }), []);
          // Bounds whose UTF-16 order is the reverse of their byte order.
          assert.deepEqual(await list({ from: 'a\ue000', after: 'a\u{1f600}' }), sortedKeys.slice(idx('a\u{1f600}') + 1));
          assert.deepEqual(await list({ prefix: 'a\uffff', after: 'a\u{10000}' }), []);
        }));

      test('limit cuts the page; paging with after visits every key once in order', () =>
        withKeys(async (s, b) => {
          assert.deepEqual(keysOf(await s.listObjects(b.id, { prefix: '', limit: 3 })), sortedKeys.slice(0, 3));
          for (const prefix of ['', 'a']) {
            const seen: string[] = [];
            let after: string | undefined;
            for (;;) {
              const page = await s.listObjects(b.id, { prefix, after, limit: 4 });
              assert.ok(page.length <= 4);
              if (page.length === 0) break;
              seen.push(...keysOf(page));
              after = page[page.length - 1].key;
            }
            assert.deepEqual(seen, sortedKeys.filter((k) => k.startsWith(prefix)));
          }
        }));
    });

    describe('multipart uploads', () => {
      test('createUpload and getUpload round-trip', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'big \u{1f600}', {
            headers: { 'content-type': 'video/mp4' },
            userMetadata: { a: 'b' },
            tags: { t: '1' },
            storageClass: 'STANDARD_IA',
            checksumAlgorithm: 'CRC32',
            checksumType: 'COMPOSITE',
          });
          await s.createUpload(u);
          assert.deepEqual(await s.getUpload(u.uploadId), u);
          assert.equal(await s.getUpload('up_missing'), null);
        }));

      test('an upload\'s Object Lock state round-trips: a retention from the default keeps its flag, none (null) stays null', () =>
        withBucket(async (s, b) => {
          const until = new Date(1_900_000_000_000);
          const states = [
            { retention: { mode: 'GOVERNANCE' as const, until }, legalHold: true, defaultRetention: true },
            { retention: null, legalHold: false },
            { retention: { mode: 'COMPLIANCE' as const, until }, legalHold: null },
          ];
          for (const objectLock of states) {
            const u = uploadRow(b.id, 'k', { objectLock });
            await s.createUpload(u);
            assert.deepEqual((await s.getUpload(u.uploadId))?.objectLock, objectLock);
          }
        }));

      test('putPart inserts, replaces (returning the old blob) and listParts pages', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const p3 = partRow(u.uploadId, 3);
          const p1 = partRow(u.uploadId, 1);
          const p2 = partRow(u.uploadId, 2);
          for (const p of [p3, p1, p2]) assert.deepEqual(await s.putPart(p), { ok: true, replaced: null });
          const p2b = { ...partRow(u.uploadId, 2), checksum: { algorithm: 'CRC32' as const, type: 'COMPOSITE' as const, value: 'q1w2e3==' } };
          assert.deepEqual(await s.putPart(p2b), { ok: true, replaced: p2.blob });
          assert.deepEqual(await s.listParts(u.uploadId, 0, 100), [p1, p2b, p3]);
          assert.deepEqual(await s.listParts(u.uploadId, 1, 1), [p2b]);
          assert.deepEqual(await s.listParts(u.uploadId, 3, 100), []);
          assert.deepEqual(await s.listParts('up_missing', 0, 100), []);
        }));

      test('putPart on a missing upload fails and stores nothing', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          await s.abortUpload(u.uploadId);
          const p = partRow(u.uploadId, 1);
          assert.deepEqual(await s.putPart(p), { ok: false });
          assert.deepEqual(await s.listParts(u.uploadId, 0, 10), []);
          assert.equal((await s.referencedBlobRefs()).has(p.blob.ref), false);
        }));

      test('listUploads orders by key bytes, then initiated, then upload id; honours markers', () =>
        withBucket(async (s, b) => {
          const t = (ms: number) => new Date(1_700_000_000_000 + ms);
          const uploads = [
            uploadRow(b.id, 'a\u{1f600}', { uploadId: 'u1', initiated: t(0) }),
            uploadRow(b.id, 'a\uffff', { uploadId: 'u2', initiated: t(0) }),
            uploadRow(b.id, 'k', { uploadId: 'u5', initiated: t(2) }),
            uploadRow(b.id, 'k', { uploadId: 'u4', initiated: t(1) }),
            uploadRow(b.id, 'k', { uploadId: 'u3', initiated: t(1) }),
            uploadRow(b.id, 'kz', { uploadId: 'u6', initiated: t(0) }),
            uploadRow(b.id, 'z', { uploadId: 'u7', initiated: t(0) }),
          ];
          for (const u of uploads) await s.createUpload(u);
          const other = bucketRow(b.projectId, 'other');
          await s.createBucket(other);
          await s.createUpload(uploadRow(other.id, 'k', { uploadId: 'u9' }));

          const ids = (rows: UploadRow[]) => rows.map((r) => r.uploadId);
          const list = (q: { prefix?: string; keyMarker?: string; uploadIdMarker?: string; from?: string; limit?: number }) =>
            s.listUploads(b.id, { prefix: q.prefix ?? '', keyMarker: q.keyMarker, uploadIdMarker: q.uploadIdMarker, from: q.from, limit: q.limit ?? 100 }).then(ids);

          assert.deepEqual(await list({}), ['u2', 'u1', 'u3', 'u4', 'u5', 'u6', 'u7']);
          assert.deepEqual(await list({ limit: 2 }), ['u2', 'u1']);
          assert.deepEqual(await list({ prefix: 'k' }), ['u3', 'u4', 'u5', 'u6']);
          assert.deepEqual(await list({ prefix: 'a\uffff' }), ['u2']);
          // keyMarker alone: keys strictly after it.
          assert.deepEqual(await list({ keyMarker: 'k' }), ['u6', 'u7']);
          assert.deepEqual(await list({ keyMarker: 'a\uffff' }), ['u1', 'u3', 'u4', 'u5', 'u6', 'u7']);
          // keyMarker + uploadIdMarker: that key's later upload ids, then later keys.
          assert.deepEqual(await list({ keyMarker: 'k', uploadIdMarker: 'u3' }), ['u4', 'u5', 'u6', 'u7']);
          assert.deepEqual(await list({ keyMarker: 'k', uploadIdMarker: 'u4', prefix: 'k', limit: 2 }), ['u5', 'u6']);
          // from (a seek past a common prefix): keys from it on; the tighter of it and the markers holds.
          assert.deepEqual(await list({ from: 'k' }), ['u3', 'u4', 'u5', 'u6', 'u7']);
          assert.deepEqual(await list({ from: 'kz', keyMarker: 'a\uffff' }), ['u6', 'u7']);
          assert.deepEqual(await list({ from: 'a', keyMarker: 'k', uploadIdMarker: 'u4' }), ['u5', 'u6', 'u7']);
          const full = await s.listUploads(b.id, { prefix: 'z', limit: 10 });
          assert.deepEqual(full, [uploads[6]]);
        }));

      test('completeUpload commits the object, releases unused parts and the replaced object, and marks the upload completed', () =>
        withBucket(async (s, b) => {
          const old = objectRow(b.id, 'k', { blobs: [newBlob(), newBlob()] });
          await s.putObject(old, { kind: 'none' });
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const parts = [1, 2, 3].map((n) => partRow(u.uploadId, n));
          for (const p of parts) await s.putPart(p);
          const replacedPart = partRow(u.uploadId, 4);
          await s.putPart(replacedPart);
          const p4 = partRow(u.uploadId, 4);
          await s.putPart(p4);

          // The client completes with parts 1 and 3 only.
          const checksum = { algorithm: 'CRC32' as const, type: 'COMPOSITE' as const, value: 'AAAAAA==-2' };
          const object = objectRow(b.id, 'k', { blobs: [parts[0].blob, parts[2].blob], partsCount: 2, etag: '"abc-2"', checksum, lastModified: new Date(1_700_000_009_000) });
          const named = [parts[0], parts[2]].map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
          const out = await s.completeUpload(u.uploadId, object, { kind: 'none' }, 'unversioned', undefined, named);
          assert.ok(out.ok);
          assert.deepEqual(refs(out.release), refs([...old.blobs, parts[1].blob, p4.blob]));
          assert.deepEqual(await s.getObject(b.id, 'k'), object);
          // The row stays, completed, with what the completion committed (for a retry of it).
          assert.deepEqual(await s.getUpload(u.uploadId), {
            ...u,
            completion: { completedAt: object.lastModified, etag: '"abc-2"', versionId: 'null', size: object.size, checksum, parts: named },
          });
          assert.deepEqual(await s.listParts(u.uploadId, 0, 100), []);
          assert.deepEqual(await s.listUploads(b.id, { prefix: '', limit: 10 }), []);
          assert.deepEqual(await s.completeUpload(u.uploadId, object, { kind: 'none' }), {
            ok: false,
            reason: 'no-such-upload',
          });
          // The part blob replaced earlier was returned by putPart, not here.
          assert.equal(out.release.some((x) => x.ref === replacedPart.blob.ref), false);
        }));

      test('completeUpload under a failed condition changes nothing', () =>
        withBucket(async (s, b) => {
          const existing = objectRow(b.id, 'k');
          await s.putObject(existing, { kind: 'none' });
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const p1 = partRow(u.uploadId, 1);
          await s.putPart(p1);
          const object = objectRow(b.id, 'k', { blobs: [p1.blob], partsCount: 1 });

          assert.deepEqual(await s.completeUpload(u.uploadId, object, { kind: 'ifNoneMatch' }), { ok: false, reason: 'exists' });
          assert.deepEqual(await s.completeUpload(u.uploadId, object, { kind: 'ifMatch', etag: '"nope"' }), {
            ok: false,
            reason: 'etag-mismatch',
          });
          assert.deepEqual(await s.getObject(b.id, 'k'), existing);
          assert.deepEqual(await s.getUpload(u.uploadId), u);
          assert.deepEqual(await s.listParts(u.uploadId, 0, 10), [p1]);

          const fresh = objectRow(b.id, 'new', { blobs: [p1.blob], partsCount: 1 });
          const u2 = uploadRow(b.id, 'new');
          await s.createUpload(u2);
          assert.deepEqual(await s.completeUpload(u2.uploadId, fresh, { kind: 'ifMatch', etag: '"x"' }), {
            ok: false,
            reason: 'missing',
          });
          assert.ok(await s.getUpload(u2.uploadId));

          // With the right condition it goes through.
          const out = await s.completeUpload(u.uploadId, object, { kind: 'ifMatch', etag: existing.etag });
          assert.ok(out.ok);
          assert.deepEqual(refs(out.release), refs(existing.blobs));
        }));

      test('concurrent completes of one upload: exactly one wins', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const p1 = partRow(u.uploadId, 1);
          await s.putPart(p1);
          const outs = await Promise.all(
            [0, 1, 2].map(() => s.completeUpload(u.uploadId, objectRow(b.id, 'k', { blobs: [p1.blob] }), { kind: 'none' })),
          );
          assert.equal(outs.filter((o) => o.ok).length, 1);
          for (const o of outs) if (!o.ok) assert.equal(o.reason, 'no-such-upload');
          for (const o of outs) if (o.ok) assert.deepEqual(o.release, []);
        }));

      test('a completed upload takes no parts, cannot be aborted and is listed nowhere', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k', { uploadId: 'u1' });
          const next = uploadRow(b.id, 'k', { uploadId: 'u2' });
          for (const x of [u, next]) await s.createUpload(x);
          const p1 = partRow(u.uploadId, 1);
          await s.putPart(p1);
          assert.ok((await s.completeUpload(u.uploadId, objectRow(b.id, 'k', { blobs: [p1.blob] }), { kind: 'none' }, 'unversioned', undefined, [p1])).ok);
          const late = partRow(u.uploadId, 2);
          assert.deepEqual(await s.putPart(late), { ok: false });
          assert.deepEqual(await s.putPart(partRow(u.uploadId, 1)), { ok: false });
          assert.deepEqual(await s.listParts(u.uploadId, 0, 10), []);
          assert.equal((await s.referencedBlobRefs()).has(late.blob.ref), false);
          assert.equal(await s.abortUpload(u.uploadId), null);
          assert.ok((await s.getUpload(u.uploadId))?.completion, 'the abort left it as it was');
          const ids = async (q: { keyMarker?: string; uploadIdMarker?: string; from?: string }) =>
            (await s.listUploads(b.id, { prefix: '', limit: 10, ...q })).map((x) => x.uploadId);
          assert.deepEqual(await ids({}), ['u2']);
          assert.deepEqual(await ids({ from: 'k' }), ['u2']);
          assert.deepEqual(await ids({ keyMarker: 'k', uploadIdMarker: 'u0' }), ['u2']);
        }));

      test('deleteCompletedUploads removes uploads completed before a time, and no upload in progress', () =>
        withBucket(async (s, b) => {
          const complete = async (key: string, at: number) => {
            const u = uploadRow(b.id, key);
            await s.createUpload(u);
            const p = partRow(u.uploadId, 1);
            await s.putPart(p);
            assert.ok((await s.completeUpload(u.uploadId, objectRow(b.id, key, { blobs: [p.blob], lastModified: new Date(at) }), { kind: 'none' }, 'unversioned', undefined, [p])).ok);
            return u;
          };
          const old = await complete('old', 1_000);
          const recent = await complete('recent', 5_000);
          const open = uploadRow(b.id, 'open', { initiated: new Date(1) });
          await s.createUpload(open);
          assert.equal(await s.deleteCompletedUploads(new Date(5_000)), 1);
          assert.equal(await s.getUpload(old.uploadId), null);
          assert.ok((await s.getUpload(recent.uploadId))?.completion);
          assert.deepEqual(await s.getUpload(open.uploadId), open);
          assert.equal(await s.deleteCompletedUploads(new Date(5_000)), 0);
          assert.equal(await s.deleteCompletedUploads(new Date(5_001)), 1);
          assert.deepEqual(await s.getUpload(open.uploadId), open);
          // The objects they made stay.
          assert.ok(await s.getObject(b.id, 'old'));
        }));

      test('abortUpload returns the part blobs and removes the upload', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const parts = [1, 2].map((n) => partRow(u.uploadId, n));
          for (const p of parts) await s.putPart(p);
          assert.deepEqual(refs(await s.abortUpload(u.uploadId)), refs(parts.map((p) => p.blob)));
          assert.equal(await s.getUpload(u.uploadId), null);
          assert.deepEqual(await s.listParts(u.uploadId, 0, 10), []);
          assert.equal(await s.abortUpload(u.uploadId), null);

          const empty = uploadRow(b.id, 'e');
          await s.createUpload(empty);
          assert.deepEqual(await s.abortUpload(empty.uploadId), []);
        }));
    });

    describe('projects', () => {
      test('updateProject sets the token lifetime cap and the name', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          assert.equal(await s.updateProject(p.id, { maxTokenDays: 30, name: 'renamed' }), true);
          assert.deepEqual(await s.getProject(p.id), { ...p, name: 'renamed', maxTokenDays: 30 });
          assert.equal(await s.updateProject(p.id, { maxTokenDays: null }), true);
          assert.equal((await s.getProject(p.id))?.maxTokenDays, null);
          assert.equal(await s.updateProject('prj_missing', { maxTokenDays: 1 }), false);
        }));
    });

    describe('tokens', () => {
      test('create, find by id, access key and bearer prefix; list newest first', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const t1 = tokenRow(p.id, { bucketScope: null, billing: true, expiresAt: null });
          const t2 = tokenRow(p.id, { createdAt: new Date(1_700_000_100_000) });
          await s.createToken(t1);
          await s.createToken(t2);
          assert.deepEqual(await s.getToken(t1.id), t1);
          assert.deepEqual(await s.getTokenByAccessKeyId(t2.accessKeyId), t2);
          assert.equal(await s.getTokenByAccessKeyId('SKMISSING'), null);
          // The per-request read: the token with its project's maximum lifetime, by either credential
          // (a bearer prefix matches the current or, while a rotation is pending, the previous one).
          assert.deepEqual(await s.findCredential({ accessKeyId: t2.accessKeyId }), { token: t2, maxTokenDays: p.maxTokenDays });
          assert.deepEqual(await s.findCredential({ bearerPrefix: t1.bearerPrefix }), { token: t1, maxTokenDays: p.maxTokenDays });
          assert.deepEqual(await s.findCredential({ bearerPrefix: t2.bearerPrefix }), { token: t2, maxTokenDays: p.maxTokenDays });
          assert.equal(await s.findCredential({ accessKeyId: 'SKMISSING' }), null);
          await s.updateProject(p.id, { maxTokenDays: 30 });
          assert.equal((await s.findCredential({ accessKeyId: t2.accessKeyId }))?.maxTokenDays, 30);
          assert.deepEqual((await s.listTokens(p.id)).map((t) => t.id), [t2.id, t1.id]);
          await assert.rejects(s.createToken(tokenRow(p.id, { accessKeyId: t1.accessKeyId })));
        }));

      test('updateToken writes only the named fields; the previous bearer prefix still finds the row', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const t = tokenRow(p.id);
          await s.createToken(t);
          const patch = {
            secretCiphertext: 'v1:new',
            bearerPrefix: hex(6),
            bearerHash: hex(32),
            previousSecretCiphertext: t.secretCiphertext,
            previousBearerPrefix: t.bearerPrefix,
            previousBearerHash: t.bearerHash,
            rotationDeadline: new Date(1_700_000_500_000),
          };
          assert.equal(await s.updateToken(t.id, patch), true);
          assert.deepEqual(await s.getToken(t.id), { ...t, ...patch });
          assert.equal((await s.findCredential({ bearerPrefix: t.bearerPrefix }))?.token.id, t.id);
          assert.equal((await s.findCredential({ bearerPrefix: patch.bearerPrefix }))?.token.id, t.id);
          await s.updateToken(t.id, { revokedAt: new Date(1_700_000_600_000), disabledAt: null });
          const after = await s.getToken(t.id);
          assert.equal(after?.revokedAt?.getTime(), 1_700_000_600_000);
          assert.equal(after?.secretCiphertext, 'v1:new');
          assert.equal(await s.updateToken('tok_missing', { name: 'x' }), false);
        }));

      test('touchTokens records last use and never moves it backwards', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const t = tokenRow(p.id);
          await s.createToken(t);
          await s.touchTokens([{ id: t.id, at: new Date(1_700_000_200_000) }]);
          await s.touchTokens([{ id: t.id, at: new Date(1_700_000_100_000) }]);
          assert.equal((await s.getToken(t.id))?.lastUsedAt?.getTime(), 1_700_000_200_000);
        }));
    });

    describe('token network conditions and rate limits', () => {
      test('are stored, read back and patched', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const t = tokenRow(p.id, { allowedNetworks: ['10.0.0.0/8', '2001:db8::/32'], rateLimit: 600, bucketScope: ['a', 'b/logs/'] });
          await s.createToken(t);
          assert.deepEqual(await s.getToken(t.id), t);
          assert.deepEqual((await s.findCredential({ accessKeyId: t.accessKeyId }))?.token, t);
          await s.updateToken(t.id, { allowedNetworks: null, rateLimit: null });
          const after = await s.getToken(t.id);
          assert.equal(after?.allowedNetworks, null);
          assert.equal(after?.rateLimit, null);
        }));
    });

    describe('temporary credentials', () => {
      test('are found with their token and its project limit in one read; listed newest first', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          await s.updateProject(p.id, { maxTokenDays: 30 });
          const t = tokenRow(p.id, { allowedNetworks: ['127.0.0.1'] });
          await s.createToken(t);
          const a = temporaryRow(t);
          const b = temporaryRow(t, { createdAt: new Date(1_700_000_020_000), bucketScope: null, permission: 'object-rw' });
          await s.createTemporaryCredential(a);
          await s.createTemporaryCredential(b);
          assert.deepEqual(await s.findTemporaryCredential(a.accessKeyId), { credential: a, token: t, maxTokenDays: 30 });
          assert.equal(await s.findTemporaryCredential('STMISSING'), null);
          // A token's own access key is not a temporary credential.
          assert.equal(await s.findTemporaryCredential(t.accessKeyId), null);
          assert.deepEqual(await s.getTemporaryCredential(b.id), b);
          assert.deepEqual((await s.listTemporaryCredentials(t.id)).map((r) => r.id), [b.id, a.id]);
          await assert.rejects(s.createTemporaryCredential(temporaryRow(t, { accessKeyId: a.accessKeyId })), 'access key IDs are unique');
        }));

      test('revoke sets the time once; expired ones are deleted', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const t = tokenRow(p.id);
          await s.createToken(t);
          const a = temporaryRow(t);
          const old = temporaryRow(t, { expiresAt: new Date(1_600_000_000_000) });
          await s.createTemporaryCredential(a);
          await s.createTemporaryCredential(old);
          assert.equal(await s.revokeTemporaryCredential(a.id, new Date(1_700_000_050_000)), true);
          assert.equal(await s.revokeTemporaryCredential(a.id, new Date(1_700_000_090_000)), true);
          assert.equal((await s.getTemporaryCredential(a.id))?.revokedAt?.getTime(), 1_700_000_050_000);
          assert.equal(await s.revokeTemporaryCredential('tmp_missing', new Date()), false);
          assert.equal(await s.deleteExpiredTemporaryCredentials(new Date(1_650_000_000_000)), 1);
          assert.equal(await s.getTemporaryCredential(old.id), null);
          assert.ok(await s.getTemporaryCredential(a.id));
        }));

      test("disabling a token revokes its temporary credentials in force, in the same write, and returns them", () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const t = tokenRow(p.id);
          const other = tokenRow(p.id);
          await s.createToken(t);
          await s.createToken(other);
          const live = temporaryRow(t);
          const gone = temporaryRow(t, { revokedAt: new Date(1_700_000_010_000) });
          const expired = temporaryRow(t, { expiresAt: new Date(1_600_000_000_000) });
          const others = temporaryRow(other);
          for (const r of [live, gone, expired, others]) await s.createTemporaryCredential(r);
          const at = new Date(1_700_000_050_000);
          assert.deepEqual(await s.disableToken(t.id, at), [live]);
          assert.equal((await s.getToken(t.id))?.disabledAt?.getTime(), at.getTime());
          assert.equal((await s.getTemporaryCredential(live.id))?.revokedAt?.getTime(), at.getTime());
          assert.equal((await s.getTemporaryCredential(gone.id))?.revokedAt?.getTime(), 1_700_000_010_000, 'revoked once');
          assert.equal((await s.getTemporaryCredential(expired.id))?.revokedAt, null);
          assert.equal((await s.getTemporaryCredential(others.id))?.revokedAt, null);
          // Enabling the token again leaves them revoked.
          await s.updateToken(t.id, { disabledAt: null });
          assert.equal((await s.getTemporaryCredential(live.id))?.revokedAt?.getTime(), at.getTime());
          assert.equal(await s.disableToken('tok_missing', at), null);
        }));
    });

    describe('quotas and storage counters', () => {
      /** A project with one bucket, and the charge of a 1000-object bucket quota on it. */
      async function countedBucket(s: MetadataStore, name: string) {
        const p = projectRow();
        await s.createProject(p);
        const b = bucketRow(p.id, name);
        await s.createBucket(b);
        return { b, charge: { projectId: p.id, bucket: { maxBytes: null, maxObjects: 1000 }, project: null } };
      }

      test('a project quota is set, read with each bucket, and removed', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const b = bucketRow(p.id, 'quoted');
          await s.createBucket(b);
          assert.equal(await s.getProjectQuota(p.id), null);
          assert.equal((await s.getBucketWithSettings(p.id, 'quoted'))?.projectQuota ?? null, null);
          assert.equal(await s.setProjectQuota(p.id, { maxBytes: 1_000_000, maxObjects: null }), true);
          assert.deepEqual(await s.getProjectQuota(p.id), { maxBytes: 1_000_000, maxObjects: null });
          assert.deepEqual((await s.getBucketWithSettings(p.id, 'quoted'))?.projectQuota, { maxBytes: 1_000_000, maxObjects: null });
          assert.equal(await s.setProjectQuota(p.id, null), true);
          assert.equal(await s.getProjectQuota(p.id), null);
          assert.equal(await s.setProjectQuota('prj_missing', { maxBytes: 1, maxObjects: 1 }), false);
        }));

      test('counters add deltas, recount from the objects, and sum per project', () =>
        withStore(async (s) => {
          const p = projectRow();
          const other = projectRow();
          await s.createProject(p);
          await s.createProject(other);
          const b1 = bucketRow(p.id, 'one');
          const b2 = bucketRow(p.id, 'two');
          const b3 = bucketRow(other.id, 'three');
          for (const b of [b1, b2, b3]) await s.createBucket(b);
          assert.deepEqual(await s.bucketStorage(b1.id), { bytes: 0, objects: 0 });
          const at = new Date(1_700_000_000_000);
          await s.addStorageCounters([{ bucketId: b1.id, bytes: 100, objects: 1, at }, { bucketId: b2.id, bytes: 50, objects: 2, at }, { bucketId: b3.id, bytes: 7, objects: 1, at }]);
          await s.addStorageCounters([{ bucketId: b1.id, bytes: -40, objects: 0, at }]);
          assert.deepEqual(await s.bucketStorage(b1.id), { bytes: 60, objects: 1 });
          assert.deepEqual(await s.projectStorage(p.id), { bytes: 110, objects: 3 });
          await s.putObject(objectRow(b1.id, 'k', { blobs: [newBlob(30)] }), { kind: 'none' });
          assert.deepEqual(await s.recountStorage(b1.id), { bytes: 30, objects: 1 });
          assert.deepEqual(await s.bucketStorage(b1.id), { bytes: 30, objects: 1 });
          assert.deepEqual(await s.projectStorage(p.id), { bytes: 80, objects: 3 });
          // A change made before the recount is in it: reported late, it is not added again; a later one is.
          await s.addStorageCounters([{ bucketId: b1.id, bytes: 30, objects: 1, at }]);
          assert.deepEqual(await s.bucketStorage(b1.id), { bytes: 30, objects: 1 });
          await s.addStorageCounters([{ bucketId: b1.id, bytes: 5, objects: 1, at: new Date(Date.now() + 1000) }]);
          assert.deepEqual(await s.bucketStorage(b1.id), { bytes: 35, objects: 2 });
          // A deleted bucket no longer counts.
          assert.equal(await s.deleteBucket(b2.id), 'deleted');
          assert.deepEqual(await s.projectStorage(p.id), { bytes: 35, objects: 2 });
        }));

      test('a write under a quota is charged in the transaction that commits it, and refused with nothing stored past the quota', () =>
        withStore(async (s) => {
          const p = projectRow();
          await s.createProject(p);
          const b = bucketRow(p.id, 'charged');
          const sibling = bucketRow(p.id, 'sibling');
          for (const x of [b, sibling]) await s.createBucket(x);
          const none = { kind: 'none' } as const;
          const byBucket = { projectId: p.id, bucket: { maxBytes: 100, maxObjects: 2 }, project: null };
          const put = (key: string, size: number, mode: VersioningMode = 'unversioned', versionId = 'null') =>
            s.putObject(objectRow(b.id, key, { blobs: [newBlob(size)], versionId }), none, mode, undefined, byBucket);
          assert.deepEqual(await put('a', 60), { ok: true, replaced: [] });
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 60, objects: 1 }, 'counted in the commit');
          assert.deepEqual(await put('b', 50), {
            ok: false,
            reason: 'quota',
            breach: { scope: 'bucket', limit: 'bytes', quota: byBucket.bucket, used: { bytes: 60, objects: 1 }, added: { bytes: 50, objects: 1 } },
          });
          assert.equal(await s.getObject(b.id, 'b'), null, 'nothing stored');
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 60, objects: 1 }, 'nothing counted');
          // An overwrite is charged only what it adds.
          assert.equal((await put('a', 90)).ok, true);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 90, objects: 1 });
          // A new version adds an object; the third is refused by the object limit.
          assert.equal((await put('v', 10, 'enabled', 'v1')).ok, true);
          const third = await put('v', 0, 'enabled', 'v2');
          assert.equal(!third.ok && third.reason === 'quota' && third.breach.limit, 'objects');
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 100, objects: 2 });

          // A project quota counts every bucket of the project; a completion is charged alike and, refused, keeps its upload.
          const byProject = { projectId: p.id, bucket: null, project: { maxBytes: 150, maxObjects: null } };
          const u = uploadRow(sibling.id, 'm');
          await s.createUpload(u);
          const part = partRow(u.uploadId, 1, newBlob(60));
          await s.putPart(part);
          const object = objectRow(sibling.id, 'm', { blobs: [part.blob], partsCount: 1 });
          const refused = await s.completeUpload(u.uploadId, object, none, 'unversioned', undefined, [part], byProject);
          assert.deepEqual(refused, {
            ok: false,
            reason: 'quota',
            breach: { scope: 'project', limit: 'bytes', quota: byProject.project, used: { bytes: 100, objects: 2 }, added: { bytes: 60, objects: 1 } },
          });
          assert.equal(await s.getObject(sibling.id, 'm'), null);
          const kept = await s.getUpload(u.uploadId);
          assert.ok(kept && !kept.completion, 'the upload is kept, in progress');
          assert.equal((await s.putObject(objectRow(sibling.id, 's', { blobs: [newBlob(50)] }), none, 'unversioned', undefined, byProject)).ok, true);
          assert.deepEqual(await s.projectStorage(p.id), { bytes: 150, objects: 3 });
        }));

      test('a recount while charged writes commit loses none of them', () =>
        withStore(async (s) => {
          const { b, charge } = await countedBucket(s, 'recounted');
          const writes = Array.from({ length: 40 }, (_, i) => s.putObject(objectRow(b.id, `k${i}`, { blobs: [newBlob(10)] }), { kind: 'none' }, 'unversioned', undefined, charge));
          const recounts = Array.from({ length: 10 }, () => s.recountStorage(b.id));
          const outcomes = await Promise.all(writes);
          await Promise.all(recounts);
          assert.ok(outcomes.every((o) => o.ok));
          // Each write is either in a recount's count or added after it, never lost between the two.
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 400, objects: 40 });
        }));

      test('a removal under a quota takes what it frees from the counters in its own transaction, every kind of removal', () =>
        withStore(async (s) => {
          const { b, charge } = await countedBucket(s, 'uncharged');
          const put = (key: string, size: number, mode: VersioningMode = 'unversioned', versionId = 'null') =>
            s.putObject(objectRow(b.id, key, { blobs: [newBlob(size)], versionId }), { kind: 'none' }, mode, undefined, charge);
          for (const [key, size] of [['a', 10], ['b', 20], ['c', 40]] as const) assert.equal((await put(key, size)).ok, true);
          assert.equal((await put('v', 80, 'enabled', 'v1')).ok, true);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 150, objects: 4 });
          const allow = () => true;
          assert.equal((await s.deleteObject(b.id, 'a', charge))?.length, 1);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 140, objects: 3 }, 'deleteObject');
          assert.ok((await s.deleteObjectVersion(b.id, 'b', 'null', allow, charge)).ok);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 120, objects: 2 }, 'deleteObjectVersion');
          // Suspended versioning: the marker replaces the null version, which is removed.
          assert.deepEqual((await s.putDeleteMarker({ bucketId: b.id, key: 'c', versionId: 'm1', lastModified: new Date() }, 'suspended', allow, undefined, charge)).ok, true);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 80, objects: 1 }, 'putDeleteMarker');
          // A marker over a version that stays (noncurrent) frees nothing.
          assert.ok((await s.putDeleteMarker({ bucketId: b.id, key: 'v', versionId: 'm2', lastModified: new Date() }, 'enabled', allow, undefined, charge)).ok);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 80, objects: 1 }, 'a marker over a kept version');
          // A recount agrees: nothing was counted twice.
          assert.deepEqual(await s.recountStorage(b.id), { bytes: 80, objects: 1 });
        }));

      test('a recount while delete markers come and go counts each version once: what is stored never changes', () =>
        withStore(async (s) => {
          const { b } = await countedBucket(s, 'markers');
          const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
          for (const key of keys) {
            await s.putObject(objectRow(b.id, key, { blobs: [newBlob(10)], versionId: `v-${key}` }), { kind: 'none' }, 'enabled');
            await s.putDeleteMarker({ bucketId: b.id, key, versionId: `m-${key}`, lastModified: new Date() }, 'enabled', () => true);
          }
          const stored = { bytes: 600, objects: 60 };
          assert.deepEqual(await s.recountStorage(b.id), stored);
          // Removing a marker moves its version from the noncurrent table back to the current one,
          // adding one moves it the other way: neither changes what is stored.
          const moves = keys.flatMap((key, i) => [
            s.deleteObjectVersion(b.id, key, `m-${key}`, () => true),
            s.putDeleteMarker({ bucketId: b.id, key: keys[(i + 30) % keys.length], versionId: `m2-${key}`, lastModified: new Date() }, 'enabled', () => true),
          ]);
          const counts = Array.from({ length: 30 }, () => s.recountStorage(b.id));
          await Promise.all(moves);
          for (const count of await Promise.all(counts)) assert.deepEqual(count, stored);
        }));

      test('a recount while removals under a quota commit counts none of them twice', () =>
        withStore(async (s) => {
          const { b, charge } = await countedBucket(s, 'recounted-deletes');
          for (let i = 0; i < 40; i++) await s.putObject(objectRow(b.id, `k${i}`, { blobs: [newBlob(10)] }), { kind: 'none' }, 'unversioned', undefined, charge);
          const deletes = Array.from({ length: 30 }, (_, i) => s.deleteObject(b.id, `k${i}`, charge));
          const recounts = Array.from({ length: 10 }, () => s.recountStorage(b.id));
          await Promise.all([...deletes, ...recounts]);
          assert.deepEqual(await s.bucketStorage(b.id), { bytes: 100, objects: 10 });
        }));
    });

    describe('audit', () => {
      test('append and list newest first, filtered by project, token and time', () =>
        withStore(async (s) => {
          const base = { actor: 'cli:op', source: null, detail: null, bucket: null } as const;
          const rows: AuditRow[] = [
            { ...base, id: hex(8), at: new Date(1000), action: 'token.created', tokenId: 't1', projectId: 'p1' },
            { ...base, id: hex(8), at: new Date(2000), action: 'token.revoked', tokenId: 't1', projectId: 'p1' },
            { ...base, id: hex(8), at: new Date(3000), action: 'auth.failed', tokenId: null, projectId: 'p2' },
          ];
          for (const r of rows) await s.appendAudit(r);
          assert.deepEqual(await s.listAudit({ limit: 10 }), [rows[2], rows[1], rows[0]]);
          assert.deepEqual(await s.listAudit({ projectId: 'p1', limit: 10 }), [rows[1], rows[0]]);
          assert.deepEqual(await s.listAudit({ tokenId: 't1', limit: 1 }), [rows[1]]);
          assert.deepEqual(await s.listAudit({ before: new Date(2000), limit: 10 }), [rows[0]]);
        }));

      test('filters by actor, actions, bucket and a time range; prune removes what is older than a time', () =>
        withStore(async (s) => {
          const base = { source: '10.0.0.1', detail: null, tokenId: null, projectId: 'p' } as const;
          const rows: AuditRow[] = [
            { ...base, id: 'a', at: new Date(1000), action: 'bucket.created', actor: 'token:t1', bucket: 'photos' },
            { ...base, id: 'b', at: new Date(2000), action: 'object.deleted', actor: 'user:ada@example.com', bucket: 'photos' },
            { ...base, id: 'c', at: new Date(3000), action: 'bucket.created', actor: 'user:ada@example.com', bucket: 'logs' },
            { ...base, id: 'd', at: new Date(4000), action: 'token.created', actor: 'bootstrap', bucket: null },
          ];
          for (const r of rows) await s.appendAudit(r);
          const ids = async (q: Omit<Parameters<MetadataStore['listAudit']>[0], 'limit'>) => (await s.listAudit({ ...q, limit: 10 })).map((r) => r.id);
          assert.deepEqual(await ids({ actor: 'user:ada@example.com' }), ['c', 'b']);
          assert.deepEqual(await ids({ actions: ['bucket.created', 'token.created'] }), ['d', 'c', 'a']);
          assert.deepEqual(await ids({ actions: [] }), []);
          assert.deepEqual(await ids({ bucket: 'photos' }), ['b', 'a']);
          assert.deepEqual(await ids({ since: new Date(2000), until: new Date(4000) }), ['c', 'b']);
          assert.deepEqual(await ids({ projectId: 'p', bucket: 'photos', actor: 'token:t1' }), ['a']);
          assert.equal((await s.listAudit({ bucket: 'photos', limit: 10 }))[0].bucket, 'photos');
          assert.equal(await s.pruneAudit(new Date(3000)), 2);
          assert.deepEqual(await ids({}), ['d', 'c']);
        }));
    });

    describe('audit paging', () => {
      test('a keyset cursor (before, beforeId) pages through events that share a timestamp', () =>
        withStore(async (s) => {
          const base = { actor: 'cli:op', source: null, detail: null, tokenId: null, projectId: 'p', bucket: null } as const;
          const at = new Date(5000);
          const rows: AuditRow[] = ['a', 'b', 'c', 'd'].map((id) => ({ ...base, id, at, action: 'token.created' }));
          rows.push({ ...base, id: 'z', at: new Date(4000), action: 'token.created' });
          for (const r of rows) await s.appendAudit(r);
          const first = await s.listAudit({ projectId: 'p', limit: 2 });
          assert.deepEqual(first.map((r) => r.id), ['d', 'c']);
          const last = first[first.length - 1];
          const second = await s.listAudit({ projectId: 'p', limit: 10, before: last.at, beforeId: last.id });
          assert.deepEqual(second.map((r) => r.id), ['b', 'a', 'z']);
        }));
    });

    describe('users, memberships and sessions', () => {
      function userRow(email: string): UserRow {
        return { id: `usr_${hex(6)}`, email, passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$' + hex(8), createdAt: new Date(1_700_000_000_000) };
      }

      test('create and find users; emails are unique regardless of case', () =>
        withStore(async (s) => {
          assert.equal(await s.countUsers(), 0);
          const u = userRow('ada@example.com');
          assert.equal(await s.createUser(u), 'created');
          assert.deepEqual(await s.getUser(u.id), u);
          assert.deepEqual(await s.getUserByEmail('ADA@example.com'), u);
          assert.equal(await s.createUser(userRow('Ada@Example.com')), 'exists');
          assert.equal(await s.getUserByEmail('nobody@example.com'), null);
          assert.equal(await s.getUser('usr_missing'), null);
          assert.equal(await s.countUsers(), 1);
        }));

      test('memberships: add, change role, list in project order', () =>
        withStore(async (s) => {
          const u = userRow('m@example.com');
          await s.createUser(u);
          const p1 = projectRow('one');
          const p2 = { ...projectRow('two'), createdAt: new Date(1_700_000_500_000) };
          await s.createProject(p2);
          await s.createProject(p1);
          assert.equal(await s.getMembership(p1.id, u.id), null);
          await s.setMembership({ projectId: p2.id, userId: u.id, role: 'member' });
          await s.setMembership({ projectId: p1.id, userId: u.id, role: 'member' });
          await s.setMembership({ projectId: p1.id, userId: u.id, role: 'owner' });
          assert.deepEqual(await s.getMembership(p1.id, u.id), { projectId: p1.id, userId: u.id, role: 'owner' });
          assert.deepEqual(await s.listMemberships(u.id), [
            { projectId: p1.id, userId: u.id, role: 'owner' },
            { projectId: p2.id, userId: u.id, role: 'member' },
          ]);
          assert.deepEqual(await s.listMemberships('usr_other'), []);
        }));

      test('sessions: create, get, delete, and expired ones are swept', () =>
        withStore(async (s) => {
          const u = userRow('s@example.com');
          await s.createUser(u);
          const live = { id: hex(32), userId: u.id, csrfToken: hex(16), createdAt: new Date(1000), expiresAt: new Date(10_000) };
          const old = { id: hex(32), userId: u.id, csrfToken: hex(16), createdAt: new Date(1000), expiresAt: new Date(2000) };
          await s.createSession(live);
          await s.createSession(old);
          assert.deepEqual(await s.getSession(live.id), live);
          assert.equal(await s.deleteExpiredSessions(new Date(5000)), 1);
          assert.equal(await s.getSession(old.id), null);
          await s.deleteSession(live.id);
          assert.equal(await s.getSession(live.id), null);
        }));

      test("a project's members with their emails; removing a member; a password change; ending a user's other sessions", () =>
        withStore(async (s) => {
          const p = projectRow('team');
          await s.createProject(p);
          const ada = userRow('ada@example.com');
          const bob = userRow('bob@example.com');
          await s.createUser(bob);
          await s.createUser(ada);
          await s.setMembership({ projectId: p.id, userId: bob.id, role: 'member' });
          await s.setMembership({ projectId: p.id, userId: ada.id, role: 'owner' });
          assert.deepEqual(await s.listProjectMembers(p.id), [
            { projectId: p.id, userId: ada.id, role: 'owner', email: 'ada@example.com' },
            { projectId: p.id, userId: bob.id, role: 'member', email: 'bob@example.com' },
          ]);
          assert.equal(await s.deleteMembership(p.id, bob.id), true);
          assert.equal(await s.deleteMembership(p.id, bob.id), false);
          assert.deepEqual((await s.listProjectMembers(p.id)).map((m) => m.email), ['ada@example.com']);

          assert.equal(await s.updateUserPassword(ada.id, '$argon2id$new'), true);
          assert.equal((await s.getUser(ada.id))?.passwordHash, '$argon2id$new');
          assert.equal(await s.updateUserPassword('usr_missing', 'x'), false);

          const session = (id: string, userId: string) => ({ id, userId, csrfToken: hex(16), createdAt: new Date(1000), expiresAt: new Date(1e13) });
          const [keep, other, bobs] = [session(hex(32), ada.id), session(hex(32), ada.id), session(hex(32), bob.id)];
          for (const x of [keep, other, bobs]) await s.createSession(x);
          assert.equal(await s.deleteUserSessions(ada.id, keep.id), 1);
          assert.deepEqual(await s.getSession(keep.id), keep);
          assert.equal(await s.getSession(other.id), null);
          assert.deepEqual(await s.getSession(bobs.id), bobs);
          assert.equal(await s.deleteUserSessions(ada.id), 1);
          assert.equal(await s.getSession(keep.id), null);
        }));
    });

    describe('usage by token', () => {
      test('sums each token over the days, optionally one bucket', () =>
        withStore(async (s) => {
          const base = { requestsRead: 0, requestsWrite: 0, requestsList: 0, requestsDelete: 0, requestsOther: 0, bytesIn: 0, bytesOut: 0 };
          await s.addUsage([
            { ...base, day: '2024-05-01', projectId: 'p1', bucket: 'a', tokenId: 't1', requestsRead: 2, bytesOut: 10 },
            { ...base, day: '2024-05-02', projectId: 'p1', bucket: 'b', tokenId: 't1', requestsWrite: 1, bytesIn: 5 },
            { ...base, day: '2024-05-02', projectId: 'p1', bucket: 'a', tokenId: 't2', requestsList: 4 },
            { ...base, day: '2024-05-09', projectId: 'p1', bucket: 'a', tokenId: 't2', requestsList: 100 },
            { ...base, day: '2024-05-02', projectId: 'p2', bucket: 'a', tokenId: 't1', requestsRead: 50 },
          ]);
          assert.deepEqual(await s.usageByToken({ projectId: 'p1', from: '2024-05-01', to: '2024-05-05' }), [
            { ...base, tokenId: 't1', requestsRead: 2, requestsWrite: 1, bytesIn: 5, bytesOut: 10 },
            { ...base, tokenId: 't2', requestsList: 4 },
          ]);
          assert.deepEqual(await s.usageByToken({ projectId: 'p1', from: '2024-05-01', to: '2024-05-05', bucket: 'b' }), [
            { ...base, tokenId: 't1', requestsWrite: 1, bytesIn: 5 },
          ]);
        }));
    });

    describe('usage', () => {
      function inc(over: Partial<UsageIncrement>): UsageIncrement {
        return {
          day: '2024-05-01', projectId: 'p', bucket: 'b', tokenId: 't',
          requestsRead: 0, requestsWrite: 0, requestsList: 0, requestsDelete: 0, requestsOther: 0, bytesIn: 0, bytesOut: 0,
          ...over,
        };
      }

      test('increments add up per row; queries sum days, filtered by bucket and token', () =>
        withStore(async (s) => {
          await s.addUsage([
            inc({ requestsRead: 2, bytesOut: 100 }),
            inc({ requestsRead: 1, bytesOut: 50, requestsWrite: 1, bytesIn: 7 }),
            inc({ bucket: 'c', requestsList: 3 }),
            inc({ tokenId: '', requestsDelete: 1 }),
            inc({ day: '2024-05-03', requestsOther: 4 }),
            inc({ day: '2024-06-01', requestsOther: 9 }),
            inc({ projectId: 'q', requestsRead: 100 }),
          ]);
          await s.addUsage([inc({ requestsRead: 1, bytesOut: 1 })]);
          await s.addUsage([]);
          const zero = { requestsRead: 0, requestsWrite: 0, requestsList: 0, requestsDelete: 0, requestsOther: 0, bytesIn: 0, bytesOut: 0 };
          assert.deepEqual(await s.usageByDay({ projectId: 'p', from: '2024-05-01', to: '2024-05-31' }), [
            { ...zero, day: '2024-05-01', requestsRead: 4, requestsWrite: 1, requestsList: 3, requestsDelete: 1, bytesIn: 7, bytesOut: 151 },
            { ...zero, day: '2024-05-03', requestsOther: 4 },
          ]);
          assert.deepEqual(await s.usageByDay({ projectId: 'p', from: '2024-05-01', to: '2024-05-01', bucket: 'c' }), [
            { ...zero, day: '2024-05-01', requestsList: 3 },
          ]);
          assert.deepEqual(await s.usageByDay({ projectId: 'p', from: '2024-05-01', to: '2024-05-01', tokenId: '' }), [
            { ...zero, day: '2024-05-01', requestsDelete: 1 },
          ]);
          assert.deepEqual(await s.usageByDay({ projectId: 'p', from: '2024-07-01', to: '2024-07-31' }), []);
        }));

      test('concurrent increments of one row are all counted', () =>
        withStore(async (s) => {
          await Promise.all(Array.from({ length: 20 }, () => s.addUsage([inc({ requestsRead: 1, bytesOut: 10 })])));
          const [day] = await s.usageByDay({ projectId: 'p', from: '2024-05-01', to: '2024-05-01' });
          assert.equal(day.requestsRead, 20);
          assert.equal(day.bytesOut, 200);
        }));

      test('storage snapshots: the last one of a day wins; a range starts from each bucket\'s latest earlier day', () =>
        withStore(async (s) => {
          const snap = (day: string, bucket: string, bytes: number, projectId = 'p') => ({ day, projectId, bucket, bytes, objects: bytes / 10 });
          await s.putStorageSnapshots([snap('2024-04-20', 'a', 10), snap('2024-04-25', 'a', 20), snap('2024-04-28', 'b', 500)]);
          await s.putStorageSnapshots([snap('2024-05-02', 'a', 30), snap('2024-05-02', 'b', 700), snap('2024-05-02', 'c', 900, 'q')]);
          await s.putStorageSnapshots([snap('2024-05-02', 'a', 40)]);
          await s.putStorageSnapshots([]);
          assert.deepEqual(await s.storageSnapshots({ projectId: 'p', from: '2024-05-01', to: '2024-05-31' }), [
            snap('2024-04-25', 'a', 20),
            snap('2024-04-28', 'b', 500),
            snap('2024-05-02', 'a', 40),
            snap('2024-05-02', 'b', 700),
          ]);
          assert.deepEqual(await s.storageSnapshots({ projectId: 'p', from: '2024-04-21', to: '2024-04-30', bucket: 'a' }), [
            snap('2024-04-20', 'a', 10),
            snap('2024-04-25', 'a', 20),
          ]);
          assert.deepEqual(await s.storageSnapshots({ projectId: 'p', from: '2024-01-01', to: '2024-01-31' }), []);
          assert.deepEqual(await s.storageSnapshots({ projectId: 'q', from: '2024-06-01', to: '2024-06-30' }), [snap('2024-05-02', 'c', 900, 'q')]);
        }));
    });

    describe('blob ledger', () => {
      const states = async (s: MetadataStore, wanted: string[]) => {
        const out: Record<string, string> = {};
        const far = new Date(8_000_000_000_000);
        for (const state of ['pending', 'released', 'collecting', 'collected'] as const) {
          for (const e of await s.dueBlobs(state, far, 1000)) if (wanted.includes(e.ref)) out[e.ref] = e.state;
        }
        return out;
      };

      test('a put adopts its pending blob and records the replaced one as released', ledgerOnly, () =>
        withBucket(async (s, b) => {
          const v1 = objectRow(b.id, 'k');
          await s.recordPendingBlobs([v1.blobs[0].ref], new Date(1000));
          assert.deepEqual(await states(s, refs(v1.blobs)), { [v1.blobs[0].ref]: 'pending' });
          await s.putObject(v1, { kind: 'none' });
          assert.deepEqual(await states(s, refs(v1.blobs)), {}, 'committed: no longer in the ledger');
          const v2 = objectRow(b.id, 'k');
          await s.recordPendingBlobs(refs(v2.blobs), new Date(2000));
          await s.putObject(v2, { kind: 'none' });
          assert.deepEqual(await states(s, [...refs(v1.blobs), ...refs(v2.blobs)]), { [v1.blobs[0].ref]: 'released' });
          assert.deepEqual(refs(await s.deleteObject(b.id, 'k')), refs(v2.blobs));
          assert.deepEqual(await states(s, refs(v2.blobs)), { [v2.blobs[0].ref]: 'released' });
          await s.forgetBlobs([v1.blobs[0].ref, v2.blobs[0].ref]);
          assert.deepEqual(await states(s, [...refs(v1.blobs), ...refs(v2.blobs)]), {});
        }));

      test('versioned writes: a new version adopts its blob and releases nothing; removing a version releases its blobs', ledgerOnly, () =>
        withBucket(async (s, b) => {
          const allow = () => true;
          const v1 = objectRow(b.id, 'k', { versionId: 'v1' });
          const v2 = objectRow(b.id, 'k', { versionId: 'v2' });
          await s.recordPendingBlobs([...refs(v1.blobs), ...refs(v2.blobs)], new Date(1000));
          assert.deepEqual(await s.putObject(v1, { kind: 'none' }, 'enabled', allow), { ok: true, replaced: [] });
          assert.deepEqual(await s.putObject(v2, { kind: 'none' }, 'enabled', allow), { ok: true, replaced: [] });
          assert.deepEqual(await states(s, [...refs(v1.blobs), ...refs(v2.blobs)]), {}, 'both adopted, v1 kept as a noncurrent version');
          const marker = await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm', lastModified: new Date(3000) }, 'enabled', allow);
          assert.deepEqual(marker, { ok: true, release: [] });
          assert.deepEqual(await states(s, [...refs(v1.blobs), ...refs(v2.blobs)]), {}, 'a delete marker hides, releases nothing');
          const gone = await s.deleteObjectVersion(b.id, 'k', 'v1', allow);
          assert.ok(gone.ok);
          assert.deepEqual(refs(gone.release), refs(v1.blobs));
          assert.deepEqual(await states(s, [...refs(v1.blobs), ...refs(v2.blobs)]), { [v1.blobs[0].ref]: 'released' });
          const loser = objectRow(b.id, 'k', { versionId: 'v3' });
          await s.recordPendingBlobs(refs(loser.blobs), new Date(4000));
          assert.deepEqual(await s.putObject(loser, { kind: 'ifMatch', etag: '"nope"' }, 'enabled', allow), { ok: false, reason: 'missing' });
          assert.deepEqual(await states(s, refs(loser.blobs)), { [loser.blobs[0].ref]: 'pending' }, 'a failed versioned write keeps its blob pending');
        }));

      test('a put that fails its condition keeps its blob pending', () =>
        withBucket(async (s, b) => {
          await s.putObject(objectRow(b.id, 'k'), { kind: 'none' });
          const loser = objectRow(b.id, 'k');
          await s.recordPendingBlobs(refs(loser.blobs), new Date(1000));
          assert.deepEqual(await s.putObject(loser, { kind: 'ifNoneMatch' }), { ok: false, reason: 'exists' });
          assert.deepEqual(await states(s, refs(loser.blobs)), { [loser.blobs[0].ref]: 'pending' });
        }));

      test('a blob the collector claimed or deleted cannot be committed', ledgerOnly, () =>
        withBucket(async (s, b) => {
          for (const to of ['collecting', 'collected'] as const) {
            const row = objectRow(b.id, `late-${to}`);
            const ref = row.blobs[0].ref;
            await s.recordPendingBlobs([ref], new Date(1000));
            const [seen] = (await s.dueBlobs('pending', new Date(1000), 1000)).filter((e) => e.ref === ref);
            assert.ok(await s.moveBlob(seen, to, new Date(2000)));
            await assert.rejects(s.putObject(row, { kind: 'none' }), /collected/);
            assert.equal(await s.getObject(b.id, row.key), null, 'nothing committed');
            assert.deepEqual(await states(s, [ref]), { [ref]: to }, 'the record stays');
          }
        }));

      test('parts: uploadPart adopts, a replaced part, an abort and a completion release', ledgerOnly, () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const p1 = partRow(u.uploadId, 1);
          await s.recordPendingBlobs([p1.blob.ref], new Date(1));
          await s.putPart(p1);
          const p1b = partRow(u.uploadId, 1);
          await s.putPart(p1b);
          const p2 = partRow(u.uploadId, 2);
          await s.putPart(p2);
          assert.deepEqual(await states(s, [p1.blob.ref, p1b.blob.ref]), { [p1.blob.ref]: 'released' });
          const out = await s.completeUpload(u.uploadId, objectRow(b.id, 'k', { blobs: [p1b.blob], partsCount: 1 }), { kind: 'none' });
          assert.ok(out.ok);
          assert.deepEqual(await states(s, [p1b.blob.ref, p2.blob.ref]), { [p2.blob.ref]: 'released' });
          // Sweeping the completed upload's row later releases nothing: its parts went with the completion.
          assert.equal(await s.deleteCompletedUploads(new Date(Date.now() + 1)), 1);
          assert.deepEqual(await states(s, [p1b.blob.ref, p2.blob.ref]), { [p2.blob.ref]: 'released' });

          const aborted = uploadRow(b.id, 'a');
          await s.createUpload(aborted);
          const pa = partRow(aborted.uploadId, 1);
          await s.putPart(pa);
          await s.abortUpload(aborted.uploadId);
          assert.deepEqual(await states(s, [pa.blob.ref]), { [pa.blob.ref]: 'released' });
        }));

      test('completeUpload refuses an object whose part was uploaded again meanwhile', () =>
        withBucket(async (s, b) => {
          const u = uploadRow(b.id, 'k');
          await s.createUpload(u);
          const first = partRow(u.uploadId, 1);
          await s.putPart(first);
          await s.putPart(partRow(u.uploadId, 1)); // the client sent part 1 again
          const stale = objectRow(b.id, 'k', { blobs: [first.blob], partsCount: 1 });
          assert.deepEqual(await s.completeUpload(u.uploadId, stale, { kind: 'none' }), { ok: false, reason: 'invalid-part' });
          assert.equal(await s.getObject(b.id, 'k'), null);
          assert.ok(await s.getUpload(u.uploadId), 'the upload is still there');
        }));

      test('dueBlobs returns the oldest records of a state; moveBlob is a compare-and-swap; renew moves pending records only', () =>
        withStore(async (s) => {
          const [a, c, d] = [newBlob().ref, newBlob().ref, newBlob().ref];
          await s.recordPendingBlobs([a], new Date(3000));
          await s.recordPendingBlobs([c, d], new Date(1000));
          const due = await s.dueBlobs('pending', new Date(2000), 10);
          assert.deepEqual(due.map((e) => e.ref).sort(), [c, d].sort());
          assert.ok(due.every((e) => e.at.getTime() === 1000 && e.state === 'pending' && typeof e.nodeId === 'string'));
          assert.equal((await s.dueBlobs('pending', new Date(5000), 1)).length, 1, 'limit');
          const seen = due.find((e) => e.ref === c)!;
          assert.equal(await s.moveBlob(seen, 'collecting', new Date(4000)), true);
          assert.equal(await s.moveBlob(seen, 'collecting', new Date(4001)), false, 'a second claim of what was seen loses');
          await s.renewPendingBlobs([c, d], new Date(9000));
          assert.deepEqual((await s.dueBlobs('pending', new Date(5000), 10)).map((e) => e.ref), [a], 'd renewed');
          assert.deepEqual((await s.dueBlobs('collecting', new Date(5000), 10)).map((e) => e.ref), [c], 'collecting is not renewed');
        }));

      test('pins: held until they expire or are dropped', () =>
        withStore(async (s) => {
          const [a, c] = [newBlob().ref, newBlob().ref];
          await s.holdPins([a, c], new Date(10_000));
          assert.deepEqual(await s.pinnedBlobs([a, c, 'other'], new Date(5000)), new Set([a, c]));
          await s.holdPins([a], new Date(20_000));
          await s.dropPins([c]);
          assert.deepEqual(await s.pinnedBlobs([a, c], new Date(15_000)), new Set([a]));
          assert.deepEqual(await s.pinnedBlobs([a], new Date(20_000)), new Set(), 'expired');
        }));

      test('limiter events: recent ones of a key in order, cleared by key or by age', () =>
        withStore(async (s) => {
          for (const at of [300, 100, 200, 100]) await s.addLimiterEvent('sign-in|a', at);
          await s.addLimiterEvent('sign-in|b', 150);
          assert.deepEqual(await s.limiterEvents('sign-in|a', 100), [100, 100, 200, 300]);
          assert.deepEqual(await s.limiterEvents('sign-in|a', 150), [200, 300]);
          await s.clearLimiterEvents({ before: 200 });
          assert.deepEqual(await s.limiterEvents('sign-in|a', 0), [200, 300]);
          assert.deepEqual(await s.limiterEvents('sign-in|b', 0), []);
          await s.clearLimiterEvents({ key: 'sign-in|a' });
          assert.deepEqual(await s.limiterEvents('sign-in|a', 0), []);
        }));

      test('limiter events added below a limit: counted and added at once, so racers cannot both take the last place', () =>
        withStore(async (s) => {
          await s.addLimiterEvent('rate|a', 50);
          // Concurrent calls (several pooled connections on PostgreSQL): exactly the room left is taken.
          const added = await Promise.all(Array.from({ length: 12 }, () => s.addLimiterEventBelow('rate|a', 5, 100, 200)));
          assert.equal(added.filter(Boolean).length, 5);
          assert.deepEqual(await s.limiterEvents('rate|a', 100), [200, 200, 200, 200, 200]);
          assert.equal(await s.addLimiterEventBelow('rate|b', 5, 100, 200), true, 'keys are counted apart');
          assert.equal(await s.addLimiterEventBelow('rate|a', 5, 201, 300), true, 'events before `since` do not count');
        }));

      test('exclusive runs one holder of a name at a time', () =>
        withStore(async (s) => {
          const events: string[] = [];
          const hold = (who: string, name: string) =>
            s.exclusive(name, async () => {
              events.push(`${who}+`);
              await new Promise((r) => setTimeout(r, 50));
              events.push(`${who}-`);
              return who;
            });
          assert.deepEqual(await Promise.all([hold('a', 'x'), hold('b', 'x')]), ['a', 'b']);
          assert.ok(events.join() === 'a+,a-,b+,b-' || events.join() === 'b+,b-,a+,a-', events.join());
        }));
    });

    describe('referencedBlobRefs', () => {
      test('holds every object blob and every part blob, and nothing released', () =>
        withBucket(async (s, b) => {
          assert.deepEqual(await s.referencedBlobRefs(), new Set());
          const o1 = objectRow(b.id, 'a', { blobs: [newBlob(), newBlob()] });
          const o2 = objectRow(b.id, 'b');
          const gone = objectRow(b.id, 'c');
          for (const o of [o1, o2, gone]) await s.putObject(o, { kind: 'none' });
          await s.deleteObject(b.id, 'c');
          const u = uploadRow(b.id, 'm');
          await s.createUpload(u);
          const p = partRow(u.uploadId, 1);
          await s.putPart(p);
          const aborted = uploadRow(b.id, 'n');
          await s.createUpload(aborted);
          const pa = partRow(aborted.uploadId, 1);
          await s.putPart(pa);
          await s.abortUpload(aborted.uploadId);

          const want = new Set([...o1.blobs, ...o2.blobs, p.blob].map((x) => x.ref));
          assert.deepEqual(await s.referencedBlobRefs(), want);
        }));

      test('reads objects, versions and parts a page at a time, missing none across page boundaries', () =>
        withBucket(async (s, b) => {
          const want = new Set<string>();
          // Keys that sort across pages of two rows; versions of one key; a delete marker holds nothing.
          for (const key of ['a', 'b', 'c', 'd', 'e']) {
            const o = objectRow(b.id, key);
            await s.putObject(o, { kind: 'none' });
            want.add(o.blobs[0].ref);
          }
          for (let i = 1; i <= 5; i++) {
            const v = objectRow(b.id, 'v', { versionId: `version-${i}`, blobs: [newBlob(), newBlob()] });
            assert.ok((await s.putObject(v, { kind: 'none' }, 'enabled', () => true)).ok);
            for (const x of v.blobs) want.add(x.ref);
          }
          assert.ok((await s.putDeleteMarker({ bucketId: b.id, key: 'v', versionId: 'marker', lastModified: new Date() }, 'enabled', () => true)).ok);
          for (const key of ['m', 'n']) {
            const u = uploadRow(b.id, key);
            await s.createUpload(u);
            for (let n = 1; n <= 3; n++) {
              const p = partRow(u.uploadId, n);
              await s.putPart(p);
              want.add(p.blob.ref);
            }
          }
          for (const pageSize of [1, 2, 3, 1000]) assert.deepEqual(await s.referencedBlobRefs(pageSize), want, `pages of ${pageSize}`);
          // The orphan sweep's view: the same refs, asked about in batches.
          const snapshot = await s.snapshotBlobReferences();
          assert.deepEqual(await snapshot.referenced([...want, hex(16)]), want);
          await snapshot.close();
        }));
    });
  });
}
