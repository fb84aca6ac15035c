import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MAX_SQLITE_RELEASE, sqliteDriver, sqliteDriverName } from './sqlite-driver.js';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { bucketRow, metadataStoreContract, objectRow, projectRow } from './contract.js';
import { listObjectsQuery, listUploadsQuery } from './queries.js';
import { versionRangeQueries } from './version-queries.js';
import { migrations, type Database } from './schema.js';
import { openSqliteStore } from './sqlite-store.js';
import {
  assertConsoleTokensAfter0014,
  assertNewerSchemaRefused,
  assertTemporaryCredentialsAfter0013,
  assertUploadsAfter0012,
  migrateBefore,
  seedConsoleTokensBefore0014,
  seedNewerSchema,
  seedTemporaryCredentialsBefore0013,
  seedUploadsBefore0012,
} from './upgrade-fixtures.js';
import { SecretBox } from '../../credentials/secret-box.js';
import type { MetadataStore } from './metadata-store.js';
import { insertObjectsLike } from './sqlite-bulk-objects.js';

const BetterSqlite3 = sqliteDriver();

const dir = mkdtempSync(join(tmpdir(), 'skep-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(dir, `meta-${++n}.sqlite`);

/** A fresh store's schema, analyzed, opened raw for query-plan checks; closed after `check`. */
async function withAnalyzedSchema(check: (db: Kysely<Database>, raw: InstanceType<typeof BetterSqlite3>) => void): Promise<void> {
  const file = freshFile();
  await (await openSqliteStore(file)).close();
  const raw = new BetterSqlite3(file);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    raw.exec('ANALYZE');
    check(db, raw);
  } finally {
    await db.destroy();
  }
}

/** SQLite's plan for a compiled query, its steps joined by ' | '. */
function queryPlan(raw: InstanceType<typeof BetterSqlite3>, compiled: { sql: string; parameters: readonly unknown[] }): string {
  return (raw.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...compiled.parameters) as Array<{ detail: string }>).map((p) => p.detail).join(' | ');
}

/**
 * A separate process that bumps a counter object by compare-and-swap (ifMatch) `rounds` times,
 * and prints how many of its swaps succeeded.
 */
