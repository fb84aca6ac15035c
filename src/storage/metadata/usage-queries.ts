// Queries for the daily usage counters, over any Kysely<Database>. Increments are upserts that add
// to the stored values (INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x), which SQLite and
// PostgreSQL both run as one atomic statement, so concurrent nodes never lose a count.
// Storage snapshots are upserts that replace: the last figure taken on a day is that day's.

import { sql, type Kysely } from 'kysely';
import type { StorageQuery, StorageSnapshot, TokenUsage, UsageCounters, UsageDay, UsageIncrement, UsageQuery } from './metadata-store.js';
import type { Database } from './schema.js';

const COUNTERS = [
  'requests_read',
  'requests_write',
  'requests_list',
  'requests_delete',
  'requests_other',
  'bytes_in',
  'bytes_out',
] as const;

export async function addUsage(db: Kysely<Database>, increments: UsageIncrement[]): Promise<void> {
  if (increments.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const i of increments) {
      await trx
        .insertInto('usage_daily')
        .values({
          day: i.day,
          project_id: i.projectId,
          bucket: i.bucket,
          token_id: i.tokenId,
          requests_read: i.requestsRead,
          requests_write: i.requestsWrite,
          requests_list: i.requestsList,
          requests_delete: i.requestsDelete,
          requests_other: i.requestsOther,
          bytes_in: i.bytesIn,
          bytes_out: i.bytesOut,
        })
        .onConflict((oc) =>
          oc.columns(['day', 'project_id', 'bucket', 'token_id']).doUpdateSet((eb) =>
            Object.fromEntries(COUNTERS.map((c) => [c, sql<number>`${eb.ref(`usage_daily.${c}`)} + ${eb.ref(`excluded.${c}`)}`])),
          ),
        )
        .execute();
    }
  });
}

/** The counters of the selection summed per day or per token, in that column's order. */
async function summed(db: Kysely<Database>, q: UsageQuery, by: 'day' | 'token_id'): Promise<(UsageCounters & { key: string })[]> {
  let query = db
    .selectFrom('usage_daily')
    .select((eb) => [eb.ref(by).as('key'), ...COUNTERS.map((c) => eb.fn.sum<number>(c).as(c))])
    .where('project_id', '=', q.projectId)
    .where('day', '>=', q.from)
    .where('day', '<=', q.to);
  if (q.bucket !== undefined) query = query.where('bucket', '=', q.bucket);
  if (q.tokenId !== undefined) query = query.where('token_id', '=', q.tokenId);
  const rows = (await query.groupBy(by).orderBy(by).execute()) as unknown as (Record<(typeof COUNTERS)[number], number | string> & { key: string })[];
  // Number(): PostgreSQL returns sums of bigint as strings.
  return rows.map((r) => ({
    key: r.key,
    requestsRead: Number(r.requests_read),
    requestsWrite: Number(r.requests_write),
    requestsList: Number(r.requests_list),
    requestsDelete: Number(r.requests_delete),
    requestsOther: Number(r.requests_other),
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
  }));
}

export async function usageByDay(db: Kysely<Database>, q: UsageQuery): Promise<UsageDay[]> {
  return (await summed(db, q, 'day')).map(({ key, ...counters }) => ({ day: key, ...counters }));
}

export async function usageByToken(db: Kysely<Database>, q: Omit<UsageQuery, 'tokenId'>): Promise<TokenUsage[]> {
  return (await summed(db, q, 'token_id')).map(({ key, ...counters }) => ({ tokenId: key, ...counters }));
}

export async function putStorageSnapshots(db: Kysely<Database>, rows: StorageSnapshot[]): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const r of rows) {
      await trx
        .insertInto('usage_storage_daily')
        .values({ day: r.day, project_id: r.projectId, bucket: r.bucket, bytes: r.bytes, objects: r.objects })
        .onConflict((oc) =>
          oc.columns(['project_id', 'bucket', 'day']).doUpdateSet((eb) => ({ bytes: eb.ref('excluded.bytes'), objects: eb.ref('excluded.objects') })),
        )
        .execute();
    }
  });
}

export async function storageSnapshots(db: Kysely<Database>, q: StorageQuery): Promise<StorageSnapshot[]> {
  let inRange = db
    .selectFrom('usage_storage_daily')
    .selectAll()
    .where('project_id', '=', q.projectId)
    .where('day', '>=', q.from)
    .where('day', '<=', q.to);
  // Each bucket's latest day before the range: the value the range starts from.
  let before = db
    .selectFrom('usage_storage_daily as s')
    .selectAll('s')
    .where('s.project_id', '=', q.projectId)
    .where('s.day', '=', (eb) =>
      eb
        .selectFrom('usage_storage_daily as l')
        .select((l) => l.fn.max('l.day').as('latest'))
        .whereRef('l.project_id', '=', 's.project_id')
        .whereRef('l.bucket', '=', 's.bucket')
        .where('l.day', '<', q.from),
    );
  if (q.bucket !== undefined) {
    inRange = inRange.where('bucket', '=', q.bucket);
    before = before.where('s.bucket', '=', q.bucket);
  }
  const rows = [...(await before.execute()), ...(await inRange.execute())];
  rows.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  // Number(): PostgreSQL returns bigint as strings.
  return rows.map((r) => ({ day: r.day, projectId: r.project_id, bucket: r.bucket, bytes: Number(r.bytes), objects: Number(r.objects) }));
}
