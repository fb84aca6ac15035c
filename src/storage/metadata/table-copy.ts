// Reading every row of the metadata tables and writing them into another database of the same
// schema (SQLite or PostgreSQL): what `skep migrate` moves. Tables are listed here with their
// primary keys, parents before children so foreign keys hold as rows arrive; a table this list
// does not know stops a migration rather than being left behind.

import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

type Row = Record<string, unknown>;

/** The tables a migration copies, in an order that satisfies their foreign keys, and their keys. */
export const COPIED_TABLES: ReadonlyArray<{ name: keyof Database; key: string[] }> = [
  { name: 'projects', key: ['id'] },
  { name: 'buckets', key: ['id'] },
  { name: 'bucket_settings', key: ['bucket_id', 'name'] },
  { name: 'storage_counters', key: ['bucket_id'] },
  { name: 'objects', key: ['bucket_id', 'key'] },
  { name: 'object_versions', key: ['bucket_id', 'key', 'version_id'] },
  { name: 'multipart_uploads', key: ['upload_id'] },
  { name: 'parts', key: ['upload_id', 'part_number'] },
  { name: 'tokens', key: ['id'] },
  { name: 'temporary_credentials', key: ['id'] },
  { name: 'audit', key: ['id'] },
  { name: 'users', key: ['id'] },
  { name: 'project_members', key: ['project_id', 'user_id'] },
  { name: 'sessions', key: ['id'] },
  { name: 'usage_daily', key: ['day', 'project_id', 'bucket', 'token_id'] },
  { name: 'usage_storage_daily', key: ['project_id', 'bucket', 'day'] },
];

/**
 * Tables a migration leaves out on purpose: what a running deployment keeps about its own blobs,
 * reads, limits and background jobs' leases (the copied blobs are all referenced, so none is pending or released), and
 * the migration bookkeeping each database keeps for itself.
 */
export const SKIPPED_TABLES: ReadonlySet<string> = new Set(['blob_ledger', 'blob_pins', 'limiter_events', 'worker_leases', 'kysely_migration', 'kysely_migration_lock']);

/** Tables in the database that neither list names (a newer schema than this code knows). */
export async function unknownTables(db: Kysely<Database>): Promise<string[]> {
  const known = new Set<string>([...COPIED_TABLES.map((t) => t.name), ...SKIPPED_TABLES]);
  const tables = await db.introspection.getTables();
  return tables.map((t) => t.name).filter((name) => !known.has(name));
}

/**
 * Every row of `table` (all columns, or its key and `columns`), `pageSize` at a time, in primary
 * key order (keyset paging: each page is one index range).
 */
export async function* tableRows(db: Kysely<Database>, table: (typeof COPIED_TABLES)[number], pageSize = 500, columns?: string[]): AsyncGenerator<Row[]> {
  let after: unknown[] | undefined;
  const keyList = sql.join(table.key.map((k) => sql.ref(k)));
  const selected = columns ? sql.join([...table.key, ...columns].map((c) => sql.ref(c))) : sql`*`;
  for (;;) {
    const where = after === undefined ? sql`` : sql`where (${keyList}) > (${sql.join(after)})`;
    const { rows } = await sql<Row>`select ${selected} from ${sql.table(table.name)} ${where} order by ${keyList} limit ${pageSize}`.execute(db);
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1];
    after = table.key.map((k) => last[k]);
  }
}

/** Inserts rows (as read by tableRows from a database of the same schema) into `table`. */
export async function insertRows(db: Kysely<Database>, table: keyof Database, rows: Row[]): Promise<void> {
  // A statement holds at most about 10,000 values, far below both engines' parameter limits.
  const columns = Math.max(1, Object.keys(rows[0] ?? {}).length);
  const batch = Math.max(1, Math.floor(10_000 / columns));
  for (let i = 0; i < rows.length; i += batch) {
    await db
      .insertInto(table)
      .values(rows.slice(i, i + batch) as never)
      .execute();
  }
}
