// The scale-out MetadataStore: PostgreSQL through a `pg` connection pool, queried by the same
// Kysely code as SQLite (queries.ts). What PostgreSQL does differently is settled here, once:
// - bigint (int8) and numeric (what sum() of a bigint returns) arrive as JavaScript numbers, not
//   strings (every figure skep stores, byte counts and millisecond times, is below 2^53);
// - errors become StoreError (store-errors.ts) and lost races are retried (transaction.ts);
// - migrations run under an advisory lock, so several nodes starting at once migrate once;
// - exclusive() is an advisory lock too, held on a connection of its own;
// - a connection that fails (a database restart) is reported once, as its message and code only,
//   and never crashes the process: see watchConnection.

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
  /**
   * Told when a connection fails outside a query (the database restarted, or ended it): the query
   * in flight on it, if any, fails, and the pool connects again for the next one.
   */
  onConnectionError?: (failure: PostgresFailure) => void;
}

/**
 * What is reported of a failed connection. Never the error itself: pg-pool attaches the client
 * to it, whose fields include the session's cancel key (processID and secretKey).
 */
export interface PostgresFailure {
  message: string;
  /** The SQLSTATE (57P01: the server is shutting down) or the socket's code (ECONNRESET). */
  code?: string;
}

export function describePostgresError(err: unknown): PostgresFailure {
  const code = (err as { code?: unknown } | null)?.code;
  return { message: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) };
}

/**
 * A client emits 'error' when its connection fails, even between two queries of a checked-out
 * client, which pg-pool leaves without a listener (it listens only while the client is idle): an
 * 'error' event without a listener would end the process. So every client gets one for its life.
 */
function watchConnection(client: pg.Client | pg.PoolClient, opts: PostgresStoreOptions): void {
  client.on('error', (err) => opts.onConnectionError?.(describePostgresError(err)));
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
async function withAdvisoryLock<T>(url: string, opts: PostgresStoreOptions & { nodeId: string }, key: [number, number] | string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(url, opts.nodeId));
  watchConnection(client, opts);
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
  pool.on('connect', (client) => watchConnection(client, opts));
  // pg-pool re-emits an idle client's error here; watchConnection has reported it already, but
  // without a listener here the re-emit would crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: translatingErrors(new PostgresDialect({ pool }), classifyPostgresError, opts.onError) });
  try {
    await withAdvisoryLock(url, { ...opts, nodeId }, MIGRATION_LOCK, async () => {
      // The first schema of the search_path (`public` unless the URL's options name another).
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
      await migrateToLatest(db, 'postgres', { schema: rows[0]?.schema ?? undefined });
    });
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
  return new KyselyMetadataStore(db, { nodeId, exclusive: (name, fn) => withAdvisoryLock(url, { ...opts, nodeId }, name, fn), blobLedger: opts.blobLedger ?? true, walkDialect: 'postgres' });
}
