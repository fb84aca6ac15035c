// Versioned buckets in the metadata store. The current version of a key, when it is an object,
// stays in `objects` (so ListObjectsV2 and a GET without versionId cost what they cost in an
// unversioned bucket); noncurrent versions and every delete marker live in `object_versions`.
// Invariant: a key has an `objects` row exactly when its newest version is an object.
//
// `seq` orders a key's versions (newest highest): a write takes max(now in ms * 1024, the key's
// highest seq + 1), so versions order by time and, within one millisecond, by commit order.
//
// Each write is one transaction of compare-and-swap statements (rows are changed only if they are
// still the state that was read); a lost race rolls the transaction back and runs it again, so the
// rules hold under PostgreSQL's READ COMMITTED as under SQLite's serialized writes.

import type { Compilable, Kysely, Transaction, UpdateQueryBuilder, DeleteQueryBuilder, UpdateResult } from 'kysely';
import type {
  BlobPart,
  LegalHold,
  ListedVersion,
  ListVersionsQuery,
  ObjectRow,
  ObjectVersionRow,
  PutCondition,
  PutOutcome,
  RemovalGuard,
  RemovalOutcome,
  Retention,
} from './metadata-store.js';
import type { Database, ObjectsTable, ObjectVersionsTable } from './schema.js';
import { etagMatches, legalHoldColumn, parseBlobs, releasable, toObjectRow, toObjectValues } from './queries.js';
import { inTransaction, type TransactionOptions } from './transaction.js';
import { insertObjectIfAbsent, OBJECT_COLUMNS, objectByKey, rowsChanged } from './hot-queries.js';
import { prepared } from './prepared.js';
import { compareUtf8, prefixSuccessor, tightestLowerBound, type KeyBound } from './key-order.js';

type Db = Kysely<Database> | Transaction<Database>;

const SEQ_PER_MS = 1024;
const MAX_ATTEMPTS = 16;

/** The seq of a write at `at` that nothing else orders against (unversioned writes). */
export function seqAt(at: Date): number {
  return at.getTime() * SEQ_PER_MS;
}

function nextSeq(at: Date, highest: number): number {
  return Math.max(seqAt(at), highest + 1);
}

/**
 * What a successful write adds to its transaction (the blob ledger, when the store keeps one):
 * the blobs the write made a row refer to, and those no row refers to any more.
 */
export interface LedgerHooks {
  committed(trx: Transaction<Database>, adopted: string[], released: BlobPart[]): Promise<void>;
}

/** Thrown inside a transaction when a compare-and-swap lost to a concurrent writer. */
class LostRace extends Error {
  constructor() {
    super('lost a race with a concurrent write');
  }
}

/**
 * Runs `fn` in a transaction, again from the start whenever it lost a race (a compare-and-swap
 * here, or what the database itself reports: see transaction.ts).
 */
export async function raceFree<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>, opts?: TransactionOptions): Promise<T> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      return await inTransaction(db, fn, opts);
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
    }
  }
  throw new Error(`gave up after ${MAX_ATTEMPTS} concurrent changes to one key`);
}

// ---- rows ----

export function currentVersion(r: ObjectsTable): ObjectVersionRow {
  return { ...toObjectRow(r), isLatest: true, isDeleteMarker: false, noncurrentSince: null };
}

function storedVersion(r: ObjectVersionsTable, isLatest: boolean): ObjectVersionRow {
  const { delete_marker, noncurrent_since, ...rest } = r;
  return {
    ...toObjectRow(rest),
    isLatest,
    isDeleteMarker: Number(delete_marker) === 1,
    noncurrentSince: noncurrent_since === null || isLatest ? null : new Date(Number(noncurrent_since)),
  };
}

// The statements of versioned writes are compiled once per database (see prepared.ts): a
// versioned PUT runs four or five of them in its transaction.

type Sql = Kysely<Database>;

/** Every column of object_versions: those of objects, then the two of its own. */
const VERSION_COLUMNS = [...OBJECT_COLUMNS, 'delete_marker', 'noncurrent_since'] as const satisfies ReadonlyArray<keyof ObjectVersionsTable>;
/** What a write of the current version changes: every column of objects but its key. */
const CURRENT_COLUMNS = OBJECT_COLUMNS.filter((c): c is Exclude<(typeof OBJECT_COLUMNS)[number], 'bucket_id' | 'key'> => c !== 'bucket_id' && c !== 'key');
/** Compiles only while VERSION_COLUMNS names every column: the statements write whole rows. */
const everyColumn: [Exclude<keyof ObjectVersionsTable, (typeof VERSION_COLUMNS)[number]>] extends [never] ? true : never = true;
void everyColumn;

