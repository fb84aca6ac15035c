// The embedded MetadataStore: SQLite (better-sqlite3) in WAL mode, queried through Kysely.
// All queries live in queries.ts; this file only opens, tunes and migrates the database.

import { sqliteDriver } from './sqlite-driver.js';
import { Kysely } from 'kysely';
import type { MetadataStore } from './metadata-store.js';
import { KyselyMetadataStore } from './queries.js';
import { migrateToLatest, type Database } from './schema.js';
import { SkepSqliteDialect } from './sqlite-dialect.js';

/** Opens (creating if needed) the SQLite database at `path` (or ':memory:') and migrates it. */
export async function openSqliteStore(path: string): Promise<MetadataStore> {
  const BetterSqlite3 = sqliteDriver();
  const raw = new BetterSqlite3(path);
  let db: Kysely<Database> | undefined;
  try {
    raw.pragma('journal_mode = WAL');
    // With WAL, NORMAL syncs at checkpoints only: a power loss may drop the last commits but
    // never corrupts the database.
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SkepSqliteDialect(raw) });
    await migrateToLatest(db, 'sqlite');
    return new KyselyMetadataStore(db);
  } catch (err) {
    if (db) await db.destroy().catch(() => undefined);
    if (raw.open) raw.close();
    throw err;
  }
}
