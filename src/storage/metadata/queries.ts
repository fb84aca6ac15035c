// MetadataStore over any Kysely<Database>: SQLite and PostgreSQL run the same code.
//
// Portability rules followed here: no SQLite-only SQL, no FOR UPDATE; every conditional write is a
// compare-and-swap at statement level (INSERT ... ON CONFLICT DO NOTHING, or UPDATE ... WHERE the
// row is still the version we read), so conditions hold even under PostgreSQL's READ COMMITTED,
// where a SELECT then write in one transaction is not enough on its own. What differs between
// the engines is handled once: errors become StoreError (store-errors.ts, on every connection),
// transactions that lose an unorderable race run again (transaction.ts), numbers come back as
// numbers (each store's driver setup), and keys compare by bytes (COLLATE "C" in schema.ts).

import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction, type SelectQueryBuilder } from 'kysely';
import type { ChecksumAlgorithm, ChecksumType, StoredChecksum } from '../../checksums/types.js';
import type {
  BlobPart,
  BlobReferenceSnapshot,
  BucketRow,
  BucketSettingName,
  BlobLedgerEntry,
  BlobLedgerState,
  AuditQuery,
  AuditRow,
  BucketStats,
  LegalHold,
  ListedVersion,
  ListVersionsQuery,
  ObjectVersionRow,
  RemovalGuard,
  RemovalOutcome,
  Retention,
  VersioningMode,
  TokenPatch,
  TokenRow,
  CredentialRecord,
  ListObjectsQuery,
  DelimitedEntry,
  DelimitedListQuery,
  VersionPrefixes,
  ListUploadsQuery,
  MembershipRow,
  ProjectMemberRow,
  MetadataStore,
  SessionRow,
  StorageQuery,
  StorageQuota,
  StorageSnapshot,
  StorageUsed,
  TemporaryCredentialRecord,
  TemporaryCredentialRow,
  TokenUsage,
  UsageDay,
  UsageIncrement,
  UsageQuery,
  UserRow,
  ObjectRow,
  ObjectSummary,
  PartRow,
  ProjectRow,
  PutCondition,
  PutOutcome,
  CompletedPart,
  UploadCompletion,
  RetentionMode,
  StoredEncryption,
  StoredHeaders,
  UploadRow,
} from './metadata-store.js';
import { storageAdded, storageRemoved, storedTotals, type QuotaCharge } from './metadata-store.js';
import type { Database, MultipartUploadsTable, ObjectsTable, PartsTable } from './schema.js';
import * as audit from './audit-queries.js';
import * as tokens from './token-queries.js';
import * as users from './user-queries.js';
import * as usage from './usage-queries.js';
import * as ledger from './blob-ledger-queries.js';
import * as copy from './table-copy.js';
import * as temporary from './temporary-credential-queries.js';
import * as quotas from './quota-queries.js';
import { prefixSuccessor, tightestLowerBound, type KeyBound } from './key-order.js';
import { inTransaction } from './transaction.js';
import { isStoreError } from './store-errors.js';
import * as versions from './version-queries.js';
import { seqAt } from './version-queries.js';
import { SUMMARY_COLUMNS, summaryFromValues, toObjectSummary } from './summary-rows.js';
import type { ArrayRowReader } from './sqlite-array-rows.js';
import { listDelimited, listVersionPrefixes, type WalkDialect } from './delimited-walk.js';
import * as hot from './hot-queries.js';

type Db = Kysely<Database> | Transaction<Database>;
type CompleteFailure = { ok: false; reason: 'no-such-upload' } | { ok: false; reason: 'invalid-part' } | Exclude<PutOutcome, { ok: true }>;

/** First half of the advisory lock keys of limiter keys (the second is hashtext(key)): "lim" and 1. */
const LIMITER_LOCK_CLASS = 0x6c696d01;

/** No Object Lock: every version may be removed. */
const allowAll: RemovalGuard = () => true;

/** Rows per read when every blob reference is collected (the orphan sweep). */
const REF_PAGE = 1000;

/** A compare-and-swap that keeps losing means something is badly wrong; stop rather than spin. */
const MAX_CAS_ATTEMPTS = 16;

/** Thrown inside a transaction to roll it back and return `outcome` to the caller. */
class Rollback<T> extends Error {
  constructor(readonly outcome: T) {
    super('rollback');
  }
}

/** How an open store runs what only one process may do at a time (see exclusive()). */
export type ExclusiveRunner = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export interface KyselyStoreOptions {
  nodeId: string;
  exclusive: ExclusiveRunner;
  /** Keep the blob ledger in the write transactions (see StoreOptions.blobLedger). */
  blobLedger: boolean;
  /** Runs a listing read with rows as arrays (SQLite: see sqlite-array-rows.ts); objects otherwise. */
  arrayRows?: ArrayRowReader;
  /** Snapshots the blob refs off the store's connection (SQLite: see sqlite-blob-references.ts); in memory otherwise. */
  blobReferences?: (signal?: AbortSignal) => Promise<BlobReferenceSnapshot>;
  /** The SQL the delimiter walks are written in (delimited-walk.ts). */
  walkDialect: WalkDialect;
}

/** The worker_leases row that marks a migration target whose copy has not finished. */
const MIGRATION_MARK = 'migration-incomplete';

