// test-engines: postgres
// The metadata contract on PostgreSQL (the run's throwaway cluster, whose default collation is
// ICU's en-US, so byte order has to come from the schema), plus what only PostgreSQL can show:
// several nodes migrating one empty database at once, and the races READ COMMITTED lets through
// when two connections really run at the same time.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { engine, freshDatabase, freshSchemaUrl } from '../../../test/helpers/engines.js';
import { metadataStoreContract, newBlob, objectRow, partRow, uploadRow } from './contract.js';
import type { BucketRow, MetadataStore, PartRow, UploadRow } from './metadata-store.js';
import { openPostgresStore } from './postgres-store.js';
import { isStoreError } from './store-errors.js';
import {
  assertConsoleTokensAfter0014,
  assertNewerSchemaRefused,
  assertTemporaryCredentialsAfter0013,
  assertUploadsAfter0012,
  seedConsoleTokensBefore0014,
  seedNewerSchema,
  seedTemporaryCredentialsBefore0013,
  seedUploadsBefore0012,
} from './upgrade-fixtures.js';
import { SecretBox } from '../../credentials/secret-box.js';

const available = engine('postgres');
const opened: MetadataStore[] = [];
after(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
});

async function openFresh(): Promise<MetadataStore> {
  available.require();
  return openPostgresStore(await freshSchemaUrl(), { poolSize: 8 });
}

if (available.skip) {
  test('PostgreSQL metadata store', { skip: available.skip }, () => undefined);
} else {
  metadataStoreContract('PostgreSQL', openFresh);
}

const hex = (n: number) => randomBytes(n).toString('hex');

/** Starts `fn` after a random pause of up to 4 ms, so that races end both ways over a few rounds. */
const jittered = <T>(fn: () => Promise<T>): Promise<T> => new Promise((r) => setTimeout(r, Math.random() * 4)).then(fn);

/** An upload of key k in progress, with part 1 stored. */
async function uploadWithPart(store: MetadataStore, bucketId: string): Promise<{ u: UploadRow; p1: PartRow }> {
  const u = uploadRow(bucketId, 'k');
  await store.createUpload(u);
  const p1 = partRow(u.uploadId, 1);
  await store.putPart(p1);
  return { u, p1 };
}

/** Two stores (two pools: two "nodes") on one fresh schema, with a project. */
async function twoNodes(): Promise<{ a: MetadataStore; b: MetadataStore; newBucket(): Promise<BucketRow> }> {
  available.require();
  const url = await freshSchemaUrl();
  const a = await openPostgresStore(url, { nodeId: 'a', poolSize: 8 });
  const b = await openPostgresStore(url, { nodeId: 'b', poolSize: 8 });
  opened.push(a, b);
  await a.createProject({ id: 'p', name: 'p', createdAt: new Date(1), maxTokenDays: null });
  return {
    a,
    b,
    async newBucket() {
      const bucket: BucketRow = { id: `bkt_${hex(6)}`, projectId: 'p', name: `race-${hex(4)}`, region: 'us-east-1', createdAt: new Date(1) };
      await a.createBucket(bucket);
      return bucket;
    },
  };
}

/** A schema seeded raw by `seed` (in an older schema), then opened, and so migrated, by the store for `check`. */
async function upgraded(seed: (db: Kysely<any>) => Promise<void>, check: (s: MetadataStore) => Promise<void>): Promise<void> {
  available.require();
  // A database of its own: migrations run without a schema name find Kysely's tables in any schema.
  const url = await freshDatabase();
  await withRawDb(url, seed);
  const s = await openPostgresStore(url, { poolSize: 2 });
  opened.push(s);
  await check(s);
}

async function withRawDb(url: string, fn: (db: Kysely<any>) => Promise<void>): Promise<void> {
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }) });
  try {
    await fn(db);
  } finally {
    await db.destroy();
  }
}