/** The columns a compare-and-swap pins: a row exactly as read (version, content and lock). */
type Pinned = Pick<ObjectsTable, 'bucket_id' | 'key' | 'version_id' | 'seq' | 'blobs' | 'legal_hold' | 'lock_mode' | 'lock_until'>;

/** The values pinWhere takes for `r`, in its order. */
function pinnedValues(r: Pinned): unknown[] {
  return [r.bucket_id, r.key, r.version_id, r.seq, r.blobs, r.legal_hold, r.lock_mode, r.lock_until];
}

/** The `where` clauses that pin a row to exactly the state read (`is not distinct from`: a null lock matches null). */
function pinWhere<Q extends UpdateQueryBuilder<Database, any, any, any> | DeleteQueryBuilder<Database, any, any>>(q: Q, values: unknown[]): Q {
  // The casts pin the columns both tables share; Kysely cannot see that through the union.
  const query = q as unknown as UpdateQueryBuilder<Database, 'objects', 'objects', UpdateResult>;
  const [bucketId, key, versionId, seq, blobs, legalHold, lockMode, lockUntil] = values as [string, string, string, number, string, number, string | null, number | null];
  return query
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('version_id', '=', versionId)
    .where('seq', '=', seq)
    .where('blobs', '=', blobs)
    .where('legal_hold', '=', legalHold)
    .where('lock_mode', 'is not distinct from', lockMode)
    .where('lock_until', 'is not distinct from', lockUntil) as unknown as Q;
}

/** A compare-and-swap statement, compiled once; runs with `leading` values, then the row's pinned ones. */
function pinnedStatement(build: (db: Sql, leading: unknown[], pinned: unknown[]) => Compilable<unknown>, leadingCount: number) {
  const statement = prepared((db: Sql, ...args: unknown[]) => build(db, args.slice(0, leadingCount), args.slice(leadingCount)));
  return (db: Sql, row: Pinned, ...leading: unknown[]) => statement(db, ...leading, ...pinnedValues(row));
}

const deleteCurrentIfUnchanged = pinnedStatement((db, _l, pinned) => pinWhere(db.deleteFrom('objects'), pinned), 0);
const deleteStoredIfUnchanged = pinnedStatement((db, _l, pinned) => pinWhere(db.deleteFrom('object_versions'), pinned), 0);
const replaceCurrentIfUnchanged = pinnedStatement(
  (db, values, pinned) => pinWhere(db.updateTable('objects').set(Object.fromEntries(CURRENT_COLUMNS.map((c, i) => [c, values[i]]))), pinned),
  CURRENT_COLUMNS.length,
);

const insertVersionRow = prepared((db: Sql, ...values: unknown[]) =>
  db
    .insertInto('object_versions')
    .values(Object.fromEntries(VERSION_COLUMNS.map((c, i) => [c, values[i]])) as unknown as ObjectVersionsTable)
    .onConflict((oc) => oc.columns(['bucket_id', 'key', 'version_id']).doNothing()),
);

/** Inserts a version row unless the key has that version already; true when it did. */
async function insertVersion(trx: Sql, row: ObjectVersionsTable): Promise<boolean> {
  return rowsChanged(await insertVersionRow(trx, ...VERSION_COLUMNS.map((c) => row[c])));
}

const newestStoredRow = prepared((db: Sql, bucketId: string, key: string) =>
  db.selectFrom('object_versions').selectAll().where('bucket_id', '=', bucketId).where('key', '=', key).orderBy('seq', 'desc').limit(1),
);

const storedVersionById = prepared((db: Sql, bucketId: string, key: string, versionId: string) =>
  db.selectFrom('object_versions').selectAll().where('bucket_id', '=', bucketId).where('key', '=', key).where('version_id', '=', versionId),
);

const highestStoredSeq = prepared((db: Sql, bucketId: string, key: string) =>
  db.selectFrom('object_versions').select('seq').where('bucket_id', '=', bucketId).where('key', '=', key).orderBy('seq', 'desc').limit(1),
);

/** The key's current delete marker (if any) becomes noncurrent at `at`. */
const markNoncurrent = prepared((db: Sql, at: number, bucketId: string, key: string) =>
  db.updateTable('object_versions').set({ noncurrent_since: at }).where('bucket_id', '=', bucketId).where('key', '=', key).where('noncurrent_since', 'is', null),
);

