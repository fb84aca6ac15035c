import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Kysely, sql } from 'kysely';
import { sqliteDriver } from './sqlite-driver.js';
import { SkepSqliteDialect } from './sqlite-dialect.js';
import { compiledOnce, prepared } from './prepared.js';

interface Db {
  t: { id: number; name: string; kind: string };
}

function openDb(): Kysely<Db> {
  const raw = new (sqliteDriver())(':memory:');
  raw.exec("create table t (id integer primary key, name text not null, kind text not null); insert into t values (1, 'a', 'x'), (2, 'b', 'y'), (3, 'c', 'x')");
  return new Kysely<Db>({ dialect: new SkepSqliteDialect(raw) });
}

describe('prepared queries', () => {
  test('compiled once, each call gets its own values, constants of the builder stay', async () => {
    const db = openDb();
    let builds = 0;
    const byKindAfter = prepared((d: Kysely<Db>, kind: string, after: number) => {
      builds++;
      return d.selectFrom('t').select(['id', 'name']).where('kind', '=', kind).where('id', '>', after).where('name', '!=', 'zzz').orderBy('id');
    });
    assert.deepEqual((await byKindAfter(db, 'x', 0)).rows, [{ id: 1, name: 'a' }, { id: 3, name: 'c' }]);
    assert.deepEqual((await byKindAfter(db, 'x', 1)).rows, [{ id: 3, name: 'c' }]);
    assert.deepEqual((await byKindAfter(db, 'y', 0)).rows, [{ id: 2, name: 'b' }]);
    assert.equal(builds, 1);
    // Transactions share the database's compilation, and see their own writes.
    for (const id of [4, 6]) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id, name: `n${id}`, kind: 'y' }).execute();
        assert.deepEqual((await byKindAfter(trx, 'y', id - 1)).rows, [{ id, name: `n${id}` }]);
      });
    }
    assert.equal(builds, 1);
    // A handle whose plugins rewrite the SQL gets its own.
    const qualified = db.withSchema('main');
    assert.deepEqual((await byKindAfter(qualified, 'y', 0)).rows, [{ id: 2, name: 'b' }, { id: 4, name: 'n4' }, { id: 6, name: 'n6' }]);
    await byKindAfter(qualified, 'x', 0);
    assert.equal(builds, 2);
    await qualified.transaction().execute((trx) => byKindAfter(trx, 'x', 0));
    assert.equal(builds, 3, 'its transactions compile each time');
    const insert = prepared((d: Kysely<Db>, id: number, name: string) => d.insertInto('t').values({ id, name, kind: 'z' }).onConflict((oc) => oc.column('id').doNothing()));
    assert.equal(Number((await insert(db, 5, 'e')).numAffectedRows), 1);
    assert.equal(Number((await insert(db, 5, 'e')).numAffectedRows), 0);
    await db.destroy();
  });

  test('a read runs at once on an idle connection, and waits while a transaction holds it', async () => {
    const db = openDb();
    const nameOf = prepared((d: Kysely<Db>, id: number) => d.selectFrom('t').select('name').where('id', '=', id));
    assert.deepEqual((await nameOf(db, 1)).rows, [{ name: 'a' }]);
    let inserted!: () => void;
    const didInsert = new Promise<void>((resolve) => (inserted = resolve));
    let finish!: () => void;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    const transaction = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 9, name: 'uncommitted', kind: 'x' }).execute();
      inserted();
      await finishing;
      await trx.updateTable('t').set({ name: 'committed' }).where('id', '=', 9).execute();
    });
    await didInsert;
    let settled = false;
    const read = nameOf(db, 9).then((r) => ((settled = true), r));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the read waits for the transaction instead of reading its uncommitted row');
    finish();
    await transaction;
    assert.deepEqual((await read).rows, [{ name: 'committed' }]);
    // A statement that writes always takes the queue (and its durability), RETURNING or not.
    const insert = prepared((d: Kysely<Db>, id: number) => d.insertInto('t').values({ id, name: 'r', kind: 'z' }).returning('id'));
    assert.deepEqual((await insert(db, 10)).rows, [{ id: 10 }]);
    assert.deepEqual((await nameOf(db, 10)).rows, [{ name: 'r' }]);
    await db.destroy();
  });

  test('a builder whose SQL depends on its arguments is refused on first use', async () => {
    const db = openDb();
    const twice = prepared((d: Kysely<Db>, name: string) => d.selectFrom('t').selectAll().where('name', '=', name).where('kind', '!=', name));
    await assert.rejects(twice(db, 'a'), /argument 0 became 2 parameters/);
    const unused = prepared((d: Kysely<Db>, _name: string) => d.selectFrom('t').selectAll());
    await assert.rejects(unused(db, 'a'), /argument 0 became 0 parameters/);
    const inlined = prepared((d: Kysely<Db>, name: string) => d.selectFrom('t').selectAll().where(sql.lit(name), '=', sql.lit('a')));
    await assert.rejects(inlined(db, 'a'), /argument 0 became 0 parameters|written into the SQL/);
    // Used once as it is, and once changed: the changed copy would keep the first call's value.
    const changed = prepared((d: Kysely<Db>, name: string) => d.selectFrom('t').selectAll().where('name', '=', name).where('kind', '!=', `${name}!`));
    await assert.rejects(changed(db, 'a'), /changed before it became a parameter/);
    // With anyUses, an argument may fill several parameters, or none; each call gets its own values.
    const reused = compiledOnce((d: Kysely<Db>, name: string, _unused: string) => d.selectFrom('t').select('id').where('name', '=', name).where('kind', '!=', name), { anyUses: true });
    assert.deepEqual(reused(db, 'a', 'x').parameters, ['a', 'a']);
    assert.deepEqual(reused(db, 'b', 'y').parameters, ['b', 'b']);
    const twiceChanged = compiledOnce((d: Kysely<Db>, name: string) => d.selectFrom('t').select('id').where('name', '=', name).where('kind', '!=', `${name}!`), { anyUses: true });
    assert.throws(() => twiceChanged(db, 'a'), /changed before it became a parameter/);
    await db.destroy();
  });
});