function counterProcess(file: string, who: string, rounds: number): Promise<number> {
  const code = `
    import { openSqliteStore } from ${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).href)};
    const s = await openSqliteStore(${JSON.stringify(file)});
    let ok = 0;
    for (let i = 0; i < ${rounds}; i++) {
      const cur = await s.getObject('b', 'counter');
      const next = { ...cur, etag: '"${who}-' + i + '"', userMetadata: { n: String(Number(cur.userMetadata.n) + 1) } };
      if ((await s.putObject(next, { kind: 'ifMatch', etag: cur.etag })).ok) ok++;
    }
    await s.close();
    console.log(ok);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(Number(out.trim())) : reject(new Error(`${who} exited ${status}: ${err}`))));
  });
}

metadataStoreContract('SQLite file', () => openSqliteStore(freshFile()));
metadataStoreContract('SQLite :memory:, without the blob ledger (the embedded default)', () => openSqliteStore(':memory:', { blobLedger: false }), { blobLedger: false });

/** A file seeded raw by `seed` (in an older schema), then opened, and so migrated, by the store for `check`. */
async function upgraded(seed: (db: Kysely<any>) => Promise<void>, check: (s: MetadataStore) => Promise<void>): Promise<void> {
  const file = freshFile();
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  try {
    await seed(db);
  } finally {
    await db.destroy();
  }
  const s = await openSqliteStore(file);
  try {
    await check(s);
  } finally {
    await s.close();
  }
}

describe('SQLite specifics', () => {
  test(`the driver's SQLite is at most ${MAX_SQLITE_RELEASE.join('.')}, which keeps joined statements prepared (see sqlite-driver.ts)`, () => {
    const raw = new BetterSqlite3(':memory:');
    try {
      const version = raw.prepare('select sqlite_version()').pluck().get() as string;
      const [major, minor] = version.split('.').map(Number);
      const [maxMajor, maxMinor] = MAX_SQLITE_RELEASE;
      assert.ok(major < maxMajor || (major === maxMajor && minor <= maxMinor), `${sqliteDriverName()} bundles SQLite ${version}`);
    } finally {
      raw.close();
    }
  });

  test('data survives close and reopen; migrating twice is harmless', async () => {
    const file = freshFile();
    const s1 = await openSqliteStore(file);
    await s1.createProject({ id: 'p1', name: 'one', createdAt: new Date(1), maxTokenDays: null });
    await s1.close();
    const s2 = await openSqliteStore(file);
    assert.deepEqual(await s2.getProject('p1'), { id: 'p1', name: 'one', createdAt: new Date(1), maxTokenDays: null });
    await s2.close();
  });

  test('the file is in WAL mode and foreign keys are enforced', async () => {
    const file = freshFile();
    const s = await openSqliteStore(file);
    try {
      const bucket = { id: 'b1', projectId: 'no-such-project', name: 'x', region: 'r', createdAt: new Date(0) };
      await assert.rejects(s.createBucket(bucket), /FOREIGN KEY/);
      const raw = new BetterSqlite3(file, { readonly: true });
      try {
        assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        raw.close();
      }
    } finally {
      await s.close();
    }
  });

  test('a second store on the same file sees committed writes', async () => {
    const file = freshFile();
    const a = await openSqliteStore(file);
    const b = await openSqliteStore(file);
    try {
      await a.createProject({ id: 'p', name: 'p', createdAt: new Date(5), maxTokenDays: null });
      await a.createBucket({ id: 'b', projectId: 'p', name: 'b', region: 'r', createdAt: new Date(5) });
      assert.equal((await b.getBucket('p', 'b'))?.id, 'b');
      assert.equal(await b.createBucket({ id: 'b2', projectId: 'p', name: 'b', region: 'r', createdAt: new Date(6) }), 'exists');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('processes sharing the file serialize read-then-write transactions without SQLITE_BUSY', async () => {
    const file = freshFile();
    const s = await openSqliteStore(file);
    try {
      await s.createProject({ id: 'p', name: 'p', createdAt: new Date(0), maxTokenDays: null });
      await s.createBucket({ id: 'b', projectId: 'p', name: 'b', region: 'r', createdAt: new Date(0) });
      const counter = {
        bucketId: 'b', key: 'counter', size: 0, etag: '"0"', lastModified: new Date(0), headers: {},
        userMetadata: { n: '0' }, checksum: null, blobs: [], partsCount: null, tags: {}, storageClass: 'STANDARD',
      };
      await s.putObject(counter, { kind: 'none' });
      // Deferred BEGIN fails here with SQLITE_BUSY_SNAPSHOT; the store must use BEGIN IMMEDIATE.
      const wins = await Promise.all(['A', 'B', 'C'].map((who) => counterProcess(file, who, 150)));
      const total = wins.reduce((a, b) => a + b, 0);
      assert.ok(total > 0);
      // Every successful swap is counted exactly once: no lost update, no double success.
      assert.equal((await s.getObject('b', 'counter'))?.userMetadata.n, String(total));
    } finally {
      await s.close();
    }
  });

  test('listObjects seeks the primary key index with one range and no sort', async () => {
    await withAnalyzedSchema((db, raw) => {
      const cases = [
        { prefix: 'photos/', limit: 1000 },
        { prefix: 'photos/', after: 'photos/2024', limit: 1000 },
        { prefix: 'photos/', after: 'a', from: 'photos/x', limit: 1000 },
        { prefix: '', after: 'k', limit: 1000 },
      ];
      for (const q of cases) {
        const compiled = listObjectsQuery(db, 'bucket', q).compile();
        // Exactly one lower bound on key: several would leave all but one as row-by-row filters.
        assert.equal((compiled.sql.match(/"key" >/g) ?? []).length, 1, compiled.sql);
        const details = queryPlan(raw, compiled);
        // `objects` is its own (bucket_id, key) B-tree (WITHOUT ROWID): no lookup per row.
        assert.match(details, /SEARCH objects USING PRIMARY KEY \(bucket_id=\? AND key>\?( AND key<\?)?\)/, details);
        assert.doesNotMatch(details, /TEMP B-TREE/, details);
      }
    });
  });

  test('a delimiter listing read twice is served from the page cache, not re-read from the file', async (t) => {
    if (!existsSync('/proc/self/io')) return t.skip('needs /proc/self/io to count read syscalls');
    const file = freshFile();
    const s = await openSqliteStore(file);
    try {
      const project = projectRow();
      await s.createProject(project);
      const bucket = bucketRow(project.id, 'b');
      await s.createBucket(bucket);
      await s.putObject(objectRow(bucket.id, 't'), { kind: 'none' });
      // 6,000 common prefixes of 20 long keys: each prefix's seek lands on a leaf of its own in the
      // (bucket_id, key) index, about 24 MB of leaves in all, more than the 16 MB page cache that
      // better-sqlite3 defaults to.
      const prefixes = 6000;
      insertObjectsLike(file, bucket.id, prefixes * 20, (i) => ({ key: `dir-${String(Math.floor(i / 20)).padStart(5, '0')}/${'long-name-'.repeat(18)}${i % 20}` }));
      const everyPrefix = async () => {
        let seen = 0;
        let after: string | undefined;
        for (;;) {
          const page = (await s.listDelimited(bucket.id, { range: 'dir-', prefix: 'dir-', delimiter: '/', limit: 1000, ...(after ? { after } : {}) }))!;
          if (page.length === 0) return seen;
          seen += page.length;
          after = `${page.at(-1) as string}\u{10ffff}`;
        }
      };
      const readSyscalls = () => Number(/^syscr: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
      assert.equal(await everyPrefix(), prefixes);
      const before = readSyscalls();
      assert.equal(await everyPrefix(), prefixes);
      const reads = readSyscalls() - before;
      // With the default cache, every leaf is read again: thousands of reads.
      assert.ok(reads < 100, `${reads} read syscalls for the second listing`);
    } finally {
      await s.close();
    }
  });

  test('ListObjectVersions reads two index ranges in listing order, with no sort, however many versions', async () => {
    await withAnalyzedSchema((db, raw) => {
      for (const q of [{ prefix: 'photos/', limit: 100 }, { prefix: '', keyMarker: 'k', limit: 100 }, { prefix: 'a', from: 'ab', limit: 100 }]) {
        const [currents, stored] = versionRangeQueries(db, 'bucket', q, q.limit);
        for (const [query, table] of [[currents, 'objects'], [stored, 'object_versions']] as const) {
          const details = queryPlan(raw, query.compile());
          const index = table === 'objects' ? 'PRIMARY KEY' : 'INDEX \\S+';
          assert.match(details, new RegExp(`SEARCH ${table} USING ${index} \\(bucket_id=\\? AND key>\\?( AND key<\\?)?\\)`), details);
          assert.doesNotMatch(details, /TEMP B-TREE/, details);
        }
      }
    });
  });

  test('upgrading keeps every object and puts them in key order in their own B-tree', async () => {
    const file = freshFile();
    const raw = new BetterSqlite3(file);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    const keys = ['z', 'a/b', '\u{1f600}', 'a', '\uffff', 'a-b', 'caf\u00e9'];
    try {
      await migrateBefore(db, 'sqlite', '0010');
      assert.doesNotMatch(String((raw.prepare(`select sql from sqlite_master where name = 'objects'`).get() as { sql: string }).sql), /without rowid/i);
      for (const [i, key] of keys.entries()) {
        await db
          .insertInto('objects')
          .values({ bucket_id: 'b1', key, size: i, etag: `"e${i}"`, last_modified: i, headers: '{}', user_metadata: `{"n":"${i}"}`, checksum: null, blobs: '[]', parts_count: null, tags: '{}', storage_class: 'STANDARD', version_id: `v${i}`, seq: i, legal_hold: i % 2 })
          .execute();
      }
    } finally {
      await db.destroy();
    }
    for (let open = 0; open < 2; open++) {
      const s = await openSqliteStore(file); // migrates (and, the second time, finds nothing to do)
      try {
        const listed = await s.listObjects('b1', { prefix: '', limit: 100 });
        assert.deepEqual(listed.map((o) => o.key), [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
        for (const [i, key] of keys.entries()) {
          const o = await s.getObject('b1', key);
          assert.deepEqual([o?.size, o?.etag, o?.userMetadata, o?.versionId, o?.legalHold], [i, `"e${i}"`, { n: String(i) }, `v${i}`, i % 2 === 1 ? true : null], 'a hold not on reads as never placed');
        }
      } finally {
        await s.close();
      }
    }
    const check = new BetterSqlite3(file, { readonly: true });
    try {
      assert.match(String((check.prepare(`select sql from sqlite_master where name = 'objects'`).get() as { sql: string }).sql), /references "buckets".*without rowid$/is);
      assert.equal(check.prepare(`select count(*) as n from sqlite_master where name = 'objects_by_key'`).pluck().get(), 0);
    } finally {
      check.close();
    }
  });

  test('upgrading to daily storage figures gives every existing bucket today\'s figure', async () => {
    const file = freshFile();
    const raw = new BetterSqlite3(file);
    // Typed loosely: this database stops at 0002, older than today's Database type.
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    try {
      const all = migrations('sqlite');
      const before = { '0001_initial': all['0001_initial'], '0002_users_sessions_usage': all['0002_users_sessions_usage'] };
      const { error } = await new Migrator({ db, provider: { getMigrations: async () => before } }).migrateToLatest();
      assert.equal(error, undefined);
      await db.insertInto('projects').values({ id: 'p', name: 'p', created_at: 0, max_token_days: null }).execute();
      for (const [id, name] of [['b1', 'full'], ['b2', 'empty']]) {
        await db.insertInto('buckets').values({ id, project_id: 'p', name, region: 'r', created_at: 0 }).execute();
      }
      for (const [key, size] of [['a', 10], ['b', 32]] as const) {
        await db
          .insertInto('objects')
          .values({ bucket_id: 'b1', key, size, etag: '"e"', last_modified: 0, headers: '{}', user_metadata: '{}', checksum: null, blobs: '[]', parts_count: null, tags: '{}', storage_class: 'STANDARD' })
          .execute();
      }
    } finally {
      await db.destroy();
    }
    const s = await openSqliteStore(file);
    try {
      const today = new Date().toISOString().slice(0, 10);
      assert.deepEqual(await s.storageSnapshots({ projectId: 'p', from: today, to: today }), [
        { day: today, projectId: 'p', bucket: 'empty', bytes: 0, objects: 0 },
        { day: today, projectId: 'p', bucket: 'full', bytes: 42, objects: 2 },
      ]);
    } finally {
      await s.close();
    }
  });
  test('ListMultipartUploads reads the partial index of uploads in progress, in order, with no sort', async () => {
    await withAnalyzedSchema((db, raw) => {
      for (const q of [{ prefix: '', limit: 1000 }, { prefix: 'tmp/', keyMarker: 'tmp/a', uploadIdMarker: 'u', limit: 1000 }, { prefix: '', from: 'k', limit: 10 }]) {
        const details = queryPlan(raw, listUploadsQuery(db, 'bucket', q).compile());
        assert.match(details, /SEARCH multipart_uploads USING INDEX multipart_uploads_listing \(bucket_id=\?/, details);
        assert.doesNotMatch(details, /TEMP B-TREE/, details);
      }
    });
  });

  test('upgrading to completed uploads keeps the uploads in progress and their parts, which then complete', async () => {
    const file = freshFile();
    const raw = new BetterSqlite3(file);
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    try {
      await seedUploadsBefore0012(db, 'sqlite');
    } finally {
      await db.destroy();
    }
    const s = await openSqliteStore(file);
    try {
      await assertUploadsAfter0012(s);
    } finally {
      await s.close();
    }
    const check = new BetterSqlite3(file, { readonly: true });
    try {
      const index = (name: string) => String(check.prepare(`select sql from sqlite_master where name = ?`).pluck().get(name));
      assert.match(index('multipart_uploads_listing'), /where completed_at is null$/i);
      assert.match(index('multipart_uploads_completed'), /where completed_at is not null$/i);
    } finally {
      check.close();
    }
  });
  test('upgrading revokes the temporary credentials of a token disabled before: enabling it does not bring them back', async () => {
    const box = new SecretBox(randomBytes(32));
    await upgraded((db) => seedTemporaryCredentialsBefore0013(db, 'sqlite', box), (s) => assertTemporaryCredentialsAfter0013(s, box));
  });

  test('upgrading revokes the console tokens of users who left their project or changed role; a re-added member gets a new one', async () => {
    const box = new SecretBox(randomBytes(32));
    await upgraded((db) => seedConsoleTokensBefore0014(db, 'sqlite', box), (s) => assertConsoleTokensAfter0014(s, box));
  });

  test('a database a newer skep migrated is refused as such, before any migration runs', async () => {
    const file = freshFile();
    await (await openSqliteStore(file)).close();
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    try {
      await seedNewerSchema(db);
      await assertNewerSchemaRefused(() => openSqliteStore(file), db, 'data folder');
    } finally {
      await db.destroy();
    }
  });
});