async function currentRow(db: Db, bucketId: string, key: string): Promise<ObjectsTable | undefined> {
  return (await objectByKey(db, bucketId, key)).rows[0];
}

async function newestStored(db: Db, bucketId: string, key: string): Promise<ObjectVersionsTable | undefined> {
  return (await newestStoredRow(db, bucketId, key)).rows[0];
}

async function storedVersionRow(db: Db, bucketId: string, key: string, versionId: string): Promise<ObjectVersionsTable | undefined> {
  return (await storedVersionById(db, bucketId, key, versionId)).rows[0];
}

/** Copies the current row into object_versions as noncurrent since `at`. */
async function demote(trx: Transaction<Database>, current: ObjectsTable, at: Date): Promise<void> {
  if (!(await insertVersion(trx, { ...current, delete_marker: 0, noncurrent_since: at.getTime() }))) throw new LostRace();
}

async function removeStored(trx: Transaction<Database>, row: ObjectVersionsTable): Promise<void> {
  if (!rowsChanged(await deleteStoredIfUnchanged(trx, row))) throw new LostRace();
}

async function removeCurrent(trx: Transaction<Database>, row: ObjectsTable): Promise<void> {
  if (!rowsChanged(await deleteCurrentIfUnchanged(trx, row))) throw new LostRace();
}

/** Under suspended versioning: the stored null version goes (its blobs are returned), if the guard allows. */
async function dropStoredNull(trx: Transaction<Database>, bucketId: string, key: string, guard: RemovalGuard): Promise<BlobPart[] | 'locked'> {
  const stored = await storedVersionRow(trx, bucketId, key, 'null');
  if (!stored) return [];
  if (!guard(storedVersion(stored, false))) return 'locked';
  await removeStored(trx, stored);
  return parseBlobs(stored.blobs);
}

/** After the newest version went: the next newest becomes current (an object moves into `objects`). */
async function promoteNewest(trx: Transaction<Database>, bucketId: string, key: string): Promise<void> {
  if (await currentRow(trx, bucketId, key)) return;
  const newest = await newestStored(trx, bucketId, key);
  if (!newest) return;
  if (Number(newest.delete_marker) === 1) {
    await trx
      .updateTable('object_versions')
      .set({ noncurrent_since: null })
      .where('bucket_id', '=', bucketId)
      .where('key', '=', key)
      .where('version_id', '=', newest.version_id)
      .execute();
    return;
  }
  await removeStored(trx, newest);
  const { delete_marker: _d, noncurrent_since: _n, ...current } = newest;
  if (!(await insertObjectIfAbsent(trx, current))) throw new LostRace();
}

async function highestSeq(trx: Transaction<Database>, current: ObjectsTable | undefined, bucketId: string, key: string): Promise<number> {
  const stored = (await highestStoredSeq(trx, bucketId, key)).rows[0];
  return Math.max(current ? Number(current.seq) : -1, stored ? Number(stored.seq) : -1);
}

// ---- writes ----

/** One versioned write of `row` as the current version (inside a transaction; see putObject). */
export async function writeVersioned(
  trx: Transaction<Database>,
  row: ObjectRow,
  cond: PutCondition,
  mode: 'enabled' | 'suspended',
  guard: RemovalGuard,
): Promise<PutOutcome> {
  const current = await currentRow(trx, row.bucketId, row.key);
  // Conditions apply to the current version; a delete marker counts as no object.
  if (cond.kind === 'ifNoneMatch' && current) return { ok: false, reason: 'exists' };
  if (cond.kind === 'ifMatch') {
    if (!current) return { ok: false, reason: 'missing' };
    if (!etagMatches(current.etag, cond.etag)) return { ok: false, reason: 'etag-mismatch' };
  }
  const release: BlobPart[] = [];
  if (mode === 'suspended') {
    const dropped = await dropStoredNull(trx, row.bucketId, row.key, guard);
    if (dropped === 'locked') return { ok: false, reason: 'locked' };
    release.push(...dropped);
  }
  const values = toObjectValues({ ...row, versionId: mode === 'suspended' ? 'null' : row.versionId }, nextSeq(row.lastModified, await highestSeq(trx, current, row.bucketId, row.key)));
  if (current) {
    if (mode === 'suspended' && current.version_id === 'null') {
      if (!guard(currentVersion(current))) return { ok: false, reason: 'locked' };
      release.push(...parseBlobs(current.blobs));
    } else {
      await demote(trx, current, row.lastModified);
    }
    if (!rowsChanged(await replaceCurrentIfUnchanged(trx, current, ...CURRENT_COLUMNS.map((c) => values[c])))) throw new LostRace();
  } else {
    // A current delete marker becomes noncurrent now.
    await markNoncurrent(trx, row.lastModified.getTime(), row.bucketId, row.key);
    if (!(await insertObjectIfAbsent(trx, values))) throw new LostRace();
  }
  return { ok: true, replaced: releasable(release, row.blobs) };
}

