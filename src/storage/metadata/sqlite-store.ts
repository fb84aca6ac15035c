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

/**
 * The metadata connection's page cache (KiB; better-sqlite3's default is 16 MB). A page of common
 * prefixes seeks once per prefix, to a leaf of its own in the key index when each prefix holds
 * many keys. With 16 MB, those leaves were read from the file again (a pread each) for every page
 * past a few 10^5 objects: 5.0-5.3 ms of server CPU per page of 1000 prefixes of 100 keys, against
 * 3.9 ms with this cache (bench --scale at 10^6 objects; 10 keys per prefix: 3.4 ms). 64 MiB holds
 * the key index of about 10^6 objects, and it fills only as pages are read.
 */
const METADATA_PAGE_CACHE_KIB = 64 * 1024;

/** Opens (creating if needed) the SQLite database at `path` (or ':memory:') and migrates it. */
export async function openSqliteStore(path: string, opts: StoreOptions = {}): Promise<MetadataStore> {
  const BetterSqlite3 = sqliteDriver();
  const raw = new BetterSqlite3(path);
  let db: Kysely<Database> | undefined;
  try {
    const durable = tuneForDurableWrites(raw, path);
    raw.pragma('foreign_keys = ON');
    raw.pragma(`cache_size = -${METADATA_PAGE_CACHE_KIB}`);
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
