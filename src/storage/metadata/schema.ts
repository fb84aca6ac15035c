// Table types and the migrations of the metadata database. Written with Kysely's schema builder so
// the same migrations run on SQLite (embedded default) and PostgreSQL (scale-out).
//
// Conventions: dates are integer milliseconds since the epoch, sizes are integers, structured
// fields (headers, user metadata, tags, checksums, blob lists) are TEXT holding JSON.

import { Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';

export interface ProjectsTable {
  id: string;
  name: string;
  created_at: number;
  max_token_days: number | null;
  /** Storage quota of the whole project (bytes, objects); null: none. Added by 0009. */
  quota_bytes: number | null;
  quota_objects: number | null;
}

export interface BucketsTable {
  id: string;
  project_id: string;
  name: string;
  region: string;
  created_at: number;
}

export interface ObjectsTable {
  bucket_id: string;
  key: string;
  size: number;
  etag: string;
  last_modified: number;
  /** JSON StoredHeaders. */
  headers: string;
  /** JSON Record<string, string>. */
  user_metadata: string;
  /** JSON StoredChecksum, or null. */
  checksum: string | null;
  /** JSON BlobPart[]. */
  blobs: string;
  parts_count: number | null;
  /** JSON Record<string, string>. */
  tags: string;
  storage_class: string;
  /** The version's ID: 'null' for the null version (every object of an unversioned bucket). */
  version_id: string;
  /** Orders a key's versions, newest highest (see version-queries.ts); 0 for unversioned writes. */
  seq: number;
  /** JSON StoredEncryption, or null (stored in clear). */
  encryption: string | null;
  /** Object Lock retention of this version: 'GOVERNANCE' | 'COMPLIANCE', or null. */
  lock_mode: string | null;
  lock_until: number | null;
  /** 1 while a legal hold is on. */
  legal_hold: number;
  /** Canned ACL name, or null (private). Added by 0005. */
  acl: string | null;
}

/**
 * The noncurrent versions and the delete markers of versioned buckets (the current version of a
 * key, when it is an object, stays in `objects`). Same columns as `objects`, plus:
 */
export interface ObjectVersionsTable extends ObjectsTable {
  /** 1 for a delete marker (no bytes, no blobs). */
  delete_marker: number;
  /** When the version stopped being current (lifecycle counts noncurrent days from it). */
  noncurrent_since: number | null;
}

/** A lease row: which node runs a singleton job (the lifecycle worker) until when, and where it stopped. */
export interface WorkerLeasesTable {
  name: string;
  holder: string;
  expires_at: number;
  /** The job's own JSON (e.g. a scan cursor), kept across holders. */
  state: string | null;
}

export interface MultipartUploadsTable {
  upload_id: string;
  bucket_id: string;
  key: string;
  initiated: number;
  headers: string;
  user_metadata: string;
  tags: string;
  storage_class: string;
  checksum_algorithm: string | null;
  checksum_type: string | null;
  /** JSON StoredEncryption the completed object will have, or null. */
  encryption: string | null;
  /** JSON { mode, until, legalHold } the completed object will have, or null. */
  object_lock: string | null;
  /** Canned ACL the completed object gets, or null. Added by 0005. */
  acl: string | null;
  /** When the upload was completed (ms), or null while it is in progress. Added by 0012. */
  completed_at: number | null;
  /** JSON of what the completion committed (UploadCompletion without completedAt), or null. Added by 0012. */
  result: string | null;
}

export interface PartsTable {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  last_modified: number;
  blob_ref: string;
  blob_size: number;
  checksum: string | null;
}

export interface TokensTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  permission: string;
  /** JSON string[] or null (all buckets). */
  bucket_scope: string | null;
  billing: number;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  last_used_at: number | null;
  disabled_at: number | null;
  revoked_at: number | null;
  access_key_id: string;
  secret_ciphertext: string;
  bearer_prefix: string;
  bearer_hash: string;
  previous_secret_ciphertext: string | null;
  previous_bearer_prefix: string | null;
  previous_bearer_hash: string | null;
  rotation_deadline: number | null;
  /** JSON string[] of addresses and CIDR networks the token may be used from; null: anywhere. Added by 0009. */
  allowed_networks: string | null;
  /** Requests per minute the token may make; null: no limit. Added by 0009. */
  rate_limit: number | null;
}