describe('PostgreSQL specifics', { skip: available.skip }, () => {
  test('several nodes migrating one empty database at once: all start, the schema is made once', async () => {
    available.require();
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, (_, i) => openPostgresStore(url, { nodeId: `n${i}`, poolSize: 2 })));
    opened.push(...stores);
    await stores[0].createProject({ id: 'p', name: 'p', createdAt: new Date(1), maxTokenDays: null });
    assert.equal((await stores[4].getProject('p'))?.name, 'p');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query('select name, count(*)::int as n from kysely_migration group by name order by name');
      assert.ok(rows.length >= 6, `${rows.length} migrations`);
      assert.ok(rows.every((r: { n: number }) => r.n === 1), 'each migration recorded once');
    } finally {
      await client.end();
    }
  });

  test('numbers come back as numbers: sums of bigint, counts and sizes past 2^32', async () => {
    const s = await openFresh();
    opened.push(s);
    await s.createProject({ id: 'p', name: 'p', createdAt: new Date(1), maxTokenDays: 7 });
    await s.createBucket({ id: 'b', projectId: 'p', name: 'b', region: 'r', createdAt: new Date(1) });
    await s.putObject(objectRow('b', 'k', { blobs: [newBlob(6 * 1024 ** 3)] }), { kind: 'none' });
    // A second version: the first becomes noncurrent, summed from object_versions.
    await s.putObject(objectRow('b', 'k', { blobs: [newBlob(5 * 1024 ** 3)], versionId: 'v2' }), { kind: 'none' }, 'enabled');
    const stats = await s.bucketStats('b');
    assert.deepEqual(stats, { objects: 1, bytes: 5 * 1024 ** 3, noncurrentVersions: 1, noncurrentBytes: 6 * 1024 ** 3, deleteMarkers: 0 });
    assert.equal(typeof stats.bytes, 'number');
    assert.equal(typeof stats.noncurrentBytes, 'number');
    assert.equal((await s.getProject('p'))?.maxTokenDays, 7);
  });

  test('an object insert racing a bucket delete: the bucket is not-empty, or the insert fails on the missing bucket', async () => {
    const { a, b, newBucket } = await twoNodes();
    for (let round = 0; round < 30; round++) {
      const bucket = await newBucket();
      const [del, put] = await Promise.allSettled([
        jittered(() => a.deleteBucket(bucket.id)),
        jittered(() => b.putObject(objectRow(bucket.id, 'k'), { kind: 'none' })),
      ]);
      assert.equal(del.status, 'fulfilled', String((del as PromiseRejectedResult).reason));
      if (del.value === 'deleted') {
        assert.equal(put.status, 'rejected', 'the bucket is gone, so the put cannot have committed');
        assert.ok(isStoreError(put.reason, 'foreign-key'), String(put.reason));
      } else {
        assert.equal(put.status, 'fulfilled', String((put as PromiseRejectedResult).reason));
        assert.ok(await a.getObject(bucket.id, 'k'));
      }
    }
  });

  test('concurrent deletes of one bucket: one deleted it, the others find it gone', async () => {
    const { a, b, newBucket } = await twoNodes();
    for (let round = 0; round < 20; round++) {
      const bucket = await newBucket();
      const outcomes = await Promise.all([a, b, a, b].map((s) => jittered(() => s.deleteBucket(bucket.id))));
      assert.deepEqual([...outcomes].sort(), ['deleted', 'gone', 'gone', 'gone'], JSON.stringify(outcomes));
    }
  });

  test('a part upload racing an abort: the part is refused, or the abort returns its blob', async () => {
    const { a, b, newBucket } = await twoNodes();
    const bucket = await newBucket();
    for (let round = 0; round < 30; round++) {
      const { u } = await uploadWithPart(a, bucket.id);
      const late = partRow(u.uploadId, 2);
      const [abort, put] = await Promise.all([jittered(() => a.abortUpload(u.uploadId)), jittered(() => b.putPart(late))]);
      assert.ok(abort, 'the abort found the upload');
      const released = abort.map((x) => x.ref);
      if (put.ok) assert.ok(released.includes(late.blob.ref), 'a part that got in is released by the abort');
      else assert.ok(!released.includes(late.blob.ref));
      assert.equal(await a.getUpload(u.uploadId), null);
      assert.deepEqual(await a.listParts(u.uploadId, 0, 10), []);
    }
  });

  test('two nodes completing one upload: exactly one wins, the other finds no upload', async () => {
    const { a, b, newBucket } = await twoNodes();
    const bucket = await newBucket();
    for (let round = 0; round < 20; round++) {
      const { u, p1: p } = await uploadWithPart(a, bucket.id);
      const object = objectRow(bucket.id, 'k', { blobs: [p.blob] });
      const outs = await Promise.all([
        jittered(() => a.completeUpload(u.uploadId, object, { kind: 'none' })),
        jittered(() => b.completeUpload(u.uploadId, object, { kind: 'none' })),
      ]);
      assert.equal(outs.filter((o) => o.ok).length, 1);
      assert.deepEqual(outs.find((o) => !o.ok), { ok: false, reason: 'no-such-upload' });
    }
  });

  test('a part upload racing a completion: the part is refused, or the completion took it; none joins the completed upload', async () => {
    const { a, b, newBucket } = await twoNodes();
    const bucket = await newBucket();
    for (let round = 0; round < 30; round++) {
      const { u, p1 } = await uploadWithPart(a, bucket.id);
      const late = partRow(u.uploadId, 2);
      const object = objectRow(bucket.id, 'k', { blobs: [p1.blob] });
      const [done, put] = await Promise.all([jittered(() => a.completeUpload(u.uploadId, object, { kind: 'none' }, 'unversioned', undefined, [p1])), jittered(() => b.putPart(late))]);
      assert.ok(done.ok, JSON.stringify(done));
      // A part that got in before the completion is one it released (left out of the object).
      assert.equal(done.release.some((x) => x.ref === late.blob.ref), put.ok);
      assert.deepEqual(await a.listParts(u.uploadId, 0, 10), []);
      assert.ok((await a.getUpload(u.uploadId))?.completion);
    }
  });

  test('an abort racing a completion: exactly one of them has the upload', async () => {
    const { a, b, newBucket } = await twoNodes();
    const bucket = await newBucket();
    for (let round = 0; round < 30; round++) {
      const { u, p1 } = await uploadWithPart(a, bucket.id);
      const object = objectRow(bucket.id, 'k', { blobs: [p1.blob] });
      const [done, abort] = await Promise.all([jittered(() => a.completeUpload(u.uploadId, object, { kind: 'none' }, 'unversioned', undefined, [p1])), jittered(() => b.abortUpload(u.uploadId))]);
      if (done.ok) {
        assert.equal(abort, null);
        assert.ok((await a.getUpload(u.uploadId))?.completion);
      } else {
        assert.deepEqual(done, { ok: false, reason: 'no-such-upload' });
        assert.deepEqual(abort?.map((x) => x.ref), [p1.blob.ref]);
        assert.equal(await a.getUpload(u.uploadId), null);
      }
    }
  });

  test('upgrading to completed uploads: uploads in progress keep their parts and complete; listings read the partial index', async () => {
    available.require();
    const url = await freshDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    try {
      await seedUploadsBefore0012(db, 'postgres');
    } finally {
      await db.destroy();
    }
    const s = await openPostgresStore(url, { poolSize: 2 });
    opened.push(s);
    await assertUploadsAfter0012(s);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(`select indexname, indexdef from pg_indexes where tablename = 'multipart_uploads' and indexname in ('multipart_uploads_listing', 'multipart_uploads_completed') order by indexname`);
      assert.deepEqual(rows.map((r: { indexname: string; indexdef: string }) => [r.indexname, /WHERE \(completed_at IS (NOT )?NULL\)$/.exec(r.indexdef)?.[0]]), [
        ['multipart_uploads_completed', 'WHERE (completed_at IS NOT NULL)'],
        ['multipart_uploads_listing', 'WHERE (completed_at IS NULL)'],
      ]);
    } finally {
      await client.end();
    }
  });

  test('upgrading revokes the temporary credentials of a token disabled before: enabling it does not bring them back', async () => {
    const box = new SecretBox(randomBytes(32));
    await upgraded((db) => seedTemporaryCredentialsBefore0013(db, 'postgres', box), (s) => assertTemporaryCredentialsAfter0013(s, box));
  });

  test('upgrading revokes the console tokens of users who left their project or changed role; a re-added member gets a new one', async () => {
    const box = new SecretBox(randomBytes(32));
    await upgraded((db) => seedConsoleTokensBefore0014(db, 'postgres', box), (s) => assertConsoleTokensAfter0014(s, box));
  });

  test('a database a newer skep migrated is refused as such, before any migration runs', async () => {
    available.require();
    const url = await freshSchemaUrl();
    await (await openPostgresStore(url, { poolSize: 2 })).close();
    await withRawDb(url, async (db) => {
      await seedNewerSchema(db);
      await assertNewerSchemaRefused(() => openPostgresStore(url, { poolSize: 2 }), db, 'database');
    });
  });

  test('concurrent overwrites of one key from two nodes: every put succeeds and every replaced blob is released once', async () => {
    const { a, b, newBucket } = await twoNodes();
    const bucket = await newBucket();
    const rows = Array.from({ length: 40 }, () => objectRow(bucket.id, 'hot'));
    const outs = await Promise.all(rows.map((r, i) => (i % 2 ? a : b).putObject(r, { kind: 'none' })));
    assert.ok(outs.every((o) => o.ok));
    const final = await a.getObject(bucket.id, 'hot');
    const released = outs.flatMap((o) => (o.ok ? o.replaced.map((x) => x.ref) : [])).sort();
    const losers = rows.filter((r) => r.etag !== final?.etag).map((r) => r.blobs[0].ref).sort();
    assert.deepEqual(released, losers);
    const ledger = await a.dueBlobs('released', new Date(Date.now() + 60_000), 1000);
    assert.deepEqual(ledger.map((e) => e.ref).sort(), losers, 'each recorded as released, in the same transactions');
  });

  test('exclusive is one holder across nodes', async () => {
    const { a, b } = await twoNodes();
    let inside = 0;
    let most = 0;
    const hold = (s: MetadataStore) =>
      s.exclusive('bootstrap', async () => {
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 30));
        inside--;
      });
    await Promise.all([hold(a), hold(b), hold(a), hold(b)]);
    assert.equal(most, 1);
  });

  test('keys, bucket names and upload listings order by bytes under a linguistic default collation', async () => {
    const { a, newBucket } = await twoNodes();
    const bucket = await newBucket();
    // In en-US, "B" sorts after "a"; in bytes (S3's order), before.
    for (const k of ['a', 'B', '_x', 'Z']) await a.putObject(objectRow(bucket.id, k), { kind: 'none' });
    assert.deepEqual((await a.listObjects(bucket.id, { prefix: '', limit: 10 })).map((o) => o.key), ['B', 'Z', '_x', 'a']);
    for (const k of ['b', 'A']) await a.createUpload(uploadRow(bucket.id, k));
    assert.deepEqual((await a.listUploads(bucket.id, { prefix: '', limit: 10 })).map((u) => u.key), ['A', 'b']);
    for (const n of ['b-x', 'b.x', 'b0']) await a.createBucket({ id: `bkt_${hex(4)}`, projectId: 'p', name: n, region: 'r', createdAt: new Date(1) });
    const names = (await a.listBuckets('p')).map((x) => x.name);
    assert.deepEqual(names, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  });
});