export class KyselyMetadataStore implements MetadataStore {
  private readonly nodeId: string;
  private readonly runExclusive: ExclusiveRunner;
  private readonly ledger: boolean;
  private readonly arrayRows: ArrayRowReader | undefined;
  private readonly blobReferences: ((signal?: AbortSignal) => Promise<BlobReferenceSnapshot>) | undefined;
  private readonly walkDialect: WalkDialect;
  /** What versioned writes add to their transactions when the blob ledger is kept (none otherwise). */
  private readonly ledgerHooks: versions.LedgerHooks | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    opts: KyselyStoreOptions,
  ) {
    this.nodeId = opts.nodeId;
    this.runExclusive = opts.exclusive;
    this.ledger = opts.blobLedger;
    this.arrayRows = opts.arrayRows;
    this.blobReferences = opts.blobReferences;
    this.walkDialect = opts.walkDialect;
    this.ledgerHooks = opts.blobLedger
      ? {
          committed: async (trx, adopted, released) => {
            await ledger.adoptBlobs(trx, adopted);
            await ledger.releaseBlobs(trx, released, new Date(), this.nodeId);
          },
        }
      : undefined;
  }

  // ---- projects ----

  async createProject(row: ProjectRow): Promise<void> {
    await this.db
      .insertInto('projects')
      .values({ id: row.id, name: row.name, created_at: row.createdAt.getTime(), max_token_days: row.maxTokenDays })
      .execute();
  }

  async getProject(id: string): Promise<ProjectRow | null> {
    const r = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toProjectRow(r) : null;
  }

  async updateProject(id: string, patch: { name?: string; maxTokenDays?: number | null }): Promise<boolean> {
    const set: { name?: string; max_token_days?: number | null } = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.maxTokenDays !== undefined) set.max_token_days = patch.maxTokenDays;
    if (Object.keys(set).length === 0) return (await this.getProject(id)) !== null;
    const result = await this.db.updateTable('projects').set(set).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listProjects(): Promise<ProjectRow[]> {
    const rows = await this.db.selectFrom('projects').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toProjectRow);
  }

  // ---- buckets ----

  async createBucket(row: BucketRow, settings: Partial<Record<BucketSettingName, string>> = {}): Promise<'created' | 'exists'> {
    const values = {
      id: row.id,
      project_id: row.projectId,
      name: row.name,
      region: row.region,
      created_at: row.createdAt.getTime(),
    };
    const initial = Object.entries(settings).filter((e): e is [BucketSettingName, string] => e[1] !== undefined);
    const create = async (db: Db) => {
      const r = await db
        .insertInto('buckets')
        .values(values)
        .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
        .executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) return 'exists' as const;
      for (const [name, value] of initial) {
        await db.insertInto('bucket_settings').values({ bucket_id: row.id, name, value, updated_at: values.created_at }).execute();
      }
      return 'created' as const;
    };
    // A bucket created with Object Lock is never seen without it.
    return initial.length === 0 ? create(this.db) : this.db.transaction().execute(create);
  }

  async getBucket(projectId: string, name: string): Promise<BucketRow | null> {
    const r = await this.db
      .selectFrom('buckets')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    return r ? toBucketRow(r) : null;
  }

  async listBuckets(projectId: string): Promise<BucketRow[]> {
    const rows = await this.db
      .selectFrom('buckets')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
    return rows.map(toBucketRow);
  }

  async deleteBucket(bucketId: string): Promise<'deleted' | 'not-empty' | 'gone'> {
    // One statement checks emptiness and deletes (after the bucket's completed uploads go, in the
    // same transaction): a concurrent write cannot split the check from the delete.
    // On PostgreSQL an insert committed while the delete waited for its lock is seen only by the
    // foreign key check: that is 'not-empty' too.
    const r = await this.tryDeleteBucket(bucketId);
    if (r === 'in-use' || r === 'kept') return 'not-empty';
    if (r === 'deleted') await this.db.deleteFrom('storage_counters').where('bucket_id', '=', bucketId).execute();
    return r;
  }

  private async tryDeleteBucket(bucketId: string): Promise<'deleted' | 'kept' | 'gone' | 'in-use'> {
    try {
      return await inTransaction(this.db, async (trx) => {
        // Completed uploads (kept for retries of their completion) go with the bucket, and stay
        // if it does.
        await trx.deleteFrom('multipart_uploads').where('bucket_id', '=', bucketId).where('completed_at', 'is not', null).execute();
        const r = await trx
          .deleteFrom('buckets')
          .where('id', '=', bucketId)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('objects').select(sql.lit(1).as('one')).where('bucket_id', '=', bucketId))),
          )
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('multipart_uploads').select(sql.lit(1).as('one')).where('bucket_id', '=', bucketId).where('completed_at', 'is', null))),
          )
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('object_versions').select(sql.lit(1).as('one')).where('bucket_id', '=', bucketId))),
          )
          .executeTakeFirst();
        if (Number(r.numDeletedRows) > 0) return 'deleted' as const;
        // Nothing deleted: the bucket holds something, or a concurrent delete took it first (on
        // PostgreSQL this statement sees that delete's commit, which the one above waited for).
        // Only the delete that took it deleted it: the others are answered NoSuchBucket.
        const still = await trx.selectFrom('buckets').select('id').where('id', '=', bucketId).executeTakeFirst();
        throw new Rollback(still ? ('kept' as const) : ('gone' as const));
      });
    } catch (err) {
      if (err instanceof Rollback) return err.outcome as 'kept' | 'gone';
      if (isStoreError(err, 'foreign-key')) return 'in-use';
      throw err;
    }
  }

  // ---- bucket settings ----

  async getBucketSettings(bucketId: string): Promise<Partial<Record<BucketSettingName, string>>> {
    const rows = await this.db.selectFrom('bucket_settings').select(['name', 'value']).where('bucket_id', '=', bucketId).execute();
    const out: Partial<Record<BucketSettingName, string>> = {};
    for (const r of rows) out[r.name as BucketSettingName] = r.value;
    return out;
  }

  async putBucketSetting(bucketId: string, name: BucketSettingName, value: string | null, at: Date): Promise<boolean> {
    if (value === null) {
      await this.db.deleteFrom('bucket_settings').where('bucket_id', '=', bucketId).where('name', '=', name).execute();
      return (await this.db.selectFrom('buckets').select('id').where('id', '=', bucketId).executeTakeFirst()) !== undefined;
    }
    // The foreign key refuses a setting for a bucket deleted meanwhile; that is the 'false' case.
    const exists = await this.db.selectFrom('buckets').select('id').where('id', '=', bucketId).executeTakeFirst();
    if (!exists) return false;
    try {
      await this.db
        .insertInto('bucket_settings')
        .values({ bucket_id: bucketId, name, value, updated_at: at.getTime() })
        .onConflict((oc) => oc.columns(['bucket_id', 'name']).doUpdateSet({ value, updated_at: at.getTime() }))
        .execute();
    } catch (err) {
      if ((await this.db.selectFrom('buckets').select('id').where('id', '=', bucketId).executeTakeFirst()) === undefined) return false;
      throw err;
    }
    return true;
  }

  async bucketsWithSetting(name: BucketSettingName, afterId: string | null, limit: number): Promise<{ bucket: BucketRow; value: string }[]> {
    let q = this.db
      .selectFrom('bucket_settings')
      .innerJoin('buckets', 'buckets.id', 'bucket_settings.bucket_id')
      .selectAll('buckets')
      .select('bucket_settings.value')
      .where('bucket_settings.name', '=', name);
    if (afterId !== null) q = q.where('buckets.id', '>', afterId);
    const rows = await q.orderBy('buckets.id').limit(limit).execute();
    return rows.map((r) => ({ bucket: toBucketRow(r), value: r.value }));
  }

  async getBucketWithSettings(
    projectId: string,
    name: string,
  ): Promise<{ bucket: BucketRow; settings: Partial<Record<BucketSettingName, string>>; projectQuota: StorageQuota | null } | null> {
    // One query: a bucket with no settings is one row with nulls on the right; the project's
    // quota comes along by its primary key, so checking quotas costs no round trip of its own.
    const { rows } = await hot.bucketWithSettings(this.db, projectId, name);
    if (rows.length === 0) return null;
    const settings: Partial<Record<BucketSettingName, string>> = {};
    for (const r of rows) if (r.setting !== null && r.value !== null) settings[r.setting as BucketSettingName] = r.value;
    const r = rows[0];
    return {
      bucket: toBucketRow({ id: r.id, project_id: r.project_id, name: r.name, region: r.region, created_at: r.created_at }),
      settings,
      projectQuota: quotas.quotaOf(r.quota_bytes, r.quota_objects),
    };
  }

  // ---- objects ----

  async getObject(bucketId: string, key: string): Promise<ObjectRow | null> {
    const r = (await hot.objectByKey(this.db, bucketId, key)).rows[0];
    return r ? toObjectRow(r) : null;
  }

  async putObject(row: ObjectRow, cond: PutCondition, versioning: VersioningMode = 'unversioned', guard: RemovalGuard = allowAll, quota?: QuotaCharge): Promise<PutOutcome> {
    const hooks = this.writeHooks(row, quota);
    try {
      if (versioning !== 'unversioned') return await versions.putVersioned(this.db, row, cond, versioning, guard, hooks);
      // writeObject is a compare-and-swap (an insert that does nothing on conflict, or an update of
      // exactly the version it read, retried if another writer got there first): without the
      // ledger or a quota each statement is atomic on its own and the database is not held between
      // them; the transaction adds the ledger (the new blobs adopted, the replaced ones recorded
      // as released) and the quota's counters.
      if (!hooks) return await writeObject(this.db, row, cond);
      return await inTransaction(this.db, async (trx) => {
        const put = await writeObject(trx, row, cond);
        // A failed condition keeps the new blobs' pending records: the caller deletes the blobs.
        if (!put.ok) throw new Rollback(put);
        await hooks.committed(trx, row.blobs.map((b) => b.ref), put.replaced);
        return put;
      });
    } catch (err) {
      if (err instanceof Rollback) return err.outcome as PutOutcome;
      throw err;
    }
  }

  /**
   * The blob ledger's hooks, plus `counted` after them in the same transaction (the quota
   * counters' part of a write or a removal). None (the statements run on their own) for a bucket
   * without a quota in a store without the ledger.
   */
  private hooksWith(counted: ((trx: Transaction<Database>, released: BlobPart[]) => Promise<void>) | undefined): versions.LedgerHooks | undefined {
    if (!counted) return this.ledgerHooks;
    return {
      committed: async (trx, adopted, released) => {
        await this.ledgerHooks?.committed(trx, adopted, released);
        await counted(trx, released);
      },
    };
  }

  /** A write of `row`: under a quota the counters' charge, which rolls the write back when it would pass the quota. */
  private writeHooks(row: ObjectRow, quota: QuotaCharge | undefined): versions.LedgerHooks | undefined {
    return this.hooksWith(quota && ((trx, released) => this.charge(trx, row, released, quota)));
  }

  /** Charges a committed `row` (which replaced `replaced`) to its quotas; over one, rolls back with 'quota'. */
  private async charge(trx: Transaction<Database>, row: ObjectRow, replaced: BlobPart[], quota: QuotaCharge): Promise<void> {
    const breach = await quotas.chargeStorage(trx, row.bucketId, quota, storageAdded(row.size, replaced), this.walkDialect === 'postgres');
    if (breach) throw new Rollback({ ok: false as const, reason: 'quota' as const, breach });
  }

  /** A removal: under a quota the counters' decrease (a delete never passes a quota, so nothing is refused). */
  private removalHooks(bucketId: string, quota: QuotaCharge | undefined): versions.LedgerHooks | undefined {
    return this.hooksWith(quota && ((trx, released) => this.uncharge(trx, bucketId, released, quota)));
  }

  private async uncharge(trx: Transaction<Database>, bucketId: string, released: BlobPart[], quota: QuotaCharge): Promise<void> {
    if (released.length > 0) await quotas.chargeStorage(trx, bucketId, quota, storageRemoved(released), this.walkDialect === 'postgres');
  }

  putDeleteMarker(
    marker: { bucketId: string; key: string; versionId: string; lastModified: Date },
    versioning: 'enabled' | 'suspended',
    guard: RemovalGuard,
    onlyIf?: (current: ObjectVersionRow | null) => boolean,
    quota?: QuotaCharge,
  ): Promise<RemovalOutcome> {
    return versions.putDeleteMarker(this.db, marker, versioning, guard, onlyIf, this.removalHooks(marker.bucketId, quota));
  }

  getObjectVersion(bucketId: string, key: string, versionId: string): Promise<ObjectVersionRow | null> {
    return versions.getVersion(this.db, bucketId, key, versionId);
  }

  getLatestVersion(bucketId: string, key: string): Promise<ObjectVersionRow | null> {
    return versions.getLatest(this.db, bucketId, key);
  }

  deleteObjectVersion(
    bucketId: string,
    key: string,
    versionId: string,
    guard: RemovalGuard,
    quota?: QuotaCharge,
  ): Promise<{ ok: true; deleted: ObjectVersionRow | null; release: BlobPart[] } | { ok: false; reason: 'locked' }> {
    return versions.deleteVersion(this.db, bucketId, key, versionId, guard, this.removalHooks(bucketId, quota));
  }

  listObjectVersions(bucketId: string, q: ListVersionsQuery): Promise<ListedVersion[]> {
    return versions.listVersions(this.db, bucketId, q);
  }

  setObjectLock(
    bucketId: string,
    key: string,
    versionId: string | undefined,
    expected: { retention: Retention | null; legalHold: LegalHold },
    next: { retention: Retention | null; legalHold: LegalHold },
  ): Promise<'ok' | 'missing' | 'changed'> {
    return versions.setLock(this.db, bucketId, key, versionId, expected, next);
  }

  async deleteObject(bucketId: string, key: string, quota?: QuotaCharge): Promise<BlobPart[] | null> {
    if (!this.ledger && !quota) {
      // A single DELETE ... RETURNING is atomic on its own.
      const r = await this.db.deleteFrom('objects').where('bucket_id', '=', bucketId).where('key', '=', key).returning('blobs').executeTakeFirst();
      return r ? parseBlobs(r.blobs) : null;
    }
    return inTransaction(this.db, async (trx) => {
      const r = await trx
        .deleteFrom('objects')
        .where('bucket_id', '=', bucketId)
        .where('key', '=', key)
        .returning('blobs')
        .executeTakeFirst();
      if (!r) return null;
      const blobs = parseBlobs(r.blobs);
      if (this.ledger) await ledger.releaseBlobs(trx, blobs, new Date(), this.nodeId);
      if (quota) await this.uncharge(trx, bucketId, blobs, quota);
      return blobs;
    });
  }

  setObjectTags(bucketId: string, key: string, tags: Record<string, string>, versionId?: string): Promise<string | null> {
    return versions.setTags(this.db, bucketId, key, tags, versionId);
  }

  // Object ACLs: the only queries that read or write the acl column on its own.

  async getObjectAcl(bucketId: string, key: string): Promise<string | null | undefined> {
    const r = await this.db.selectFrom('objects').select('acl').where('bucket_id', '=', bucketId).where('key', '=', key).executeTakeFirst();
    return r === undefined ? undefined : r.acl;
  }

  async setObjectAcl(bucketId: string, key: string, acl: string | null): Promise<boolean> {
    const r = await this.db.updateTable('objects').set({ acl }).where('bucket_id', '=', bucketId).where('key', '=', key).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async listObjects(bucketId: string, q: ListObjectsQuery): Promise<ObjectSummary[]> {
    const query = listObjectsQuery(this.db, bucketId, q);
    if (this.arrayRows) return (await this.arrayRows(query)).map(summaryFromValues);
    return (await query.execute()).map(toObjectSummary);
  }

  listDelimited(bucketId: string, q: DelimitedListQuery): Promise<DelimitedEntry[] | null> {
    return listDelimited(this.db, bucketId, q, this.walkDialect, this.arrayRows);
  }

  listVersionPrefixes(bucketId: string, q: DelimitedListQuery): Promise<VersionPrefixes | null> {
    return listVersionPrefixes(this.db, bucketId, q, this.walkDialect);
  }

  bucketStats(bucketId: string): Promise<BucketStats> {
    return bucketTotals(this.db, bucketId);
  }

  // ---- multipart uploads ----

  async createUpload(row: UploadRow): Promise<void> {
    await this.db
      .insertInto('multipart_uploads')
      .values({
        upload_id: row.uploadId,
        bucket_id: row.bucketId,
        key: row.key,
        initiated: row.initiated.getTime(),
        headers: JSON.stringify(row.headers),
        user_metadata: JSON.stringify(row.userMetadata),
        tags: JSON.stringify(row.tags),
        storage_class: row.storageClass,
        checksum_algorithm: row.checksumAlgorithm,
        checksum_type: row.checksumType,
        encryption: row.encryption ? JSON.stringify(row.encryption) : null,
        object_lock: row.objectLock ? JSON.stringify({ ...row.objectLock, retention: row.objectLock.retention && { mode: row.objectLock.retention.mode, until: row.objectLock.retention.until.getTime() } }) : null,
        acl: row.acl ?? null,
      })
      .execute();
  }

  async getUpload(uploadId: string): Promise<UploadRow | null> {
    const r = await this.db
      .selectFrom('multipart_uploads')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .executeTakeFirst();
    return r ? toUploadRow(r) : null;
  }

  async putPart(row: PartRow): Promise<{ ok: true; replaced: BlobPart | null } | { ok: false }> {
    const values: PartsTable = {
      upload_id: row.uploadId,
      part_number: row.partNumber,
      size: row.size,
      etag: row.etag,
      last_modified: row.lastModified.getTime(),
      blob_ref: row.blob.ref,
      blob_size: row.blob.size,
      checksum: row.checksum ? JSON.stringify(row.checksum) : null,
    };
    try {
      return await inTransaction(this.db, (trx) => this.writePart(trx, row, values));
    } catch (err) {
      // The upload was aborted (and its row deleted) while this part was written.
      if (isStoreError(err, 'foreign-key')) return { ok: false };
      if (err instanceof Rollback) return err.outcome as { ok: false };
      throw err;
    }
  }

  private async writePart(trx: Transaction<Database>, row: PartRow, values: PartsTable): Promise<{ ok: true; replaced: BlobPart | null }> {
    {
      const upload = await this.uploadInProgress(trx, row.uploadId, 'share');
      if (!upload) throw new Rollback({ ok: false as const });
      if (this.ledger) await ledger.adoptBlobs(trx, [row.blob.ref]);
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const old = await trx
          .selectFrom('parts')
          .select(['blob_ref', 'blob_size'])
          .where('upload_id', '=', row.uploadId)
          .where('part_number', '=', row.partNumber)
          .executeTakeFirst();
        if (!old) {
          const r = await trx
            .insertInto('parts')
            .values(values)
            .onConflict((oc) => oc.columns(['upload_id', 'part_number']).doNothing())
            .executeTakeFirst();
          if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) return { ok: true as const, replaced: null };
          continue;
        }
        const r = await trx
          .updateTable('parts')
          .set(values)
          .where('upload_id', '=', row.uploadId)
          .where('part_number', '=', row.partNumber)
          .where('blob_ref', '=', old.blob_ref)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) > 0) {
          // Re-uploading the very same blob replaces nothing.
          const replaced = old.blob_ref === row.blob.ref ? null : { ref: old.blob_ref, size: Number(old.blob_size) };
          if (replaced && this.ledger) await ledger.releaseBlobs(trx, [replaced], new Date(), this.nodeId);
          return { ok: true as const, replaced };
        }
      }
      throw new Error(`putPart: gave up after ${MAX_CAS_ATTEMPTS} concurrent replacements`);
    }
  }

  async listParts(uploadId: string, afterPart: number, limit: number): Promise<PartRow[]> {
    const rows = await this.db
      .selectFrom('parts')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .where('part_number', '>', afterPart)
      .orderBy('part_number')
      .limit(limit)
      .execute();
    return rows.map(toPartRow);
  }

  async listUploads(bucketId: string, q: ListUploadsQuery): Promise<UploadRow[]> {
    const rows = await listUploadsQuery(this.db, bucketId, q).execute();
    return rows.map(toUploadRow);
  }

  async completeUpload(
    uploadId: string,
    object: ObjectRow,
    cond: PutCondition,
    versioning: VersioningMode = 'unversioned',
    guard: RemovalGuard = allowAll,
    completedParts: CompletedPart[] = [],
    quota?: QuotaCharge,
  ): Promise<{ ok: true; release: BlobPart[] } | CompleteFailure> {
    const result: Omit<UploadCompletion, 'completedAt'> = {
      etag: object.etag,
      versionId: object.versionId ?? 'null',
      size: object.size,
      checksum: object.checksum,
      parts: completedParts.map(({ partNumber, etag }) => ({ partNumber, etag })),
    };
    try {
      return await versions.raceFree(this.db, async (trx) => {
        // Claim the upload first: marking its row completed is what makes two concurrent
        // completions (or a completion racing an abort) resolve to exactly one winner. The row
        // lock it takes on PostgreSQL also holds off parts (they lock the row to be added): none
        // can join after the parts are taken below.
        const claimed = await trx
          .updateTable('multipart_uploads')
          .set({ completed_at: object.lastModified.getTime(), result: JSON.stringify(result) })
          .where('upload_id', '=', uploadId)
          .where('completed_at', 'is', null)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) === 0) throw new Rollback({ ok: false as const, reason: 'no-such-upload' as const });
        const parts = await trx
          .deleteFrom('parts')
          .where('upload_id', '=', uploadId)
          .returning(['blob_ref', 'blob_size'])
          .execute();
        const put = versioning === 'unversioned' ? await writeObject(trx, object, cond) : await versions.writeVersioned(trx, object, cond, versioning, guard);
        // A failed condition keeps the upload (rolled back), so the client may retry.
        if (!put.ok) throw new Rollback(put);
        // The object was assembled from the parts as listed before this transaction: a part
        // uploaded again since then has released the blob the object would point at.
        const current = new Set(parts.map((p) => p.blob_ref));
        if (object.blobs.some((b) => !current.has(b.ref))) throw new Rollback({ ok: false as const, reason: 'invalid-part' as const });
        if (quota) await this.charge(trx, object, put.replaced, quota);
        const partBlobs = parts.map((p) => ({ ref: p.blob_ref, size: Number(p.blob_size) }));
        const release = releasable([...put.replaced, ...partBlobs], object.blobs);
        if (this.ledger) await ledger.releaseBlobs(trx, release, new Date(), this.nodeId);
        return { ok: true as const, release };
      });
    } catch (err) {
      if (err instanceof Rollback) return err.outcome as CompleteFailure;
      throw err;
    }
  }

  async abortUpload(uploadId: string): Promise<BlobPart[] | null> {
    return inTransaction(this.db, async (trx) => {
      // Locked first, as a completion locks it first: the two wait for each other, not deadlock.
      if (!(await this.uploadInProgress(trx, uploadId, 'update'))) return null;
      const parts = await trx
        .deleteFrom('parts')
        .where('upload_id', '=', uploadId)
        .returning(['blob_ref', 'blob_size'])
        .execute();
      await trx.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).execute();
      const blobs = parts.map((p) => ({ ref: p.blob_ref, size: Number(p.blob_size) }));
      if (this.ledger) await ledger.releaseBlobs(trx, blobs, new Date(), this.nodeId);
      return blobs;
    }, { alsoRetry: ['foreign-key'] });
  }

  async deleteCompletedUploads(before: Date): Promise<number> {
    const r = await this.db
      .deleteFrom('multipart_uploads')
      .where('completed_at', 'is not', null)
      .where('completed_at', '<', before.getTime())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Whether the upload is in progress. On PostgreSQL its row is locked: 'share' by a part
   * being added (parts may be added together), 'update' by an abort; a completion's update of
   * the row waits for either and they for it, and then see the row as it committed.
   */
  private async uploadInProgress(trx: Transaction<Database>, uploadId: string, lock: 'share' | 'update'): Promise<boolean> {
    let query = trx.selectFrom('multipart_uploads').select('upload_id').where('upload_id', '=', uploadId).where('completed_at', 'is', null);
    // SQLite runs one transaction at a time: nothing to lock against (and no such syntax).
    if (this.walkDialect === 'postgres') query = lock === 'share' ? query.forShare() : query.forUpdate();
    return (await query.executeTakeFirst()) !== undefined;
  }

  // ---- tokens (queries in token-queries.ts) ----

  createToken(row: TokenRow): Promise<void> {
    return tokens.createToken(this.db, row);
  }

  getToken(id: string): Promise<TokenRow | null> {
    return tokens.getTokenBy(this.db, 'id', id);
  }

  getTokenByAccessKeyId(accessKeyId: string): Promise<TokenRow | null> {
    return tokens.getTokenBy(this.db, 'access_key_id', accessKeyId);
  }

  findCredential(by: { accessKeyId: string } | { bearerPrefix: string }): Promise<CredentialRecord | null> {
    return tokens.findCredential(this.db, by);
  }

  listTokens(projectId: string): Promise<TokenRow[]> {
    return tokens.listTokens(this.db, projectId);
  }

  updateToken(id: string, patch: TokenPatch): Promise<boolean> {
    return tokens.updateToken(this.db, id, patch);
  }

  touchTokens(uses: { id: string; at: Date }[]): Promise<void> {
    return tokens.touchTokens(this.db, uses);
  }

  disableToken(id: string, at: Date): Promise<TemporaryCredentialRow[] | null> {
    return inTransaction(this.db, async (trx) => {
      if (!(await tokens.updateToken(trx, id, { disabledAt: at }))) return null;
      return temporary.revokeTokenTemporaryCredentials(trx, id, at);
    });
  }

  // ---- temporary credentials (queries in temporary-credential-queries.ts) ----

  createTemporaryCredential(row: TemporaryCredentialRow): Promise<void> {
    return temporary.createTemporaryCredential(this.db, row);
  }

  findTemporaryCredential(accessKeyId: string): Promise<TemporaryCredentialRecord | null> {
    return temporary.findTemporaryCredential(this.db, accessKeyId);
  }

  getTemporaryCredential(id: string): Promise<TemporaryCredentialRow | null> {
    return temporary.getTemporaryCredential(this.db, id);
  }

  listTemporaryCredentials(tokenId: string): Promise<TemporaryCredentialRow[]> {
    return temporary.listTemporaryCredentials(this.db, tokenId);
  }

  revokeTemporaryCredential(id: string, at: Date): Promise<boolean> {
    return temporary.revokeTemporaryCredential(this.db, id, at);
  }

  deleteExpiredTemporaryCredentials(before: Date): Promise<number> {
    return temporary.deleteExpiredTemporaryCredentials(this.db, before);
  }

  // ---- quotas and storage counters (queries in quota-queries.ts) ----

  getProjectQuota(projectId: string): Promise<StorageQuota | null> {
    return quotas.getProjectQuota(this.db, projectId);
  }

  setProjectQuota(projectId: string, quota: StorageQuota | null): Promise<boolean> {
    return quotas.setProjectQuota(this.db, projectId, quota);
  }

  addStorageCounters(deltas: { bucketId: string; bytes: number; objects: number; at: Date }[]): Promise<void> {
    return quotas.addStorageCounters(this.db, deltas);
  }

  async recountStorage(bucketId: string): Promise<StorageUsed> {
    return inTransaction(this.db, async (trx) => {
      // Taken before the count: changes committed before it are in the count, later ones are added.
      const at = new Date();
      // The counter row is held from before the count: a write charging it in its commit is either
      // committed, and counted, or waits and adds to the recount (never lost in between).
      await quotas.lockStorageCounters(trx, bucketId);
      const used = storedTotals(await bucketTotals(trx, bucketId));
      await quotas.setStorageCounters(trx, bucketId, used, at);
      return used;
    });
  }

  bucketStorage(bucketId: string): Promise<StorageUsed> {
    return quotas.bucketStorage(this.db, bucketId);
  }

  projectStorage(projectId: string): Promise<StorageUsed> {
    return quotas.projectStorage(this.db, projectId);
  }

  // ---- audit log (queries in audit-queries.ts) ----

  appendAudit(row: AuditRow): Promise<void> {
    return audit.appendAudit(this.db, row);
  }

  listAudit(q: AuditQuery): Promise<AuditRow[]> {
    return audit.listAudit(this.db, q);
  }

  pruneAudit(before: Date): Promise<number> {
    return audit.pruneAudit(this.db, before);
  }

  // ---- users, memberships, sessions (queries in user-queries.ts) ----

  createUser(row: UserRow): Promise<'created' | 'exists'> {
    return users.createUser(this.db, row);
  }

  getUser(id: string): Promise<UserRow | null> {
    return users.getUserBy(this.db, 'id', id);
  }

  getUserByEmail(email: string): Promise<UserRow | null> {
    return users.getUserBy(this.db, 'email', email);
  }

  countUsers(): Promise<number> {
    return users.countUsers(this.db);
  }

  setMembership(row: MembershipRow): Promise<void> {
    return users.setMembership(this.db, row);
  }

  getMembership(projectId: string, userId: string): Promise<MembershipRow | null> {
    return users.getMembership(this.db, projectId, userId);
  }

  listMemberships(userId: string): Promise<MembershipRow[]> {
    return users.listMemberships(this.db, userId);
  }

  createSession(row: SessionRow): Promise<void> {
    return users.createSession(this.db, row);
  }

  getSession(id: string): Promise<SessionRow | null> {
    return users.getSession(this.db, id);
  }

  deleteSession(id: string): Promise<void> {
    return users.deleteSession(this.db, id);
  }

  deleteExpiredSessions(now: Date): Promise<number> {
    return users.deleteExpiredSessions(this.db, now);
  }

  listProjectMembers(projectId: string): Promise<ProjectMemberRow[]> {
    return users.listProjectMembers(this.db, projectId);
  }

  deleteMembership(projectId: string, userId: string): Promise<boolean> {
    return users.deleteMembership(this.db, projectId, userId);
  }

  updateUserPassword(userId: string, passwordHash: string): Promise<boolean> {
    return users.updateUserPassword(this.db, userId, passwordHash);
  }

  deleteUserSessions(userId: string, exceptSessionId?: string): Promise<number> {
    return users.deleteUserSessions(this.db, userId, exceptSessionId);
  }

  // ---- usage counters (queries in usage-queries.ts) ----

  addUsage(increments: UsageIncrement[]): Promise<void> {
    return usage.addUsage(this.db, increments);
  }

  usageByDay(q: UsageQuery): Promise<UsageDay[]> {
    return usage.usageByDay(this.db, q);
  }

  usageByToken(q: Omit<UsageQuery, 'tokenId'>): Promise<TokenUsage[]> {
    return usage.usageByToken(this.db, q);
  }

  putStorageSnapshots(rows: StorageSnapshot[]): Promise<void> {
    return usage.putStorageSnapshots(this.db, rows);
  }

  storageSnapshots(q: StorageQuery): Promise<StorageSnapshot[]> {
    return usage.storageSnapshots(this.db, q);
  }

  // ---- garbage collection ----

  async referencedBlobRefs(pageSize = REF_PAGE): Promise<Set<string>> {
    // One snapshot, so a part that becomes an object's blob meanwhile is seen in one place or
    // the other (hence REPEATABLE READ on PostgreSQL; SQLite transactions are serializable).
    // Rows are read a page at a time in key order: only the refs are kept, never every row at once.
    return inTransaction(this.db, async (trx) => {
      const refs = new Set<string>();
      // Noncurrent versions keep their blobs until the version itself is deleted (a delete marker has none).
      for (const [name, column] of [['parts', 'blob_ref'], ['objects', 'blobs'], ['object_versions', 'blobs']] as const) {
        const table = copy.COPIED_TABLES.find((t) => t.name === name)!;
        for await (const rows of copy.tableRows(trx, table, pageSize, [column])) {
          for (const r of rows) {
            if (column === 'blob_ref') refs.add(r.blob_ref as string);
            else for (const b of parseBlobs(r.blobs as string)) refs.add(b.ref);
          }
        }
      }
      return refs;
    }, { readOnly: true, isolation: 'repeatable read' });
  }

  async snapshotBlobReferences(signal?: AbortSignal): Promise<BlobReferenceSnapshot> {
    if (this.blobReferences) return this.blobReferences(signal);
    const refs = await this.referencedBlobRefs();
    return { referenced: async (batch) => new Set(batch.filter((r) => refs.has(r))), close: async () => undefined };
  }

  // ---- blob ledger and shared pins (queries in blob-ledger-queries.ts) ----

  recordPendingBlobs(refs: string[], at: Date): Promise<void> {
    return ledger.recordPending(this.db, refs, at, this.nodeId);
  }

  renewPendingBlobs(refs: string[], at: Date): Promise<void> {
    return ledger.renewPending(this.db, refs, at);
  }

  forgetBlobs(refs: string[]): Promise<void> {
    return ledger.forgetBlobs(this.db, refs);
  }

  dueBlobs(state: BlobLedgerState, before: Date, limit: number): Promise<BlobLedgerEntry[]> {
    return ledger.dueBlobs(this.db, state, before, limit);
  }

  moveBlob(seen: BlobLedgerEntry, to: BlobLedgerState, at: Date): Promise<boolean> {
    return ledger.moveBlob(this.db, seen, to, at, this.nodeId);
  }

  holdPins(refs: string[], expiresAt: Date): Promise<void> {
    return ledger.holdPins(this.db, this.nodeId, refs, expiresAt);
  }

  dropPins(refs: string[]): Promise<void> {
    return ledger.dropPins(this.db, this.nodeId, refs);
  }

  pinnedBlobs(refs: string[], now: Date): Promise<Set<string>> {
    return ledger.pinnedBlobs(this.db, refs, now);
  }

  // ---- shared rate-limiter events ----

  async limiterEvents(key: string, since: number): Promise<number[]> {
    const rows = await this.db.selectFrom('limiter_events').select('at').where('key', '=', key).where('at', '>=', since).orderBy('at').execute();
    return rows.map((r) => Number(r.at));
  }

  async addLimiterEvent(key: string, at: number): Promise<void> {
    await this.db.insertInto('limiter_events').values({ id: randomUUID(), key, at }).execute();
  }

  addLimiterEventBelow(key: string, max: number, since: number, at: number): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      // Nodes racing for a key's last place take turns: a count without the lock lets each see
      // room and add (SQLite runs one transaction at a time already).
      if (this.walkDialect === 'postgres') await sql`select pg_advisory_xact_lock(${LIMITER_LOCK_CLASS}, hashtext(${key}))`.execute(trx);
      const r = await trx.selectFrom('limiter_events').select((eb) => eb.fn.countAll<number>().as('n')).where('key', '=', key).where('at', '>=', since).executeTakeFirstOrThrow();
      if (Number(r.n) >= max) return false;
      await trx.insertInto('limiter_events').values({ id: randomUUID(), key, at }).execute();
      return true;
    });
  }

  async clearLimiterEvents(q: { key: string; before?: number } | { before: number }): Promise<void> {
    let del = this.db.deleteFrom('limiter_events');
    if ('key' in q) del = del.where('key', '=', q.key);
    if (q.before !== undefined) del = del.where('at', '<', q.before);
    await del.execute();
  }

  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.runExclusive(name, fn);
  }

  // ---- whole-database copy (table-copy.ts) ----

  unknownTables(): Promise<string[]> {
    return copy.unknownTables(this.db);
  }

  async *exportRows(): AsyncIterable<{ table: string; rows: Record<string, unknown>[] }> {
    for (const table of copy.COPIED_TABLES) {
      for await (const rows of copy.tableRows(this.db, table)) yield { table: table.name, rows };
    }
  }

  async importRows(table: string, rows: Record<string, unknown>[]): Promise<void> {
    const known = copy.COPIED_TABLES.find((t) => t.name === table);
    if (!known) throw new Error(`not a table a migration copies: ${table}`);
    await copy.insertRows(this.db, known.name, rows);
  }

  // The mark is a row of worker_leases, which every dialect has and a migration does not copy.
  async setMigrationMark(on: boolean): Promise<void> {
    if (!on) {
      await this.db.deleteFrom('worker_leases').where('name', '=', MIGRATION_MARK).execute();
      return;
    }
    await this.db
      .insertInto('worker_leases')
      .values({ name: MIGRATION_MARK, holder: 'skep-migrate', expires_at: Number.MAX_SAFE_INTEGER, state: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async hasMigrationMark(): Promise<boolean> {
    const row = await this.db.selectFrom('worker_leases').select('name').where('name', '=', MIGRATION_MARK).executeTakeFirst();
    return row !== undefined;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  // ---- leases ----

  async acquireLease(name: string, holder: string, now: Date, until: Date): Promise<{ state: string | null } | null> {
    await this.db
      .insertInto('worker_leases')
      .values({ name, holder, expires_at: until.getTime(), state: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    // Compare-and-swap: taken only if it is ours already or its holder let it lapse.
    const r = await this.db
      .updateTable('worker_leases')
      .set({ holder, expires_at: until.getTime() })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<=', now.getTime())]))
      .returning('state')
      .executeTakeFirst();
    return r ? { state: r.state } : null;
  }

  async saveLeaseState(name: string, holder: string, state: string | null, until: Date): Promise<boolean> {
    const r = await this.db
      .updateTable('worker_leases')
      .set({ state, expires_at: until.getTime() })
      .where('name', '=', name)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.updateTable('worker_leases').set({ expires_at: 0 }).where('name', '=', name).where('holder', '=', holder).execute();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * The listObjects query, exported so a test can check its plan (an index range, no sort).
 * Exactly one lower bound and one upper bound on `key` so the index seek starts at the right place.
 */
export function listObjectsQuery(db: Db, bucketId: string, q: ListObjectsQuery) {
  const query = db
    .selectFrom('objects')
    .select(SUMMARY_COLUMNS)
    .where('bucket_id', '=', bucketId);
  const bounds: KeyBound[] = [];
  if (q.from !== undefined) bounds.push({ key: q.from, inclusive: true });
  if (q.after !== undefined) bounds.push({ key: q.after, inclusive: false });
  return applyKeyRange(query, q.prefix, bounds).orderBy('key').limit(q.limit);
}

/**
 * The listUploads query (uploads in progress), exported so a test can check its plan. It says
 * `completed_at is null` as the partial listing index does, so that index is the one used.
 */
export function listUploadsQuery(db: Db, bucketId: string, q: ListUploadsQuery) {
  let query = db.selectFrom('multipart_uploads').selectAll().where('bucket_id', '=', bucketId).where('completed_at', 'is', null);
  const withIdMarker = q.keyMarker !== undefined && q.uploadIdMarker !== undefined;
  const marker: KeyBound | undefined = q.keyMarker === undefined ? undefined : { key: q.keyMarker, inclusive: withIdMarker };
  query = applyKeyRange(query, q.prefix, [marker, q.from === undefined ? undefined : { key: q.from, inclusive: true }]);
  if (withIdMarker) {
    // Bounded extra work: only the uploads of keyMarker itself are filtered here.
    const km = q.keyMarker as string;
    const uim = q.uploadIdMarker as string;
    query = query.where((eb) => eb.or([eb('key', '>', km), eb('upload_id', '>', uim)]));
  }
  return query.orderBy('key').orderBy('initiated').orderBy('upload_id').limit(q.limit);
}

/** Adds `key >= / > lower` (the tightest of prefix and `bounds`) and `key < successor(prefix)`. */
function applyKeyRange<T extends 'objects' | 'multipart_uploads', O>(
  query: SelectQueryBuilder<Database, T, O>,
  prefix: string,
  bounds: Array<KeyBound | undefined>,
): SelectQueryBuilder<Database, T, O> {
  // The casts pin `key` to the one column both tables share; Kysely cannot see that through T.
  const q = query as unknown as SelectQueryBuilder<Database, 'objects', O>;
  let out = q;
  const lower = tightestLowerBound([prefix ? { key: prefix, inclusive: true } : undefined, ...bounds]);
  if (lower) out = out.where('key', lower.inclusive ? '>=' : '>', lower.key);
  const upper = prefix ? prefixSuccessor(prefix) : null;
  if (upper !== null) out = out.where('key', '<', upper);
  return out as unknown as SelectQueryBuilder<Database, T, O>;
}

async function bucketTotals(db: Kysely<Database>, bucketId: string): Promise<BucketStats> {
  // One statement, so one snapshot on PostgreSQL too: a version moving between the two tables (a
  // delete marker made or removed) is counted once, never in neither or in both. A recount
  // depends on it.
  const { rows } = await sql<{ objects: number | string; bytes: number | string; noncurrent_versions: number | string; noncurrent_bytes: number | string; delete_markers: number | string }>`
    select o.objects, o.bytes, v.noncurrent_versions, v.noncurrent_bytes, v.delete_markers
    from (select count(*) as objects, coalesce(sum(size), 0) as bytes from objects where bucket_id = ${bucketId}) o,
      (select coalesce(sum(case when delete_marker = 1 then 0 else 1 end), 0) as noncurrent_versions,
              coalesce(sum(case when delete_marker = 1 then 0 else size end), 0) as noncurrent_bytes,
              coalesce(sum(case when delete_marker = 1 then 1 else 0 end), 0) as delete_markers
       from object_versions where bucket_id = ${bucketId}) v`.execute(db);
  const r = rows[0]!;
  // Number(): PostgreSQL returns count/sum of bigint as strings.
  return { objects: Number(r.objects), bytes: Number(r.bytes), noncurrentVersions: Number(r.noncurrent_versions), noncurrentBytes: Number(r.noncurrent_bytes), deleteMarkers: Number(r.delete_markers) };
}

/**
 * Insert or replace one object under `cond`, as a compare-and-swap: read the current version,
 * check the condition, then write only if the row is still that version (else read again).
 * Unversioned: only ever replaces the null version; a current row with a version ID means the
 * bucket became versioned meanwhile ('versioned': the caller retries in the bucket's mode).
 */
async function writeObject(db: Db, row: ObjectRow, cond: PutCondition): Promise<PutOutcome> {
  // Time-ordered even unversioned, so that versions written after versioning is enabled order after it.
  const values = toObjectValues({ ...row, versionId: 'null' }, seqAt(row.lastModified));
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const old = cond.kind === 'ifNoneMatch' ? undefined : (await hot.objectVersionOf(db, row.bucketId, row.key)).rows[0];
    if (!old) {
      if (cond.kind === 'ifMatch') return { ok: false, reason: 'missing' };
      if (await hot.insertObjectIfAbsent(db, values)) return { ok: true, replaced: [] };
      if (cond.kind === 'ifNoneMatch') return { ok: false, reason: 'exists' };
      continue; // created concurrently: read it and try again
    }
    if (old.version_id !== 'null') return { ok: false, reason: 'versioned' };
    if (cond.kind === 'ifMatch' && !etagMatches(old.etag, cond.etag)) return { ok: false, reason: 'etag-mismatch' };
    const { bucket_id: _b, key: _k, ...changes } = values;
    const r = await db
      .updateTable('objects')
      .set(changes)
      .where('bucket_id', '=', row.bucketId)
      .where('key', '=', row.key)
      .where('etag', '=', old.etag)
      .where('blobs', '=', old.blobs)
      .where('version_id', '=', 'null')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) return { ok: true, replaced: releasable(parseBlobs(old.blobs), row.blobs) };
  }
  throw new Error(`putObject: gave up after ${MAX_CAS_ATTEMPTS} concurrent replacements`);
}

/** If-Match: "*" matches any existing object; otherwise compare ETags ignoring the quotes. */
export function etagMatches(stored: string, wanted: string): boolean {
  return wanted.trim() === '*' || unquote(stored) === unquote(wanted);
}

function unquote(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/**
 * Blobs the caller may delete: `released` without duplicates and without any still used by
 * `kept` (e.g. a copy-in-place that keeps the same blob must not lose it).
 */
export function releasable(released: BlobPart[], kept: BlobPart[]): BlobPart[] {
  const seen = new Set(kept.map((b) => b.ref));
  const out: BlobPart[] = [];
  for (const b of released) {
    if (seen.has(b.ref)) continue;
    seen.add(b.ref);
    out.push(b);
  }
  return out;
}

// ---- row mapping ----

/** The columns of `row`; `seq` orders the versions of its key (see version-queries.ts). */
export function toObjectValues(row: ObjectRow, seq: number): ObjectsTable {
  return {
    bucket_id: row.bucketId,
    key: row.key,
    size: row.size,
    etag: row.etag,
    last_modified: row.lastModified.getTime(),
    headers: JSON.stringify(row.headers),
    user_metadata: JSON.stringify(row.userMetadata),
    checksum: row.checksum ? JSON.stringify(row.checksum) : null,
    blobs: JSON.stringify(row.blobs.map((b) => ({ ref: b.ref, size: b.size }))),
    parts_count: row.partsCount,
    tags: JSON.stringify(row.tags),
    storage_class: row.storageClass,
    version_id: row.versionId ?? 'null',
    seq,
    encryption: row.encryption ? JSON.stringify(row.encryption) : null,
    lock_mode: row.retention?.mode ?? null,
    lock_until: row.retention ? row.retention.until.getTime() : null,
    legal_hold: legalHoldColumn(row.legalHold),
    acl: row.acl ?? null,
  };
}

export function toObjectRow(r: ObjectsTable): ObjectRow & Required<Pick<ObjectRow, 'versionId' | 'encryption' | 'retention' | 'legalHold'>> {
  return {
    bucketId: r.bucket_id,
    key: r.key,
    size: Number(r.size),
    etag: r.etag,
    lastModified: new Date(Number(r.last_modified)),
    headers: JSON.parse(r.headers) as StoredHeaders,
    userMetadata: JSON.parse(r.user_metadata) as Record<string, string>,
    checksum: parseChecksum(r.checksum),
    blobs: parseBlobs(r.blobs),
    partsCount: r.parts_count === null ? null : Number(r.parts_count),
    tags: JSON.parse(r.tags) as Record<string, string>,
    storageClass: r.storage_class,
    versionId: r.version_id,
    encryption: r.encryption === null ? null : (JSON.parse(r.encryption) as StoredEncryption),
    retention: r.lock_mode === null || r.lock_until === null ? null : { mode: r.lock_mode as RetentionMode, until: new Date(Number(r.lock_until)) },
    legalHold: legalHoldOf(r.legal_hold),
    acl: r.acl,
  };
}

function toProjectRow(r: Database['projects']): ProjectRow {
  return {
    id: r.id,
    name: r.name,
    createdAt: new Date(Number(r.created_at)),
    maxTokenDays: r.max_token_days === null ? null : Number(r.max_token_days),
  };
}

function toBucketRow(r: Database['buckets']): BucketRow {
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    region: r.region,
    createdAt: new Date(Number(r.created_at)),
  };
}

function toUploadRow(r: MultipartUploadsTable): UploadRow {
  return {
    uploadId: r.upload_id,
    bucketId: r.bucket_id,
    key: r.key,
    initiated: new Date(Number(r.initiated)),
    headers: JSON.parse(r.headers) as StoredHeaders,
    userMetadata: JSON.parse(r.user_metadata) as Record<string, string>,
    tags: JSON.parse(r.tags) as Record<string, string>,
    storageClass: r.storage_class,
    checksumAlgorithm: r.checksum_algorithm as ChecksumAlgorithm | null,
    checksumType: r.checksum_type as ChecksumType | null,
    encryption: r.encryption === null ? null : (JSON.parse(r.encryption) as StoredEncryption),
    objectLock: r.object_lock === null ? null : parseUploadLock(r.object_lock),
    acl: r.acl,
    ...(r.completed_at === null || r.result === null ? {} : { completion: { completedAt: new Date(Number(r.completed_at)), ...(JSON.parse(r.result) as Omit<UploadCompletion, 'completedAt'>) } }),
  };
}

function parseUploadLock(json: string): UploadRow['objectLock'] {
  const v = JSON.parse(json) as { retention: { mode: RetentionMode; until: number } | null; legalHold?: LegalHold; defaultRetention?: boolean };
  const retention = v.retention && { mode: v.retention.mode, until: new Date(v.retention.until) };
  return { retention, legalHold: v.legalHold ?? null, ...(v.defaultRetention === true && { defaultRetention: true }) };
}

// legal_hold: 0 never placed (every row from before OFF was told apart), 1 on, 2 off.
const LEGAL_HOLD_OFF = 2;

export function legalHoldColumn(hold: LegalHold | undefined): number {
  return hold === true ? 1 : hold === false ? LEGAL_HOLD_OFF : 0;
}

function legalHoldOf(column: number): LegalHold {
  const n = Number(column);
  return n === 1 ? true : n === LEGAL_HOLD_OFF ? false : null;
}

function toPartRow(r: PartsTable): PartRow {
  return {
    uploadId: r.upload_id,
    partNumber: Number(r.part_number),
    size: Number(r.size),
    etag: r.etag,
    lastModified: new Date(Number(r.last_modified)),
    blob: { ref: r.blob_ref, size: Number(r.blob_size) },
    checksum: parseChecksum(r.checksum),
  };
}

export function parseBlobs(json: string): BlobPart[] {
  return JSON.parse(json) as BlobPart[];
}

function parseChecksum(json: string | null): StoredChecksum | null {
  return json === null ? null : (JSON.parse(json) as StoredChecksum);
}
