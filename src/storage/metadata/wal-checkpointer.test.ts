import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sqliteDriver } from './sqlite-driver.js';
import { startWalCheckpointer } from './wal-checkpointer.js';

const root = mkdtempSync(join(tmpdir(), 'skep-checkpointer-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('the worker copies committed pages into the database file while the writer never checkpoints', async () => {
  const path = join(root, 'a.sqlite');
  const db = new (sqliteDriver())(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0'); // the writer never checkpoints: only the worker can
  db.exec('create table t (id integer primary key, data blob)');
  const insert = db.prepare('insert into t (data) values (?)');
  for (let i = 0; i < 256; i++) insert.run(randomBytes(4096));
  const before = statSync(path).size;
  assert.ok(before < 64 * 1024, `nothing checkpointed yet (${before} bytes)`);

  const checkpointer = startWalCheckpointer(path);
  try {
    for (let i = 0; i < 100 && statSync(path).size < 1024 * 1024; i++) await sleep(50);
    assert.ok(statSync(path).size >= 1024 * 1024, 'the pages reached the database file');
    // Writes go on beside it.
    for (let i = 0; i < 64; i++) insert.run(randomBytes(4096));
    assert.equal(db.prepare('select count(*) from t').pluck().get(), 320);
  } finally {
    const started = Date.now();
    await checkpointer.close();
    assert.ok(Date.now() - started < 2000, 'the worker stops promptly');
    db.close();
  }
  // Every row is there for a fresh connection.
  const again = new (sqliteDriver())(path, { readonly: true });
  try {
    assert.equal(again.prepare('select count(*) from t').pluck().get(), 320);
  } finally {
    again.close();
  }
});

test('two checkpointers of one file are independent: closing one leaves the other checkpointing', async () => {
  const path = join(root, 'b.sqlite');
  const db = new (sqliteDriver())(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('create table t (id integer primary key, data blob)');
  const first = startWalCheckpointer(path);
  const second = startWalCheckpointer(path);
  try {
    await second.close();
    const insert = db.prepare('insert into t (data) values (?)');
    for (let i = 0; i < 256; i++) insert.run(randomBytes(4096));
    for (let i = 0; i < 100 && statSync(path).size < 1024 * 1024; i++) await sleep(50);
    assert.ok(statSync(path).size >= 1024 * 1024, 'the first checkpointer still copies pages into the file');
  } finally {
    await first.close();
    db.close();
  }
});
