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

export interface CredentialsTable {
  access_key_id: string;
  project_id: string;
  secret_ciphertext: string;
  label: string;
  created_at: number;
}

export interface Database {
  projects: ProjectsTable;
  buckets: BucketsTable;
  objects: ObjectsTable;
  multipart_uploads: MultipartUploadsTable;
  parts: PartsTable;
  credentials: CredentialsTable;
}

export type Dialect = 'sqlite' | 'postgres';

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
          .createTable('credentials')
          .addColumn('access_key_id', 'text', (c) => c.primaryKey())
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
          .addColumn('label', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
  };
}

/** Brings the database to the latest schema; throws if a migration fails. */
export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  const all = migrations(dialect);
  const provider: MigrationProvider = { getMigrations: async () => all };
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${String(error)}`);
}