/**
 * Short-lived credentials made from a token (REST call, or STS AssumeRole / GetSessionToken on the
 * S3 endpoint). They act for their token, within a scope no wider than its, and stop with it.
 * Added by 0009.
 */
export interface TemporaryCredentialsTable {
  id: string;
  /** The token they were made from; its revocation, disabling and expiry end them too. */
  token_id: string;
  project_id: string;
  /** RoleSessionName, or the name given through the REST API. */
  name: string;
  access_key_id: string;
  secret_ciphertext: string;
  /** SHA-256 (hex) of the session token; the token itself is never stored. */
  session_token_hash: string;
  permission: string;
  /** JSON string[] or null (the token's whole scope, which is then all buckets). */
  bucket_scope: string | null;
  created_at: number;
  created_by: string;
  expires_at: number;
  revoked_at: number | null;
}

/**
 * What a bucket stores, kept up to date by the writes themselves (added, not recounted), for
 * quotas. Recounted from the objects when a quota is set and periodically. Added by 0009.
 */
export interface StorageCountersTable {
  bucket_id: string;
  bytes: number;
  objects: number;
  /**
   * When the counters were last recounted from the objects (ms): a change committed before then is
   * in the recount already, so one reported later (by another node, or the server while the CLI
   * recounted) is not added again.
   */
  recounted_at: number;
}

export interface AuditTable {
  id: string;
  at: number;
  action: string;
  actor: string;
  token_id: string | null;
  project_id: string | null;
  /** The bucket the event is about (bucket and object events); added by 0008. */
  bucket: string | null;
  source: string | null;
  detail: string | null;
}

export interface UsersTable {
  id: string;
  /** Lower-case; unique. */
  email: string;
  /** argon2id PHC string; the password itself is never stored. */
  password_hash: string;
  created_at: number;
}

export interface ProjectMembersTable {
  project_id: string;
  user_id: string;
  /** 'owner' | 'member'. */
  role: string;
}

