// The scale-out MetadataStore: PostgreSQL through a `pg` connection pool, queried by the same
// Kysely code as SQLite (queries.ts). What PostgreSQL does differently is settled here, once:
// - bigint (int8) and numeric (what sum() of a bigint returns) arrive as JavaScript numbers, not
//   strings (every figure skep stores, byte counts and millisecond times, is below 2^53);
// - errors become StoreError (store-errors.ts) and lost races are retried (transaction.ts);
// - migrations run under an advisory lock, so several nodes starting at once migrate once;
// - exclusive() is an advisory lock too, held on a connection of its own.

import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { MetadataStore, StoreOptions } from './metadata-store.js';
import { KyselyMetadataStore } from './queries.js';
import { migrateToLatest, type Database } from './schema.js';
import { classifyPostgresError, translatingErrors } from './store-errors.js';
import { defaultNodeId } from './sqlite-store.js';

const INT8_OID = 20;
const NUMERIC_OID = 1700;
const DEFAULT_POOL_SIZE = 16;
/** The advisory lock key (two int4 halves) under which migrations run: "skep" and 1. */
const MIGRATION_LOCK: [number, number] = [0x736b6570, 1];
/** Keys for exclusive(name): the first half marks them as skep's, the second is hashtext(name). */
const EXCLUSIVE_LOCK_CLASS = 0x736b6570;

export interface PostgresStoreOptions extends StoreOptions {
  /** Connections in the pool (default 16). */
  poolSize?: number;
  /** Told about errors of idle pooled connections (the next query reconnects). */
  onIdleError?: (err: Error) => void;
}

export { isPostgresUrl } from '../storage-urls.js';

function numberParser(text: string): number {
  return Number(text);
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return numberParser;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

function clientConfig(url: string, nodeId: string): pg.ClientConfig {
  return { connectionString: url, types: types as pg.CustomTypesConfig, application_name: `skep ${nodeId}`.slice(0, 63) };
}

/** Runs `fn` while holding a session advisory lock on a connection of its own. */
async function withAdvisoryLock<T>(url: string, nodeId: string, key: [number, number] | string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(url, nodeId));
  await client.connect();
  try {
    if (typeof key === 'string') await client.query('select pg_advisory_lock($1, hashtext($2))', [EXCLUSIVE_LOCK_CLASS, key]);
    else await client.query('select pg_advisory_lock($1, $2)', key);
    // Closing the session releases the lock too, should the unlock below never run.
    return await fn();
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connects to the database at `url` (postgres://...) and brings its schema up to date. */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<MetadataStore> {
  const nodeId = opts.nodeId ?? defaultNodeId();
  const pool = new pg.Pool({ ...clientConfig(url, nodeId), max: opts.poolSize ?? DEFAULT_POOL_SIZE, idleTimeoutMillis: 30_000 });
  // Without a listener, an idle connection that drops (a database restart) would crash the process.
  pool.on('error', (err) => opts.onIdleError?.(err));
  const db = new Kysely<Database>({ dialect: translatingErrors(new PostgresDialect({ pool }), classifyPostgresError, opts.onError) });
  try {
    await withAdvisoryLock(url, nodeId, MIGRATION_LOCK, async () => {
      // The first schema of the search_path (`public` unless the URL's options name another).
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
      await migrateToLatest(db, 'postgres', { schema: rows[0]?.schema ?? undefined });
    });
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
  return new KyselyMetadataStore(db, { nodeId, exclusive: (name, fn) => withAdvisoryLock(url, nodeId, name, fn), blobLedger: opts.blobLedger ?? true, walkDialect: 'postgres' });
}