export function putVersioned(
  db: Kysely<Database>,
  row: ObjectRow,
  cond: PutCondition,
  mode: 'enabled' | 'suspended',
  guard: RemovalGuard,
  hooks?: LedgerHooks,
): Promise<PutOutcome> {
  return raceFree(db, async (trx) => {
    const put = await writeVersioned(trx, row, cond, mode, guard);
    // A failed write changed nothing, and leaves the new blobs pending: the caller deletes them.
    if (put.ok && hooks) await hooks.committed(trx, row.blobs.map((b) => b.ref), put.replaced);
    return put;
  });
}

export function putDeleteMarker(
  db: Kysely<Database>,
  marker: { bucketId: string; key: string; versionId: string; lastModified: Date },
  mode: 'enabled' | 'suspended',
  guard: RemovalGuard,
  onlyIf?: (current: ObjectVersionRow | null) => boolean,
  hooks?: LedgerHooks,
): Promise<RemovalOutcome> {
  const { bucketId, key, lastModified } = marker;
  return raceFree(db, async (trx) => {
    const current = await currentRow(trx, bucketId, key);
    // The current row is pinned by the compare-and-swap below, so the check holds at commit.
    if (onlyIf && !onlyIf(current ? currentVersion(current) : null)) return { ok: false, reason: 'changed' } as const;
    const release: BlobPart[] = [];
    if (mode === 'suspended') {
      const dropped = await dropStoredNull(trx, bucketId, key, guard);
      if (dropped === 'locked') return { ok: false, reason: 'locked' } as const;
      release.push(...dropped);
    }
    const seq = nextSeq(lastModified, await highestSeq(trx, current, bucketId, key));
    if (current) {
      if (mode === 'suspended' && current.version_id === 'null') {
        if (!guard(currentVersion(current))) return { ok: false, reason: 'locked' } as const;
        release.push(...parseBlobs(current.blobs));
      } else {
        await demote(trx, current, lastModified);
      }
      await removeCurrent(trx, current);
    } else {
      await markNoncurrent(trx, lastModified.getTime(), bucketId, key);
    }
    const inserted = await insertVersion(trx, {
      bucket_id: bucketId,
      key,
      version_id: mode === 'suspended' ? 'null' : marker.versionId,
      seq,
      delete_marker: 1,
      noncurrent_since: null,
      size: 0,
      etag: '',
      last_modified: lastModified.getTime(),
      headers: '{}',
      user_metadata: '{}',
      checksum: null,
      blobs: '[]',
      parts_count: null,
      tags: '{}',
      storage_class: 'STANDARD',
      encryption: null,
      lock_mode: null,
      lock_until: null,
      legal_hold: 0,
      acl: null,
    });
    if (!inserted) throw new LostRace();
    await hooks?.committed(trx, [], release);
    return { ok: true, release } as const;
  });
}

export function deleteVersion(
  db: Kysely<Database>,
  bucketId: string,
  key: string,
  versionId: string,
  guard: RemovalGuard,
  hooks?: LedgerHooks,
): Promise<{ ok: true; deleted: ObjectVersionRow | null; release: BlobPart[] } | { ok: false; reason: 'locked' }> {
  return raceFree(db, async (trx) => {
    const current = await currentRow(trx, bucketId, key);
    let deleted: ObjectVersionRow;
    if (current && current.version_id === versionId) {
      deleted = currentVersion(current);
      if (!guard(deleted)) return { ok: false, reason: 'locked' } as const;
      await removeCurrent(trx, current);
    } else {
      const stored = await storedVersionRow(trx, bucketId, key, versionId);
      if (!stored) return { ok: true, deleted: null, release: [] } as const;
      deleted = storedVersion(stored, false);
      if (!current) deleted.isLatest = (await newestStored(trx, bucketId, key))?.version_id === versionId;
      if (!guard(deleted)) return { ok: false, reason: 'locked' } as const;
      await removeStored(trx, stored);
    }
    await promoteNewest(trx, bucketId, key);
    await hooks?.committed(trx, [], deleted.blobs);
    return { ok: true, deleted, release: deleted.blobs } as const;
  });
}

