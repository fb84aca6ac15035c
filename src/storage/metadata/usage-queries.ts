// Queries for the daily usage counters, over any Kysely<Database>. Increments are upserts that add
// to the stored values (INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x), which SQLite and
// PostgreSQL both run as one atomic statement, so concurrent nodes never lose a count.

import { sql, type Kysely } from 'kysely';
import type { UsageDay, UsageIncrement, UsageQuery } from './metadata-store.js';
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

export async function usageByDay(db: Kysely<Database>, q: UsageQuery): Promise<UsageDay[]> {
  let query = db
    .selectFrom('usage_daily')
    .select((eb) => [
      'day',
      eb.fn.sum<number>('requests_read').as('requests_read'),
      eb.fn.sum<number>('requests_write').as('requests_write'),
      eb.fn.sum<number>('requests_list').as('requests_list'),
      eb.fn.sum<number>('requests_delete').as('requests_delete'),
      eb.fn.sum<number>('requests_other').as('requests_other'),
      eb.fn.sum<number>('bytes_in').as('bytes_in'),
      eb.fn.sum<number>('bytes_out').as('bytes_out'),
    ])
    .where('project_id', '=', q.projectId)
    .where('day', '>=', q.from)
    .where('day', '<=', q.to);
  if (q.bucket !== undefined) query = query.where('bucket', '=', q.bucket);
  if (q.tokenId !== undefined) query = query.where('token_id', '=', q.tokenId);
  const rows = await query.groupBy('day').orderBy('day').execute();
  // Number(): PostgreSQL returns sums of bigint as strings.
  return rows.map((r) => ({
    day: r.day,
    requestsRead: Number(r.requests_read),
    requestsWrite: Number(r.requests_write),
    requestsList: Number(r.requests_list),
    requestsDelete: Number(r.requests_delete),
    requestsOther: Number(r.requests_other),
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
  }));
}
