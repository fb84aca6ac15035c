// Fixtures for the upgrade tests of both engines: a database migrated up to (not including) a
// given migration, with rows written in that older schema; then what must hold once the store has
// opened (and so migrated) it. Typed loosely: the schema here is older than today's Database.

import assert from 'node:assert/strict';
import { Migrator, type Kysely } from 'kysely';
import { migrations, type Dialect } from './schema.js';
import type { MetadataStore } from './metadata-store.js';
import { objectRow } from './contract.js';

/** Runs the migrations named before `first`, and adds project p with bucket b1 ("one"). */
export async function migrateBefore(db: Kysely<any>, dialect: Dialect, first: string): Promise<void> {
  const before = Object.fromEntries(Object.entries(migrations(dialect)).filter(([name]) => name < first));
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => before } }).migrateToLatest();
  assert.equal(error, undefined);
  await db.insertInto('projects').values({ id: 'p', name: 'p', created_at: 0, max_token_days: null }).execute();
  await db.insertInto('buckets').values({ id: 'b1', project_id: 'p', name: 'one', region: 'r', created_at: 0 }).execute();
}

/** Before 0012 (completed uploads): two uploads in progress in b1, u1 (key k) with a part. */
export async function seedUploadsBefore0012(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await migrateBefore(db, dialect, '0012');
  const upload = { bucket_id: 'b1', initiated: 1, headers: '{}', user_metadata: '{}', tags: '{}', storage_class: 'STANDARD', checksum_algorithm: null, checksum_type: null };
  for (const [id, key] of [['u1', 'k'], ['u2', 'other']]) await db.insertInto('multipart_uploads').values({ ...upload, upload_id: id, key }).execute();
  await db.insertInto('parts').values({ upload_id: 'u1', part_number: 1, size: 5, etag: '"e1"', last_modified: 1, blob_ref: 'ref1', blob_size: 5, checksum: null }).execute();
}

/** After 0012: both uploads are listed and in progress; u1 completes, then only u2 is listed. */
export async function assertUploadsAfter0012(s: MetadataStore): Promise<void> {
  assert.deepEqual((await s.listUploads('b1', { prefix: '', limit: 10 })).map((u) => u.uploadId), ['u1', 'u2']);
  assert.equal((await s.getUpload('u1'))?.completion, undefined);
  const object = objectRow('b1', 'k', { blobs: [{ ref: 'ref1', size: 5 }], etag: '"m-1"' });
  assert.ok((await s.completeUpload('u1', object, { kind: 'none' }, 'unversioned', undefined, [{ partNumber: 1, etag: '"e1"' }])).ok);
  assert.deepEqual((await s.getUpload('u1'))?.completion?.parts, [{ partNumber: 1, etag: '"e1"' }]);
  assert.deepEqual((await s.listUploads('b1', { prefix: '', limit: 10 })).map((u) => u.uploadId), ['u2']);
}