export interface SessionsTable {
  /** SHA-256 (hex) of the cookie value; the cookie value itself is never stored. */
  id: string;
  user_id: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

export interface UsageDailyTable {
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  project_id: string;
  /** '' for requests without a bucket. */
  bucket: string;
  /** '' for console sessions. */
  token_id: string;
  requests_read: number;
  requests_write: number;
  requests_list: number;
  requests_delete: number;
  requests_other: number;
  bytes_in: number;
  bytes_out: number;
}

/** Stored bytes and objects of one bucket at the end of a day (its last snapshot that day). */
export interface UsageStorageDailyTable {
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  project_id: string;
  /** The bucket's name. */
  bucket: string;
  bytes: number;
  objects: number;
}

/**
 * One configuration document of a bucket (CORS rules, policy, versioning, lifecycle, ...), kept as
 * the owning service's JSON, never as the request's XML. Removed with its bucket.
 */
export interface BucketSettingsTable {
  bucket_id: string;
  /** One of BucketSettingName. */
  name: string;
  /** JSON. */
  value: string;
  updated_at: number;
}

/**
 * The blob ledger: every blob that may exist without a committed row referring to it. A write
 * records its blob as 'pending' before the first byte is stored (and renews `at` while it
 * streams); the commit that makes a row refer to it removes the record. A commit that replaces or
 * deletes blobs records them as 'released' in the same transaction. The collector deletes what
 * is due: pending blobs whose writer stopped renewing (it crashed), released blobs no read holds
 * ('collecting' while it works, then a 'collected' tombstone that refuses a late commit of that
 * ref). Garbage collection thus never has to list the blob store.
 */
export interface BlobLedgerTable {
  ref: string;
  /** 'pending' | 'released' | 'collecting' | 'collected'. */
  state: string;
  /** When the state was set (or, for 'pending', last renewed), ms since the epoch. */
  at: number;
  /** The node that wrote the record. */
  node_id: string;
}

/** Events counted by rate limiters (failed sign-ins, ...), when several nodes share the limits. */
export interface LimiterEventsTable {
  /** The limiter's namespaced key (e.g. "sign-in|ada@example.com|203.0.113.7"). */
  key: string;
  at: number;
  /** Random, so two events of one key in the same millisecond are two rows. */
  id: string;
}

/** Blobs that reads on some node have held for a while, until expires_at (renewed while held). */
export interface BlobPinsTable {
  node_id: string;
  ref: string;
  expires_at: number;
}

export interface Database {
  projects: ProjectsTable;
  buckets: BucketsTable;
  objects: ObjectsTable;
  multipart_uploads: MultipartUploadsTable;
  parts: PartsTable;
  tokens: TokensTable;
  audit: AuditTable;
  users: UsersTable;
  project_members: ProjectMembersTable;
  sessions: SessionsTable;
  usage_daily: UsageDailyTable;
  usage_storage_daily: UsageStorageDailyTable;
  bucket_settings: BucketSettingsTable;
  blob_ledger: BlobLedgerTable;
  blob_pins: BlobPinsTable;
  limiter_events: LimiterEventsTable;
  object_versions: ObjectVersionsTable;
  worker_leases: WorkerLeasesTable;
  temporary_credentials: TemporaryCredentialsTable;
  storage_counters: StorageCountersTable;
}

export type Dialect = 'sqlite' | 'postgres';

/** Kysely's record of the migrations run. */
const MIGRATION_TABLE = 'kysely_migration';

/**
 * The migrations, oldest first. Object keys must compare by their UTF-8 bytes (S3's order):
 * SQLite's default BINARY collation does exactly that on TEXT; PostgreSQL needs COLLATE "C"
 * (its default collation is locale-aware).
 */
export function migrations(dialect: Dialect): Record<string, Migration> {
  const keyType = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    '0001_initial': {
      async up(db) {
        await db.schema
          .createTable('projects')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('max_token_days', 'integer')
          .execute();

        await db.schema
          .createTable('buckets')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('region', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('buckets_project_name', ['project_id', 'name'])
          .execute();

        // The primary key (bucket_id, key) is the index listObjects walks in key order.
        await db.schema
          .createTable('objects')
          .addColumn('bucket_id', 'text', (c) => c.notNull().references('buckets.id'))
          .addColumn('key', keyType, (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('last_modified', 'bigint', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('user_metadata', 'text', (c) => c.notNull())
          .addColumn('checksum', 'text')
          .addColumn('blobs', 'text', (c) => c.notNull())
          .addColumn('parts_count', 'integer')
          .addColumn('tags', 'text', (c) => c.notNull())
          .addColumn('storage_class', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('objects_pk', ['bucket_id', 'key'])
          .execute();

        await db.schema
          .createTable('multipart_uploads')
          .addColumn('upload_id', 'text', (c) => c.primaryKey())
          .addColumn('bucket_id', 'text', (c) => c.notNull().references('buckets.id'))
          .addColumn('key', keyType, (c) => c.notNull())
          .addColumn('initiated', 'bigint', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('user_metadata', 'text', (c) => c.notNull())
          .addColumn('tags', 'text', (c) => c.notNull())
          .addColumn('storage_class', 'text', (c) => c.notNull())
          .addColumn('checksum_algorithm', 'text')
          .addColumn('checksum_type', 'text')
          .execute();
        // listUploads walks this in (key, initiated, upload_id) order; it also answers
        // "does the bucket have uploads" for deleteBucket.
        await db.schema
          .createIndex('multipart_uploads_listing')
          .on('multipart_uploads')
          .columns(['bucket_id', 'key', 'initiated', 'upload_id'])
          .execute();

        await db.schema
          .createTable('parts')
          .addColumn('upload_id', 'text', (c) => c.notNull().references('multipart_uploads.upload_id'))
          .addColumn('part_number', 'integer', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('last_modified', 'bigint', (c) => c.notNull())
          .addColumn('blob_ref', 'text', (c) => c.notNull())
          .addColumn('blob_size', 'bigint', (c) => c.notNull())
          .addColumn('checksum', 'text')
          .addPrimaryKeyConstraint('parts_pk', ['upload_id', 'part_number'])
          .execute();

        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('permission', 'text', (c) => c.notNull())
          .addColumn('bucket_scope', 'text')
          .addColumn('billing', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('last_used_at', 'bigint')
          .addColumn('disabled_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .addColumn('access_key_id', 'text', (c) => c.notNull().unique())
          .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
          .addColumn('bearer_prefix', 'text', (c) => c.notNull().unique())
          .addColumn('bearer_hash', 'text', (c) => c.notNull())
          .addColumn('previous_secret_ciphertext', 'text')
          .addColumn('previous_bearer_prefix', 'text')
          .addColumn('previous_bearer_hash', 'text')
          .addColumn('rotation_deadline', 'bigint')
          .execute();
        await db.schema.createIndex('tokens_project').on('tokens').columns(['project_id', 'created_at']).execute();
        await db.schema.createIndex('tokens_previous_bearer').on('tokens').column('previous_bearer_prefix').execute();

        await db.schema
          .createTable('audit')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('token_id', 'text')
          .addColumn('project_id', 'text')
          .addColumn('source', 'text')
          .addColumn('detail', 'text')
          .execute();
        await db.schema.createIndex('audit_at').on('audit').columns(['at']).execute();
        await db.schema.createIndex('audit_project_at').on('audit').columns(['project_id', 'at']).execute();
        await db.schema.createIndex('audit_token_at').on('audit').columns(['token_id', 'at']).execute();
      },
    },
    '0002_users_sessions_usage': {
      async up(db) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('project_members')
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'user_id'])
          .execute();
        await db.schema.createIndex('project_members_user').on('project_members').columns(['user_id']).execute();

        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('csrf_token', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_expires').on('sessions').columns(['expires_at']).execute();

        await db.schema
          .createTable('usage_daily')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('project_id', 'text', (c) => c.notNull())
          .addColumn('bucket', 'text', (c) => c.notNull())
          .addColumn('token_id', 'text', (c) => c.notNull())
          .addColumn('requests_read', 'bigint', (c) => c.notNull())
          .addColumn('requests_write', 'bigint', (c) => c.notNull())
          .addColumn('requests_list', 'bigint', (c) => c.notNull())
          .addColumn('requests_delete', 'bigint', (c) => c.notNull())
          .addColumn('requests_other', 'bigint', (c) => c.notNull())
          .addColumn('bytes_in', 'bigint', (c) => c.notNull())
          .addColumn('bytes_out', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('usage_daily_pk', ['day', 'project_id', 'bucket', 'token_id'])
          .execute();
        // Queries read one project over a range of days.
        await db.schema.createIndex('usage_daily_project_day').on('usage_daily').columns(['project_id', 'day']).execute();
      },
    },
    '0003_usage_storage_daily': {
      async up(db) {
        // One row per (bucket, day) on which the bucket changed; days between carry the last value.
        // The key's order serves both reads: a bucket's days in a range, and its latest day before one.
        await db.schema
          .createTable('usage_storage_daily')
          .addColumn('project_id', 'text', (c) => c.notNull())
          .addColumn('bucket', 'text', (c) => c.notNull())
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('bytes', 'bigint', (c) => c.notNull())
          .addColumn('objects', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('usage_storage_daily_pk', ['project_id', 'bucket', 'day'])
          .execute();
        await db.schema.createIndex('usage_storage_daily_project_day').on('usage_storage_daily').columns(['project_id', 'day']).execute();
        // What existing buckets hold now becomes today's figure, so they have a starting point
        // (one pass over the objects, once, when upgrading).
        const today = new Date().toISOString().slice(0, 10);
        await sql`
          insert into usage_storage_daily (project_id, bucket, day, bytes, objects)
          select b.project_id, b.name, ${today}, coalesce(sum(o.size), 0), count(o.key)
          from buckets b left join objects o on o.bucket_id = b.id
          group by b.id, b.project_id, b.name
        `.execute(db);
      },
    },
    '0004_bucket_settings': {
      async up(db) {
        await db.schema
          .createTable('bucket_settings')
          .addColumn('bucket_id', 'text', (c) => c.notNull().references('buckets.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('bucket_settings_pk', ['bucket_id', 'name'])
          .execute();
      },
    },
    '0005_object_acls': {
      async up(db) {
        // An object's canned ACL (null: private), and the one a multipart upload's object will get.
        await db.schema.alterTable('objects').addColumn('acl', 'text').execute();
        await db.schema.alterTable('multipart_uploads').addColumn('acl', 'text').execute();
      },
    },
    '0006_versions_lock_encryption': {
      async up(db) {
        // Existing objects are the null version of their key; nothing is encrypted or locked.
        await db.schema.alterTable('objects').addColumn('version_id', 'text', (c) => c.notNull().defaultTo('null')).execute();
        await db.schema.alterTable('objects').addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('objects').addColumn('encryption', 'text').execute();
        await db.schema.alterTable('objects').addColumn('lock_mode', 'text').execute();
        await db.schema.alterTable('objects').addColumn('lock_until', 'bigint').execute();
        await db.schema.alterTable('objects').addColumn('legal_hold', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('multipart_uploads').addColumn('encryption', 'text').execute();
        await db.schema.alterTable('multipart_uploads').addColumn('object_lock', 'text').execute();

        // Noncurrent versions and delete markers. The primary key finds one version; the
        // (bucket_id, key, seq desc) index walks a bucket's versions in key order, newest first within
        // a key, so a ListObjectVersions page costs O(page) however many versions there are.
        await db.schema
          .createTable('object_versions')
          .addColumn('bucket_id', 'text', (c) => c.notNull().references('buckets.id'))
          .addColumn('key', keyType, (c) => c.notNull())
          .addColumn('version_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('delete_marker', 'integer', (c) => c.notNull())
          .addColumn('noncurrent_since', 'bigint')
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('last_modified', 'bigint', (c) => c.notNull())
          .addColumn('headers', 'text', (c) => c.notNull())
          .addColumn('user_metadata', 'text', (c) => c.notNull())
          .addColumn('checksum', 'text')
          .addColumn('blobs', 'text', (c) => c.notNull())
          .addColumn('parts_count', 'integer')
          .addColumn('tags', 'text', (c) => c.notNull())
          .addColumn('storage_class', 'text', (c) => c.notNull())
          .addColumn('encryption', 'text')
          .addColumn('lock_mode', 'text')
          .addColumn('lock_until', 'bigint')
          .addColumn('legal_hold', 'integer', (c) => c.notNull())
          // Every column of `objects` (versions move between the two tables whole).
          .addColumn('acl', 'text')
          .addPrimaryKeyConstraint('object_versions_pk', ['bucket_id', 'key', 'version_id'])
          .execute();
        await db.schema.createIndex('object_versions_order').on('object_versions').columns(['bucket_id', 'key', 'seq desc']).execute();

        await db.schema
          .createTable('worker_leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('state', 'text')
          .execute();
      },
    },
    '0007_blob_ledger': {
      async up(db) {
        // Every upload writes a record and its commit deletes it: on SQLite the table is its own
        // primary key index (WITHOUT ROWID), so that is one B-tree page written each time, not two.
        let ledger = db.schema
          .createTable('blob_ledger')
          .addColumn('ref', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('node_id', 'text', (c) => c.notNull());
        if (dialect === 'sqlite') ledger = ledger.modifyEnd(sql`without rowid`);
        await ledger.execute();
        // The collector's query, the oldest records of a state, scans the table on one node (its
        // records last only as long as a write or a release); with several nodes sharing it,
        // releases wait out a grace there, and the table is indexed.
        if (dialect === 'postgres') await db.schema.createIndex('blob_ledger_state_at').on('blob_ledger').columns(['state', 'at']).execute();
        await db.schema
          .createTable('blob_pins')
          .addColumn('node_id', 'text', (c) => c.notNull())
          .addColumn('ref', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('blob_pins_pk', ['node_id', 'ref'])
          .execute();
        await db.schema.createIndex('blob_pins_ref').on('blob_pins').columns(['ref', 'expires_at']).execute();
      },
    },
    '0007_shared_limits': {
      async up(db) {
        await db.schema
          .createTable('limiter_events')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('limiter_events_key_at').on('limiter_events').columns(['key', 'at']).execute();
        await db.schema.createIndex('limiter_events_at').on('limiter_events').columns(['at']).execute();
      },
    },
    '0007_postgres_byte_order': {
      async up(db) {
        // Bucket names list in byte order (S3's) whatever the database's default collation, as keys do.
        if (dialect === 'postgres') await sql`alter table buckets alter column name type text collate "C"`.execute(db);
      },
    },
    '0008_audit_bucket_and_actors': {
      async up(db) {
        // Bucket and object events name their bucket, so the log can be filtered by it.
        await db.schema.alterTable('audit').addColumn('bucket', 'text').execute();
        await db.schema.createIndex('audit_project_bucket_at').on('audit').columns(['project_id', 'bucket', 'at']).execute();
        // One actor format: token:<id>, user:<email>, cli:<user>, bootstrap. Earlier rows named a
        // token by its access key ID and a user by the bare email; token creators likewise.
        for (const [table, column] of [['audit', 'actor'], ['tokens', 'created_by']] as const) {
          await sql`
            update ${sql.table(table)} set ${sql.ref(column)} = 'token:' || (select t.id from tokens t where t.access_key_id = ${sql.ref(`${table}.${column}`)})
            where ${sql.ref(column)} in (select access_key_id from tokens)
          `.execute(db);
          await sql`
            update ${sql.table(table)} set ${sql.ref(column)} = 'user:' || ${sql.ref(column)}
            where ${sql.ref(column)} in (select email from users)
          `.execute(db);
        }
      },
    },
    '0009_scopes_networks_temporary_credentials_quotas': {
      async up(db) {
        // Per-token network conditions and request-rate limits.
        await db.schema.alterTable('tokens').addColumn('allowed_networks', 'text').execute();
        await db.schema.alterTable('tokens').addColumn('rate_limit', 'integer').execute();
        // A project's storage quota (a bucket's lives in its settings, read with the bucket).
        await db.schema.alterTable('projects').addColumn('quota_bytes', 'bigint').execute();
        await db.schema.alterTable('projects').addColumn('quota_objects', 'bigint').execute();

        await db.schema
          .createTable('temporary_credentials')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_id', 'text', (c) => c.notNull().references('tokens.id'))
          .addColumn('project_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('access_key_id', 'text', (c) => c.notNull().unique())
          .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
          .addColumn('session_token_hash', 'text', (c) => c.notNull())
          .addColumn('permission', 'text', (c) => c.notNull())
          .addColumn('bucket_scope', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .execute();
        await db.schema.createIndex('temporary_credentials_token').on('temporary_credentials').columns(['token_id', 'created_at']).execute();
        // Expired ones are removed by the periodic sweep, oldest first.
        await db.schema.createIndex('temporary_credentials_expires').on('temporary_credentials').columns(['expires_at']).execute();

        await db.schema
          .createTable('storage_counters')
          .addColumn('bucket_id', 'text', (c) => c.primaryKey())
          .addColumn('bytes', 'bigint', (c) => c.notNull())
          .addColumn('objects', 'bigint', (c) => c.notNull())
          .addColumn('recounted_at', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0010_sqlite_objects_in_key_order': {
      async up(db) {
        if (dialect === 'sqlite') await clusterSqliteObjects(db);
      },
    },
    '0011_sqlite_object_keys': {
      async up(db) {
        // The keys alone, in order, beside the rows (SQLite): a delimiter walk seeks once per
        // common prefix, and in the table those seeks land on a page each (rows are ~350 bytes
        // with their JSON columns), in this index on one page per ~6 prefixes of 10 keys. A
        // page of 1000 common prefixes over 10^6 objects: 4.7-6.5 ms of CPU without it, 2.5-3.8
        // with it (SQLite picks it by itself, being covering and narrower). PostgreSQL's primary
        // key is such an index already.
        if (dialect === 'sqlite') await sql`create index if not exists objects_keys on objects (bucket_id, key)`.execute(db);
      },
    },
    '0012_completed_uploads': {
      async up(db) {
        // A completed upload keeps its row for a day with what its completion committed, so that a
        // retried CompleteMultipartUpload is answered as the first one was. Requests see uploads in
        // progress only: the listing index leaves the completed ones out (a day of completions in
        // a bucket would otherwise be walked past by every listing), and a second one finds them
        // for the sweep and for DeleteBucket. SQLite's DDL runs here outside a transaction: this
        // one makes the change whole or not at all.
        await atomicDdl(db, dialect, async (trx) => {
          await trx.schema.alterTable('multipart_uploads').addColumn('completed_at', 'bigint').execute();
          await trx.schema.alterTable('multipart_uploads').addColumn('result', 'text').execute();
          await trx.schema.dropIndex('multipart_uploads_listing').execute();
          await trx.schema
            .createIndex('multipart_uploads_listing')
            .on('multipart_uploads')
            .columns(['bucket_id', 'key', 'initiated', 'upload_id'])
            .where(sql<boolean>`completed_at is null`)
            .execute();
          await trx.schema
            .createIndex('multipart_uploads_completed')
            .on('multipart_uploads')
            .columns(['bucket_id', 'completed_at'])
            .where(sql<boolean>`completed_at is not null`)
            .execute();
        });
      },
    },
    '0013_revoke_temporary_credentials_of_disabled_tokens': {
      async up(db) {
        // Disabling a token now revokes its temporary credentials for good (TokenService.disable);
        // before, they only showed as revoked through their token, so those of a token disabled
        // then would come back when it is enabled. They are revoked as of the token's disabling,
        // those still in force then, as disabling does now. Those of a token already enabled
        // again were back in use before the upgrade, and stay so.
        await sql`
          update temporary_credentials set revoked_at = (select t.disabled_at from tokens t where t.id = temporary_credentials.token_id)
          where revoked_at is null
            and exists (select 1 from tokens t where t.id = temporary_credentials.token_id and t.disabled_at is not null and temporary_credentials.expires_at > t.disabled_at)
        `.execute(db);
      },
    },
    '0014_revoke_console_tokens_of_former_roles': {
      async up(db) {
        // A console token (console:<email>, made by user:<email>) signs its user's share links at
        // the level of their role; leaving the project or changing role now revokes it
        // (ProjectService.endShareLinks). One left from before, whose user is no longer a member or
        // whose level is not their role's any more, is revoked here, so its links stop and the next
        // share makes a token of the current level. The levels are the roles' (ROLE_PERMISSION)
        // as of this migration.
        await sql`
          update tokens set revoked_at = ${Date.now()}
          where revoked_at is null
            and substr(name, 1, 8) = 'console:'
            and created_by = 'user:' || substr(name, 9)
            and not exists (
              select 1 from project_members m join users u on u.id = m.user_id
              where m.project_id = tokens.project_id
                and u.email = substr(tokens.name, 9)
                and tokens.permission = case m.role when 'owner' then 'admin-rw' when 'member' then 'object-rw' end
            )
        `.execute(db);
      },
    },
  };
}

/** Runs schema changes in one transaction: PostgreSQL's Migrator opens one already, SQLite's does not. */
async function atomicDdl(db: Kysely<any>, dialect: Dialect, fn: (db: Kysely<any>) => Promise<void>): Promise<void> {
  if (dialect === 'sqlite') await db.transaction().execute(fn);
  else await fn(db);
}

/**
 * On SQLite, `objects` becomes a WITHOUT ROWID table: its rows live in the (bucket_id, key)
 * primary key B-tree itself, in key order. A listing page then reads consecutive leaf pages
 * instead of one table lookup per key scattered by insertion order (a 1000-key page of a million
 * keys written in random order: 4.6 ms of CPU before, 1.7 after, as for a thousand keys), and
 * a PUT or GET searches one B-tree, not two. The table is rebuilt once, in one transaction;
 * SQLite runs migrations outside one, so this checks whether it already happened.
 */
async function clusterSqliteObjects(db: Kysely<any>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'objects'`.execute(trx);
    const ddl = rows[0]?.sql;
    if (ddl === undefined || /without\s+rowid\s*$/i.test(ddl)) return;
    const indexes = await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'objects' and sql is not null`.execute(trx);
    if (indexes.rows.length > 0) throw new Error(`objects has indexes this migration does not rebuild: ${indexes.rows.map((r) => r.name).join(', ')}`);
    // The stored definition carries every column added since (ALTER TABLE rewrites it).
    const create = ddl.replace(/^CREATE TABLE\s+("objects"|objects)/i, 'create table "objects_by_key"');
    if (create === ddl) throw new Error(`unexpected definition of objects: ${ddl}`);
    await sql`drop table if exists "objects_by_key"`.execute(trx);
    await sql.raw(`${create} without rowid`).execute(trx);
    await sql`insert into "objects_by_key" select * from "objects" order by "bucket_id", "key"`.execute(trx);
    await sql`drop table "objects"`.execute(trx);
    await sql`alter table "objects_by_key" rename to "objects"`.execute(trx);
  });
}

/**
 * Refuses, before any migration runs, a database that a newer skep has migrated: this version does
 * not know its schema, and Kysely's own refusal ("corrupted migrations") reads as damage.
 */
async function refuseNewerSchema(db: Kysely<any>, dialect: Dialect, known: string[], schema: string | undefined): Promise<void> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE && (schema === undefined || t.schema === schema))) return;
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(schema === undefined ? MIGRATION_TABLE : `${schema}.${MIGRATION_TABLE}`)}`.execute(db);
  const unknown = rows.map((r) => r.name).filter((name) => !known.includes(name)).sort();
  if (unknown.length === 0) return;
  const what = dialect === 'sqlite' ? 'This data folder' : 'This database';
  throw new Error(`${what} was written by a newer skep (unknown migration ${unknown.join(', ')}): run that version or newer.`);
}

/** Brings the database to the latest schema; throws if a migration fails. */
export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect, opts: { schema?: string } = {}): Promise<void> {
  const all = migrations(dialect);
  await refuseNewerSchema(db, dialect, Object.keys(all), opts.schema);
  const provider: MigrationProvider = { getMigrations: async () => all };
  // The migration tables go in the schema the store uses (a PostgreSQL search_path may name one).
  // Numbers are handed out to work in progress, so one may land after a higher one has run
  // somewhere: each migration stands alone, and runs whenever it is missing.
  const { error } = await new Migrator({ db, provider, migrationTableSchema: opts.schema, allowUnorderedMigrations: true }).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${String(error)}`);
}
