// Queries for storage quotas and the counters they are checked against, over any Kysely<Database>.
// Counter deltas are upserts that add (x = x + excluded.x), one atomic statement on SQLite and
// PostgreSQL alike, so writes on several nodes never lose a count.

import { sql, type Kysely, type Transaction } from 'kysely';
import { exceededLimit, type QuotaBreach, type QuotaCharge, type StorageQuota, type StorageUsed } from './metadata-store.js';
import type { Database } from './schema.js';
import { inTransaction } from './transaction.js';

export async function getProjectQuota(db: Kysely<Database>, projectId: string): Promise<StorageQuota | null> {
  const r = await db.selectFrom('projects').select(['quota_bytes', 'quota_objects']).where('id', '=', projectId).executeTakeFirst();
  return r ? quotaOf(r.quota_bytes, r.quota_objects) : null;
}

export async function setProjectQuota(db: Kysely<Database>, projectId: string, quota: StorageQuota | null): Promise<boolean> {
  const r = await db
    .updateTable('projects')
    .set({ quota_bytes: quota?.maxBytes ?? null, quota_objects: quota?.maxObjects ?? null })
    .where('id', '=', projectId)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The quota two nullable columns describe: null when neither limit is set. */
export function quotaOf(bytes: number | string | null, objects: number | string | null): StorageQuota | null {
  if (bytes === null && objects === null) return null;
  return { maxBytes: bytes === null ? null : Number(bytes), maxObjects: objects === null ? null : Number(objects) };
}

export async function addStorageCounters(db: Kysely<Database>, deltas: { bucketId: string; bytes: number; objects: number; at: Date }[]): Promise<void> {
  if (deltas.length === 0) return;
  // In bucket order: nodes adding at the same time lock rows in the same order, never deadlock.
  const ordered = [...deltas].sort((a, b) => (a.bucketId < b.bucketId ? -1 : a.bucketId > b.bucketId ? 1 : 0));
  await inTransaction(db, async (trx) => {
    for (const d of ordered) {
      await trx
        .insertInto('storage_counters')
        .values({ bucket_id: d.bucketId, bytes: d.bytes, objects: d.objects, recounted_at: 0 })
        .onConflict((oc) =>
          oc
            .column('bucket_id')
            .doUpdateSet((eb) => ({
              bytes: sql<number>`${eb.ref('storage_counters.bytes')} + ${eb.ref('excluded.bytes')}`,
              objects: sql<number>`${eb.ref('storage_counters.objects')} + ${eb.ref('excluded.objects')}`,
            }))
            // A change made before the last recount is in it already.
            .where('storage_counters.recounted_at', '<=', d.at.getTime()),
        )
        .execute();
    }
  });
}

/** Takes the bucket's counter row (made if missing) for the rest of the transaction: an update that changes nothing. */
export async function lockStorageCounters(trx: Transaction<Database>, bucketId: string): Promise<void> {
  await trx
    .insertInto('storage_counters')
    .values({ bucket_id: bucketId, bytes: 0, objects: 0, recounted_at: 0 })
    .onConflict((oc) => oc.column('bucket_id').doUpdateSet((eb) => ({ bytes: eb.ref('storage_counters.bytes') })))
    .execute();
}

export async function setStorageCounters(db: Kysely<Database>, bucketId: string, used: StorageUsed, at: Date): Promise<void> {
  const values = { bytes: used.bytes, objects: used.objects, recounted_at: at.getTime() };
  await db
    .insertInto('storage_counters')
    .values({ bucket_id: bucketId, ...values })
    .onConflict((oc) => oc.column('bucket_id').doUpdateSet(values))
    .execute();
}

/**
 * Adds what a write stores to its bucket's counters, inside the transaction that commits the
 * write, and returns the quota that takes past (the caller then rolls back), or null. Writers of
 * one bucket queue on its counter row, and with a project quota on the project's row (taken
 * first, so they never wait for each other crosswise; `rowLocks` on PostgreSQL, while SQLite runs
 * one transaction at a time): each sees every write committed before it, on any node.
 */
export async function chargeStorage(trx: Transaction<Database>, bucketId: string, charge: QuotaCharge, added: StorageUsed, rowLocks: boolean): Promise<QuotaBreach | null> {
  if (added.bytes === 0 && added.objects === 0) return null;
  if (charge.project && rowLocks) await trx.selectFrom('projects').select('id').where('id', '=', charge.projectId).forUpdate().execute();
  const after = await trx
    .insertInto('storage_counters')
    .values({ bucket_id: bucketId, bytes: added.bytes, objects: added.objects, recounted_at: 0 })
    .onConflict((oc) =>
      oc.column('bucket_id').doUpdateSet((eb) => ({
        bytes: sql<number>`${eb.ref('storage_counters.bytes')} + ${eb.ref('excluded.bytes')}`,
        objects: sql<number>`${eb.ref('storage_counters.objects')} + ${eb.ref('excluded.objects')}`,
      })),
    )
    .returning(['bytes', 'objects'])
    .executeTakeFirstOrThrow();
  const scopes = [
    ['bucket', charge.bucket, async () => ({ bytes: Number(after.bytes), objects: Number(after.objects) })],
    ['project', charge.project, () => projectStorage(trx, charge.projectId)],
  ] as const;
  for (const [scope, quota, read] of scopes) {
    if (!quota) continue;
    const now = await read();
    // Checked as the write found it: what was stored before it, and what it adds.
    const used = { bytes: now.bytes - added.bytes, objects: now.objects - added.objects };
    const limit = exceededLimit(quota, used, added);
    if (limit) return { scope, limit, quota, used, added };
  }
  return null;
}

export async function bucketStorage(db: Kysely<Database>, bucketId: string): Promise<StorageUsed> {
  const r = await db.selectFrom('storage_counters').select(['bytes', 'objects']).where('bucket_id', '=', bucketId).executeTakeFirst();
  return { bytes: Number(r?.bytes ?? 0), objects: Number(r?.objects ?? 0) };
}

export async function projectStorage(db: Kysely<Database>, projectId: string): Promise<StorageUsed> {
  // Joined with buckets: counters of a bucket deleted meanwhile do not count.
  const r = await db
    .selectFrom('storage_counters as c')
    .innerJoin('buckets as b', 'b.id', 'c.bucket_id')
    .select((eb) => [eb.fn.sum<number>('c.bytes').as('bytes'), eb.fn.sum<number>('c.objects').as('objects')])
    .where('b.project_id', '=', projectId)
    .executeTakeFirst();
  // Number(): PostgreSQL returns sums of bigint as strings; no rows sum to null.
  return { bytes: Number(r?.bytes ?? 0), objects: Number(r?.objects ?? 0) };
}
