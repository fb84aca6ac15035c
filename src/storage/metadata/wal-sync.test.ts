import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Kysely, sql } from 'kysely';
import { sqliteDriver } from './sqlite-driver.js';
import { SkepSqliteDialect } from './sqlite-dialect.js';
import { startWalCheckpointer } from './wal-checkpointer.js';
import { WalSync, type Flush } from './wal-sync.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skep-wal-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

interface Db {
  t: { id: number; v: string };
}

/** A flush the test controls: each call waits until the test lets it finish (or fail). */
class GatedFlush {
  calls: Array<{ release: () => void; fail: (err: Error) => void }> = [];
  private waiters: Array<() => void> = [];
  readonly flush: Flush = (fh: FileHandle) =>
    new Promise<void>((resolve, reject) => {
      this.calls.push({ release: () => fh.datasync().then(resolve, reject), fail: reject });
      for (const w of this.waiters.splice(0)) w();
    });
  /** Resolves once `count` flushes have started. */
  started(count: number): Promise<void> {
    if (this.calls.length >= count) return Promise.resolve();
    return new Promise((r) => this.waiters.push(() => void this.started(count).then(r)));
  }
}

async function open(flush?: Flush): Promise<{ db: Kysely<Db>; wal: WalSync }> {
  const file = join(dir, `db-${++n}.sqlite`);
  const raw = new (sqliteDriver())(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.exec('create table t (id integer primary key, v text not null)');
  const wal = new WalSync(file, flush);
  const db = new Kysely<Db>({ dialect: new SkepSqliteDialect(raw, undefined, { walSync: wal, startCheckpoints: () => startWalCheckpointer(file) }) });
  return { db, wal };
}

const insert = (db: Kysely<Db>, id: number) => db.insertInto('t').values({ id, v: `v${id}` }).execute();
const count = async (db: Kysely<Db>) => Number((await db.selectFrom('t').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);

/** Whether `p` has settled by the time the event loop has turned a few times. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('WalSync: group commit of the metadata journal', () => {
  test('concurrent writes all resolve, committed, and share flushes', async () => {
    const { db, wal } = await open();
    try {
      const writes = Array.from({ length: 64 }, (_, i) => insert(db, i));
      await Promise.all(writes);
      assert.equal(await count(db), 64);
      assert.ok(wal.flushes >= 1, 'the WAL was flushed');
      assert.ok(wal.flushes <= 8, `64 concurrent writes shared flushes (${wal.flushes} flushes)`);
    } finally {
      await db.destroy();
    }
  });

  test('a write resolves only after a flush that started after its commit', async () => {
    const gate = new GatedFlush();
    const { db } = await open(gate.flush);
    try {
      const first = insert(db, 1);
      await gate.started(1);
      assert.equal(await settled(first), false, 'not done before its flush finishes');
      // Committed while the first flush runs: that flush may not cover it.
      const second = insert(db, 2);
      assert.equal(await settled(second), false);
      gate.calls[0].release();
      await first;
      assert.equal(await settled(second), false, 'the flush that was already running does not count for a later commit');
      await gate.started(2);
      gate.calls[1].release();
      await second;
      assert.equal(gate.calls.length, 2);
    } finally {
      await db.destroy();
    }
  });

  test('reads do not wait for flushes', async () => {
    const gate = new GatedFlush();
    const { db } = await open(gate.flush);
    try {
      const write = insert(db, 1);
      await gate.started(1);
      // The row is committed (visible) while its flush runs; the read answers at once.
      assert.equal(await count(db), 1);
      assert.equal(gate.calls.length, 1, 'the read asked for no flush');
      gate.calls[0].release();
      await write;
    } finally {
      await db.destroy();
    }
  });

  test('a failed flush fails the writes waiting for it, and every later write, but not reads', async () => {
    const gate = new GatedFlush();
    const { db } = await open(gate.flush);
    try {
      await (async () => {
        const ok = insert(db, 1);
        await gate.started(1);
        gate.calls[0].release();
        await ok; // acknowledged before the failure: durable
      })();
      const a = insert(db, 2);
      const b = insert(db, 3);
      await gate.started(2);
      gate.calls[1].fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
      await assert.rejects(a, /flushing the journal .* failed.*EIO/);
      await assert.rejects(b, /EIO/);
      // Later writes are not promised durable either (the kernel may have dropped WAL pages).
      await assert.rejects(insert(db, 4), /restart the server/);
      assert.equal(gate.calls.length, 2, 'no flush is tried after a failure');
      assert.equal(await count(db), 4, 'reads still work');
    } finally {
      await db.destroy();
    }
  });

  test('writes through a store on a file resolve (each flushed) and survive reopening', async () => {
    const file = join(dir, `store-${++n}.sqlite`);
    const store = await openSqliteStore(file);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.createProject({ id: `p${i}`, name: `p${i}`, createdAt: new Date(), maxTokenDays: null })));
      assert.equal((await store.listProjects()).length, 20);
    } finally {
      await store.close();
    }
    const reopened = await openSqliteStore(file);
    try {
      assert.equal((await reopened.listProjects()).length, 20);
    } finally {
      await reopened.close();
    }
  });
});