// ---- reads ----

export async function getVersion(db: Db, bucketId: string, key: string, versionId: string): Promise<ObjectVersionRow | null> {
  const current = await currentRow(db, bucketId, key);
  if (current && current.version_id === versionId) return currentVersion(current);
  const stored = await storedVersionRow(db, bucketId, key, versionId);
  if (!stored) return null;
  const isLatest = !current && (await newestStored(db, bucketId, key))?.version_id === versionId;
  return storedVersion(stored, isLatest);
}

export async function getLatest(db: Db, bucketId: string, key: string): Promise<ObjectVersionRow | null> {
  const current = await currentRow(db, bucketId, key);
  if (current) return currentVersion(current);
  const newest = await newestStored(db, bucketId, key);
  return newest ? storedVersion(newest, true) : null;
}

/**
 * Versions in listing order: by key (UTF-8 bytes), within a key the current object first, then the
 * stored versions newest first (seq descending throughout, the current object being the newest).
 * Two index range reads of at most `limit` rows each, merged.
 */
export async function listVersions(db: Db, bucketId: string, q: ListVersionsQuery): Promise<ListedVersion[]> {
  const out: ListedVersion[] = [];
  if (q.limit <= 0) return out;
  const inPrefix = q.keyMarker === undefined || q.keyMarker.startsWith(q.prefix);
  if (q.keyMarker !== undefined && q.versionIdMarker !== undefined && inPrefix) out.push(...(await restOfKey(db, bucketId, q.keyMarker, await markerSeq(db, bucketId, q), q.limit)));
  const remaining = q.limit - out.length;
  if (remaining <= 0) return out;

  const [currents, stored] = versionRangeQueries(db, bucketId, q, remaining);
  const [a, b] = await Promise.all([currents.execute(), stored.execute()]);
  let i = 0;
  let j = 0;
  let lastKey: string | undefined;
  while (out.length < q.limit && (i < a.length || j < b.length)) {
    // Within a key, the current object comes first.
    const takeCurrent = j >= b.length || (i < a.length && compareUtf8(a[i].key, b[j].key) <= 0);
    const key = takeCurrent ? a[i].key : b[j].key;
    if (takeCurrent) out.push(listed(currentVersion(a[i]), a[i++].seq));
    // The first of a key's versions is its latest; a current object would have come before it.
    else out.push(listed(storedVersion(b[j], key !== lastKey), b[j++].seq));
    lastKey = key;
  }
  return out;
}

function listed(row: ObjectVersionRow, seq: number | bigint): ListedVersion {
  return { ...row, seq: Number(seq) };
}

/**
 * Where the marker version sits among its key's versions: the seq the caller passed, else the
 * marker's own. A marker version deleted since, named by its ID alone, has no place left to resume
 * from: the key is listed again from its newest version, as repeating versions is better than
 * silently skipping the ones after it.
 */
async function markerSeq(db: Db, bucketId: string, q: ListVersionsQuery): Promise<number> {
  if (q.versionSeqMarker !== undefined) return q.versionSeqMarker;
  const key = q.keyMarker!;
  const current = await currentRow(db, bucketId, key);
  if (current && current.version_id === q.versionIdMarker) return Number(current.seq);
  const marker = await storedVersionRow(db, bucketId, key, q.versionIdMarker!);
  return marker ? Number(marker.seq) : Infinity;
}

/** Up to `limit` versions of `key` older than `olderThan` (a seq), newest first. */
async function restOfKey(db: Db, bucketId: string, key: string, olderThan: number, limit: number): Promise<ListedVersion[]> {
  const out: ListedVersion[] = [];
  const current = await currentRow(db, bucketId, key);
  if (current && Number(current.seq) < olderThan) out.push(listed(currentVersion(current), current.seq));
  if (out.length >= limit) return out;
  let rest = db.selectFrom('object_versions').selectAll().where('bucket_id', '=', bucketId).where('key', '=', key);
  if (olderThan !== Infinity) rest = rest.where('seq', '<', olderThan);
  const rows = await rest.orderBy('seq', 'desc').limit(limit - out.length).execute();
  if (rows.length === 0) return out;
  // Without a current object, the newest stored version is the latest (the marker may have been it).
  const newest = current ? undefined : await newestStored(db, bucketId, key);
  for (const r of rows) out.push(listed(storedVersion(r, r.version_id === newest?.version_id), r.seq));
  return out;
}

