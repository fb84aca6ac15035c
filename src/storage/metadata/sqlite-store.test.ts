import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { metadataStoreContract } from './contract.js';
import { listObjectsQuery } from './queries.js';
import type { Database } from './schema.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skep-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(dir, `meta-${++n}.sqlite`);

metadataStoreContract('SQLite file', () => openSqliteStore(freshFile()));
metadataStoreContract('SQLite :memory:', () => openSqliteStore(':memory:'));

describe('SQLite specifics', () => {
  test('data survives close and reopen; migrating twice is harmless', async () => {
    const file = freshFile();
    const s1 = await openSqliteStore(file);
    await s1.createProject({ id: 'p1', name: 'one', createdAt: new Date(1) });
    await s1.close();
    const s2 = await openSqliteStore(file);
    assert.deepEqual(await s2.getProject('p1'), { id: 'p1', name: 'one', createdAt: new Date(1) });
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
      await a.createProject({ id: 'p', name: 'p', createdAt: new Date(5) });
      await a.createBucket({ id: 'b', projectId: 'p', name: 'b', region: 'r', createdAt: new Date(5) });
      assert.equal((await b.getBucket('p', 'b'))?.id, 'b');
      assert.equal(await b.createBucket({ id: 'b2', projectId: 'p', name: 'b', region: 'r', createdAt: new Date(6) }), 'exists');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('listObjects seeks the primary key index with one range and no sort', async () => {
    const file = freshFile();
    await (await openSqliteStore(file)).close(); // creates the schema
    const raw = new BetterSqlite3(file);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    try {
      raw.exec('ANALYZE');
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
        const plan = raw
          .prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`)
          .all(...compiled.parameters) as Array<{ detail: string }>;
        const details = plan.map((p) => p.detail).join(' | ');
        assert.match(details, /SEARCH objects USING INDEX \S+ \(bucket_id=\? AND key>\?( AND key<\?)?\)/, details);
        assert.doesNotMatch(details, /TEMP B-TREE/, details);
      }
    } finally {
      await db.destroy();
    }
  });
});
