// The embedded MetadataStore: SQLite (better-sqlite3) in WAL mode, queried through Kysely.
// All queries live in queries.ts; this file only opens, tunes and migrates the database.

import { hostname } from 'node:os';
import { sqliteDriver } from './sqlite-driver.js';
import { Kysely } from 'kysely';
import type { MetadataStore, StoreOptions } from './metadata-store.js';
import { KyselyMetadataStore } from './queries.js';
import { migrateToLatest, type Database } from './schema.js';
import { SkepSqliteDialect } from './sqlite-dialect.js';
import { sqliteArrayRows } from './sqlite-array-rows.js';
import { snapshotSqliteBlobReferences } from './sqlite-blob-references.js';
import { tuneForDurableWrites } from './durable-sqlite.js';
import { classifySqliteError, translate } from './store-errors.js';

/** Opens (creating if needed) the SQLite database at `path` (or ':memory:') and migrates it. */
export async function openSqliteStore(path: string, opts: StoreOptions = {}): Promise<MetadataStore> {
  const BetterSqlite3 = sqliteDriver();
  const raw = new BetterSqlite3(path);
  let db: Kysely<Database> | undefined;
  try {
    const durable = tuneForDurableWrites(raw, path);
    raw.pragma('foreign_keys = ON');
    const translateError = (err: unknown) => translate(err, classifySqliteError, opts.onError);
    const onDisk = durable !== null;
    db = new Kysely<Database>({ dialect: new SkepSqliteDialect(raw, translateError, durable) });
    await migrateToLatest(db, 'sqlite');
    return new KyselyMetadataStore(db, {
      nodeId: opts.nodeId ?? defaultNodeId(),
      exclusive: inProcessExclusive(),
      blobLedger: opts.blobLedger ?? true,
      arrayRows: sqliteArrayRows(db, raw, translateError),
      // A second connection needs a file; an in-memory database is small enough to read in memory.
      ...(onDisk ? { blobReferences: (signal) => snapshotSqliteBlobReferences(path, undefined, signal) } : {}),
      walkDialect: 'sqlite',
    });
  } catch (err) {
    if (db) await db.destroy().catch(() => undefined);
    if (raw.open) raw.close();
    throw err;
  }
}

export function defaultNodeId(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * One process serves an embedded database (the operator CLI only reads and edits tokens beside
 * it), so a lock within the process is enough.
 */
function inProcessExclusive() {
  const tails = new Map<string, Promise<void>>();
  return async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const before = tails.get(name) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const tail = before.then(() => mine);
    tails.set(name, tail);
    await before;
    try {
      return await fn();
    } finally {
      done();
      if (tails.get(name) === tail) tails.delete(name);
    }
  };
}