/**
 * The two index range reads of a ListObjectVersions page (the current objects, the stored
 * versions), each at most `limit` rows in listing order; exported so a test can check their plans.
 */
export function versionRangeQueries(db: Db, bucketId: string, q: ListVersionsQuery, limit: number) {
  const bounds: KeyBound[] = [];
  if (q.from !== undefined) bounds.push({ key: q.from, inclusive: true });
  if (q.keyMarker !== undefined) bounds.push({ key: q.keyMarker, inclusive: false });
  const lower = tightestLowerBound([q.prefix ? { key: q.prefix, inclusive: true } : undefined, ...bounds]);
  const upper = q.prefix ? prefixSuccessor(q.prefix) : null;
  let currents = db.selectFrom('objects').selectAll().where('bucket_id', '=', bucketId);
  let stored = db.selectFrom('object_versions').selectAll().where('bucket_id', '=', bucketId);
  if (lower) {
    currents = currents.where('key', lower.inclusive ? '>=' : '>', lower.key);
    stored = stored.where('key', lower.inclusive ? '>=' : '>', lower.key);
  }
  if (upper !== null) {
    currents = currents.where('key', '<', upper);
    stored = stored.where('key', '<', upper);
  }
  return [currents.orderBy('key').limit(limit), stored.orderBy('key').orderBy('seq', 'desc').limit(limit)] as const;
}

// ---- per-version changes ----

/** The version whose tags were set (the current one unless versionId), or null when there is none. */
export async function setTags(db: Db, bucketId: string, key: string, tags: Record<string, string>, versionId: string | undefined): Promise<string | null> {
  const value = JSON.stringify(tags);
  let q = db.updateTable('objects').set({ tags: value }).where('bucket_id', '=', bucketId).where('key', '=', key);
  if (versionId !== undefined) q = q.where('version_id', '=', versionId);
  const current = await q.returning('version_id').executeTakeFirst();
  if (current) return current.version_id;
  if (versionId === undefined) return null;
  const r = await db
    .updateTable('object_versions')
    .set({ tags: value })
    .where('bucket_id', '=', bucketId)
    .where('key', '=', key)
    .where('version_id', '=', versionId)
    .where('delete_marker', '=', 0)
    .returning('version_id')
    .executeTakeFirst();
  return r?.version_id ?? null;
}

interface LockState {
  retention: Retention | null;
  legalHold: LegalHold;
}

function lockColumns(s: LockState) {
  return {
    lock_mode: s.retention?.mode ?? null,
    lock_until: s.retention ? s.retention.until.getTime() : null,
    legal_hold: legalHoldColumn(s.legalHold),
  };
}

export async function setLock(
  db: Db,
  bucketId: string,
  key: string,
  versionId: string | undefined,
  expected: LockState,
  next: LockState,
): Promise<'ok' | 'missing' | 'changed'> {
  const was = lockColumns(expected);
  const pin = <Q extends UpdateQueryBuilder<Database, any, any, any>>(q: Q): Q => {
    const query = q as unknown as UpdateQueryBuilder<Database, 'objects', 'objects', UpdateResult>;
    let out = query.where('legal_hold', '=', was.legal_hold);
    out = was.lock_mode === null ? out.where('lock_mode', 'is', null) : out.where('lock_mode', '=', was.lock_mode);
    out = was.lock_until === null ? out.where('lock_until', 'is', null) : out.where('lock_until', '=', was.lock_until);
    return out as unknown as Q;
  };
  let current = db.updateTable('objects').set(lockColumns(next)).where('bucket_id', '=', bucketId).where('key', '=', key);
  if (versionId !== undefined) current = current.where('version_id', '=', versionId);
  if (rowsChanged(await pin(current).executeTakeFirst())) return 'ok';
  if (versionId !== undefined) {
    const stored = db
      .updateTable('object_versions')
      .set(lockColumns(next))
      .where('bucket_id', '=', bucketId)
      .where('key', '=', key)
      .where('version_id', '=', versionId)
      .where('delete_marker', '=', 0);
    if (rowsChanged(await pin(stored).executeTakeFirst())) return 'ok';
  }
  const exists = versionId === undefined ? await currentRow(db, bucketId, key) : await getVersion(db, bucketId, key, versionId);
  if (!exists || (versionId !== undefined && (exists as ObjectVersionRow).isDeleteMarker)) return 'missing';
  return 'changed';
}

