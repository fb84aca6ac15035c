import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Kysely, SqliteDialect } from 'kysely';
import { sqliteDriver } from './sqlite-driver.js';
import { openSqliteStore } from './sqlite-store.js';
import { delimitedWalkQuery, versionPrefixWalkQuery } from './delimited-walk.js';
import type { Database } from './schema.js';

// The walk's plan on SQLite: every step is a seek, never a scan, so a page costs one seek per
// entry however many keys its common prefixes hold; the steps seek the narrow index of keys
// (objects_keys, where ~6 common prefixes share a page, against one per page among the rows),
// and only keys listed as keys read their row, by primary key. (What it returns is checked on
// every store by the contract: delimited-contract.ts.)

const dir = mkdtempSync(join(tmpdir(), 'skep-walk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the walk seeks the index of keys at every step, reads rows by primary key, and scans no objects', async () => {
  const file = join(dir, 'plan.sqlite');
  await (await openSqliteStore(file)).close(); // creates the schema
  const raw = new (sqliteDriver())(file);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    raw.exec('ANALYZE');
    const cases = [
      { range: 'photos/', prefix: 'photos/', delimiter: '/', after: 'photos/a', limit: 1001 },
      { range: '', prefix: '', delimiter: '/', limit: 1001 },
      { range: 'photos/2024/', prefix: 'photos/', delimiter: '//', from: 'photos/2024/x', limit: 10 },
    ];
    for (const q of cases) {
      const compiled = delimitedWalkQuery('bucket', q, 'sqlite')!.compile(db);
      const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...compiled.parameters) as Array<{ detail: string }>).map((p) => p.detail);
      const objects = plan.filter((d) => /\bobjects\b|\bo\b/.test(d) && !/SUBQUERY/.test(d));
      // The first key, the step past a key, the step past a common prefix, and the objects' columns.
      assert.equal(objects.length, 4, plan.join(' | '));
      const [first, pastKey, pastPrefix, columns] = objects;
      for (const d of [first, pastKey, pastPrefix]) assert.match(d, /^SEARCH objects USING COVERING INDEX objects_keys \(bucket_id=\? AND key>\?( AND key<\?)?\)$/, plan.join(' | '));
      assert.match(columns, /^SEARCH o USING PRIMARY KEY \(bucket_id=\? AND key=\?\)/, plan.join(' | '));
      // The versions walk: the first key and each step, in both the objects and the stored versions.
      const versions = versionPrefixWalkQuery('bucket', q, 'sqlite')!.compile(db);
      const vplan = (raw.prepare(`EXPLAIN QUERY PLAN ${versions.sql}`).all(...versions.parameters) as Array<{ detail: string }>).map((p) => p.detail);
      const reads = vplan.filter((d) => /\bobjects\b|\bobject_versions\b/.test(d));
      assert.equal(reads.length, 4, vplan.join(' | '));
      for (const d of reads) assert.match(d, /^SEARCH (objects|object_versions) USING (PRIMARY KEY|COVERING INDEX \w+) \(bucket_id=\? AND key>\?( AND key<\?)?\)/, vplan.join(' | '));
    }
  } finally {
    await db.destroy();
  }
});

test('a walk is compiled once per shape, and each page fills in its own values', async () => {
  const raw = new (sqliteDriver())(':memory:');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    const a = delimitedWalkQuery('b1', { range: 'photos/', prefix: 'photos/', delimiter: '/', after: 'photos/a', limit: 10 }, 'sqlite')!.compile(db);
    const b = delimitedWalkQuery('b2', { range: 'docs/', prefix: 'docs/', delimiter: '-', after: 'docs/x', limit: 5 }, 'sqlite')!.compile(db);
    assert.equal(a.sql, b.sql);
    assert.ok(a.parameters.includes('b1') && a.parameters.includes('photos/') && a.parameters.includes(10), String(a.parameters));
    assert.ok(b.parameters.includes('b2') && b.parameters.includes('docs/') && b.parameters.includes('-') && !b.parameters.includes('photos/'), String(b.parameters));
    // Another shape (inclusive start, no upper bound) is another statement.
    const c = delimitedWalkQuery('b1', { range: '', prefix: '', delimiter: '/', from: 'k', limit: 10 }, 'sqlite')!.compile(db);
    assert.notEqual(c.sql, a.sql);
    assert.ok(!c.sql.includes('key <'), c.sql);
  } finally {
    await db.destroy();
  }
});
