import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tuneForDurableWrites, WAL_SIZE_LIMIT_BYTES } from './durable-sqlite.js';
import { sqliteDriver } from './sqlite-driver.js';

const root = mkdtempSync(join(tmpdir(), 'skep-durable-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a WAL that grew while a long read held its snapshot is cut back once it starts over', () => {
  const path = join(root, 'grown.sqlite');
  const db = new (sqliteDriver())(path);
  const reader = new (sqliteDriver())(path);
  try {
    assert.notEqual(tuneForDurableWrites(db, path), null);
    db.exec('create table t (id integer primary key, data blob)');
    const insert = db.prepare('insert into t (data) values (?)');
    const walBytes = () => statSync(`${path}-wal`).size;
    // The reader's snapshot (as the orphan sweep's) keeps every checkpoint short of the end.
    reader.exec('begin');
    assert.equal(reader.prepare('select count(*) from t').pluck().get(), 0);
    for (let i = 0; i < 80; i++) insert.run(randomBytes(1024 * 1024));
    assert.ok(walBytes() > WAL_SIZE_LIMIT_BYTES, `the WAL grew past the limit (${walBytes()} bytes)`);
    reader.exec('commit');
    db.pragma('wal_checkpoint(PASSIVE)');
    insert.run(randomBytes(100)); // the first commit of the restarted WAL cuts the file
    assert.ok(walBytes() <= WAL_SIZE_LIMIT_BYTES, `the WAL was cut back (${walBytes()} bytes)`);
    assert.equal(db.prepare('select count(*) from t').pluck().get(), 81);
  } finally {
    reader.close();
    db.close();
  }
});
