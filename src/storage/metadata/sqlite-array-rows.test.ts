import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kysely } from 'kysely';
import { sqliteDriver } from './sqlite-driver.js';
import { SkepSqliteDialect } from './sqlite-dialect.js';
import { sqliteArrayRows } from './sqlite-array-rows.js';
import type { Database } from './schema.js';

function open() {
  const raw = new (sqliteDriver())(':memory:');
  raw.exec('create table projects (id text primary key, name text not null, created_at bigint not null, max_token_days integer)');
  const db = new Kysely<Database>({ dialect: new SkepSqliteDialect(raw) });
  return { raw, db, read: sqliteArrayRows(db, raw, (err) => new Error(`translated: ${(err as Error).message}`)) };
}

const names = (db: Kysely<Database>) => db.selectFrom('projects').select(['id', 'name']).orderBy('id');

test('rows come back as arrays of the selected columns, in order', async () => {
  const { db, read } = open();
  await db.insertInto('projects').values([{ id: 'b', name: 'two', created_at: 2, max_token_days: null }, { id: 'a', name: 'one', created_at: 1, max_token_days: 7 }]).execute();
  assert.deepEqual(await read(names(db)), [['a', 'one'], ['b', 'two']]);
  assert.deepEqual(await read(db.selectFrom('projects').select(['max_token_days', 'id']).where('id', '=', 'a')), [[7, 'a']]);
  await db.destroy();
});

test('a read waits for an open transaction and never sees its uncommitted rows', async () => {
  const { db, read } = open();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let inserted!: () => void;
  const didInsert = new Promise<void>((r) => (inserted = r));
  const tx = db
    .transaction()
    .execute(async (trx) => {
      await trx.insertInto('projects').values({ id: 'x', name: 'uncommitted', created_at: 0, max_token_days: null }).execute();
      inserted();
      await gate;
      throw new Error('roll back');
    })
    .catch((err: Error) => err.message);
  await didInsert;
  let settled = false;
  const reading = read(names(db)).then((rows) => ((settled = true), rows));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, 'the read ran inside the open transaction');
  release();
  assert.equal(await tx, 'roll back');
  assert.deepEqual(await reading, []);
  await db.destroy();
});

test('errors are translated', async () => {
  const { db, read } = open();
  await assert.rejects(read(db.selectFrom('no_such_table' as 'projects').select(['id'])), /translated: no such table/);
  await db.destroy();
});
