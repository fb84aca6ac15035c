// Queries for the blob ledger and the shared read pins (see BlobLedgerTable in schema.ts), over any
// Kysely<Database>. `adoptBlobs` and `releaseBlobs` run inside the transactions that commit rows,
// so a blob is always either referenced by a row or recorded here.

import { sql, type Kysely, type Transaction } from 'kysely';
import type { BlobLedgerEntry, BlobLedgerState, BlobPart } from './metadata-store.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Rows per multi-row statement: far below SQLite's and PostgreSQL's parameter limits. */
const BATCH = 500;

function* batches<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += BATCH) yield items.slice(i, i + BATCH);
}

/** Thrown (inside a commit's transaction, so it rolls back) when a blob was collected before its commit. */
export class BlobCollected extends Error {
  constructor(readonly refs: string[]) {
    super(`blob ${refs.join(', ')} was collected before its commit (its write stalled past the pending lifetime)`);
    this.name = 'BlobCollected';
  }
}

export async function recordPending(db: Db, refs: readonly string[], at: Date, nodeId: string): Promise<void> {
  if (refs.length === 1) {
    // Every PUT does this: plain SQL, no query builder to run on the hot path.
    await sql`insert into blob_ledger (ref, state, at, node_id) values (${refs[0]}, 'pending', ${at.getTime()}, ${nodeId})`.execute(db);
    return;
  }
  for (const part of batches(refs)) {
    await db
      .insertInto('blob_ledger')
      .values(part.map((ref) => ({ ref, state: 'pending', at: at.getTime(), node_id: nodeId })))
      .execute();
  }
}

export async function renewPending(db: Db, refs: readonly string[], at: Date): Promise<void> {
  for (const part of batches(refs)) {
    await db.updateTable('blob_ledger').set({ at: at.getTime() }).where('ref', 'in', part).where('state', '=', 'pending').execute();
  }
}

/**
 * In the transaction that makes a row refer to `refs`: their pending records go. A ref the
 * collector has claimed or deleted (its write stalled for longer than the pending lifetime) must
 * not be committed: throws BlobCollected, which rolls the transaction back.
 */
export async function adoptBlobs(trx: Db, refs: readonly string[]): Promise<void> {
  if (refs.length === 0) return;
  if (refs.length === 1) {
    // Every PUT does this: plain SQL, no query builder to run on the hot path.
    const { rows } = await sql<{ state: string }>`delete from blob_ledger where ref = ${refs[0]} returning state`.execute(trx);
    if (rows.some((r) => r.state !== 'pending')) throw new BlobCollected([refs[0]]);
    return;
  }
  const collected: string[] = [];
  for (const part of batches(refs)) {
    const gone = await trx.deleteFrom('blob_ledger').where('ref', 'in', part).returning(['ref', 'state']).execute();
    for (const r of gone) if (r.state !== 'pending') collected.push(r.ref);
  }
  if (collected.length > 0) throw new BlobCollected(collected);
}

/** In the transaction that stops rows referring to `blobs`: record them as released. */
export async function releaseBlobs(trx: Db, blobs: readonly BlobPart[], at: Date, nodeId: string): Promise<void> {
  const refs = [...new Set(blobs.map((b) => b.ref))];
  for (const part of batches(refs)) {
    await trx
      .insertInto('blob_ledger')
      .values(part.map((ref) => ({ ref, state: 'released', at: at.getTime(), node_id: nodeId })))
      .onConflict((oc) => oc.column('ref').doUpdateSet({ state: 'released', at: at.getTime(), node_id: nodeId }))
      .execute();
  }
}

export async function forgetBlobs(db: Db, refs: readonly string[]): Promise<void> {
  for (const part of batches(refs)) await db.deleteFrom('blob_ledger').where('ref', 'in', part).execute();
}

/** The oldest records of `state` set at or before `before`. */
export async function dueBlobs(db: Db, state: BlobLedgerState, before: Date, limit: number): Promise<BlobLedgerEntry[]> {
  const rows = await db
    .selectFrom('blob_ledger')
    .select(['ref', 'state', 'at', 'node_id'])
    .where('state', '=', state)
    .where('at', '<=', before.getTime())
    .orderBy('at')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ref: r.ref, state: r.state as BlobLedgerState, at: new Date(Number(r.at)), nodeId: r.node_id }));
}

/** Moves a record from the state it was seen in to `to`, unless someone else moved it first. */
export async function moveBlob(db: Db, seen: BlobLedgerEntry, to: BlobLedgerState, at: Date, nodeId: string): Promise<boolean> {
  const r = await db
    .updateTable('blob_ledger')
    .set({ state: to, at: at.getTime(), node_id: nodeId })
    .where('ref', '=', seen.ref)
    .where('state', '=', seen.state)
    .where('at', '=', seen.at.getTime())
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Records (or extends) this node's pins of `refs` until `expiresAt`. */
export async function holdPins(db: Kysely<Database>, nodeId: string, refs: readonly string[], expiresAt: Date): Promise<void> {
  for (const part of batches([...refs].sort())) {
    await db
      .insertInto('blob_pins')
      .values(part.map((ref) => ({ node_id: nodeId, ref, expires_at: expiresAt.getTime() })))
      .onConflict((oc) => oc.columns(['node_id', 'ref']).doUpdateSet({ expires_at: expiresAt.getTime() }))
      .execute();
  }
}

export async function dropPins(db: Db, nodeId: string, refs: readonly string[]): Promise<void> {
  for (const part of batches(refs)) await db.deleteFrom('blob_pins').where('node_id', '=', nodeId).where('ref', 'in', part).execute();
}

/** Which of `refs` some node still pins at `now`. Expired pins are removed on the way. */
export async function pinnedBlobs(db: Db, refs: readonly string[], now: Date): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of batches(refs)) {
    const rows = await db.selectFrom('blob_pins').select('ref').where('ref', 'in', part).where('expires_at', '>', now.getTime()).execute();
    for (const r of rows) out.add(r.ref);
  }
  await db.deleteFrom('blob_pins').where('expires_at', '<=', now.getTime()).execute();
  return out;
}
