// Fixtures for the upgrade tests of both engines: a database migrated up to (not including) a
// given migration, with rows written in that older schema; then what must hold once the store has
// opened (and so migrated) it. Typed loosely: the schema here is older than today's Database.

import assert from 'node:assert/strict';
import { Migrator, type Kysely } from 'kysely';
import { migrations, type Dialect } from './schema.js';
import type { MetadataStore } from './metadata-store.js';
import { objectRow } from './contract.js';
import { AuditService } from '../../audit/audit-service.js';
import { consoleCredential } from '../../credentials/console-token.js';
import type { SecretBox } from '../../credentials/secret-box.js';
import { FAILURE_AUDITS_PER_MINUTE, TokenService } from '../../credentials/token-service.js';
import { MemoryLimiterState, RateLimiter } from '../../limits/rate-limiter.js';

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

// ---- credentials: what older versions left in force ----

const HOUR_MS = 3_600_000;
const DISABLED_AT = 1_700_000_000_000;

/** A token as the tables hold it since 0009, its secret sealed under `box`; `o` overrides columns. */
function tokenValues(box: SecretBox, id: string, o: Record<string, unknown> = {}): Record<string, unknown> {
  const accessKeyId = `SK${id.toUpperCase()}`;
  const now = Date.now();
  return {
    id, project_id: 'p', name: id, description: '', permission: 'object-rw', bucket_scope: null, billing: 0, created_at: now, created_by: 'bootstrap',
    expires_at: now + 7 * 24 * HOUR_MS, last_used_at: null, disabled_at: null, revoked_at: null, access_key_id: accessKeyId,
    secret_ciphertext: box.encrypt(`secret-${id}`, accessKeyId), bearer_prefix: `pre_${id}`, bearer_hash: 'h',
    previous_secret_ciphertext: null, previous_bearer_prefix: null, previous_bearer_hash: null, rotation_deadline: null, allowed_networks: null, rate_limit: null,
    ...o,
  };
}

function temporaryValues(box: SecretBox, id: string, tokenId: string, o: Record<string, unknown> = {}): Record<string, unknown> {
  const accessKeyId = `ST${id.toUpperCase()}`;
  return {
    id, token_id: tokenId, project_id: 'p', name: id, access_key_id: accessKeyId, secret_ciphertext: box.encrypt(`secret-${id}`, accessKeyId),
    session_token_hash: 'h', permission: 'object-rw', bucket_scope: null, created_at: DISABLED_AT - HOUR_MS, created_by: `token:${tokenId}`, expires_at: Date.now() + 12 * HOUR_MS, revoked_at: null,
    ...o,
  };
}

/**
 * Before 0013: temporary credentials showed as disabled through their token, and came back when
 * it was enabled. Token `off` is disabled, with credentials in force (t1), expired before it was
 * disabled (t2) and revoked before (t3); token `on` was disabled and enabled again (t4 in use).
 */
export async function seedTemporaryCredentialsBefore0013(db: Kysely<any>, dialect: Dialect, box: SecretBox): Promise<void> {
  await migrateBefore(db, dialect, '0013');
  await db.insertInto('tokens').values([tokenValues(box, 'off', { disabled_at: DISABLED_AT }), tokenValues(box, 'on')]).execute();
  await db
    .insertInto('temporary_credentials')
    .values([
      temporaryValues(box, 't1', 'off'),
      temporaryValues(box, 't2', 'off', { expires_at: DISABLED_AT - 1 }),
      temporaryValues(box, 't3', 'off', { revoked_at: DISABLED_AT - 2 }),
      temporaryValues(box, 't4', 'on'),
    ])
    .execute();
}

/** After 0013: t1 is revoked as of the disabling, and stays so when its token is enabled; the others are as they were. */
export async function assertTemporaryCredentialsAfter0013(s: MetadataStore, box: SecretBox): Promise<void> {
  const revokedAt = async (id: string) => (await s.getTemporaryCredential(id))?.revokedAt?.getTime() ?? null;
  assert.deepEqual([await revokedAt('t1'), await revokedAt('t2'), await revokedAt('t3'), await revokedAt('t4')], [DISABLED_AT, null, DISABLED_AT - 2, null]);
  const tokens = tokenService(s, box);
  await tokens.enable('off', { actor: 'bootstrap' });
  assert.equal((await tokens.lookup('STT1'))?.state, 'revoked', 'enabling the token does not bring them back');
  assert.equal((await tokens.lookup('STT4'))?.state, 'active');
}

/**
 * Before 0014: leaving a project or changing role left the user's console token in force. Bob left
 * (his console token and a token of his own remain), Carol was demoted from owner (her console
 * token is admin-rw), Dave and Alice hold the level of their role.
 */
export async function seedConsoleTokensBefore0014(db: Kysely<any>, dialect: Dialect, box: SecretBox): Promise<void> {
  await migrateBefore(db, dialect, '0014');
  const people = [['alice', 'owner'], ['bob', null], ['carol', 'member'], ['dave', 'member']] as const;
  for (const [name, role] of people) {
    await db.insertInto('users').values({ id: name, email: `${name}@example.com`, password_hash: 'h', created_at: 0 }).execute();
    if (role) await db.insertInto('project_members').values({ project_id: 'p', user_id: name, role }).execute();
  }
  const consoleToken = (name: string, permission: string) =>
    tokenValues(box, `c${name}`, { name: `console:${name}@example.com`, created_by: `user:${name}@example.com`, permission });
  await db
    .insertInto('tokens')
    .values([
      consoleToken('alice', 'admin-rw'),
      consoleToken('bob', 'object-rw'),
      consoleToken('carol', 'admin-rw'),
      consoleToken('dave', 'object-rw'),
      tokenValues(box, 'bobs', { name: 'deploy', created_by: 'user:bob@example.com' }),
    ])
    .execute();
}

/** After 0014: Bob's and Carol's console tokens are revoked; Bob, added again, shares with a new token. */
export async function assertConsoleTokensAfter0014(s: MetadataStore, box: SecretBox): Promise<void> {
  const revoked = async (id: string) => (await s.getToken(id))?.revokedAt != null;
  assert.deepEqual(
    { alice: await revoked('calice'), bob: await revoked('cbob'), carol: await revoked('ccarol'), dave: await revoked('cdave'), bobsOwn: await revoked('bobs') },
    { alice: false, bob: true, carol: true, dave: false, bobsOwn: false },
  );
  const tokens = tokenService(s, box);
  await s.setMembership({ projectId: 'p', userId: 'bob', role: 'member' });
  const signing = await consoleCredential(tokens, s, { email: 'bob@example.com', projectId: 'p', permission: 'object-rw', now: new Date() });
  assert.notEqual(signing.tokenId, 'cbob', 'a new console token, not the one from before he left');
  assert.equal((await consoleCredential(tokens, s, { email: 'dave@example.com', projectId: 'p', permission: 'object-rw', now: new Date() })).tokenId, 'cdave');
}

function tokenService(s: MetadataStore, box: SecretBox): TokenService {
  return new TokenService(s, box, new AuditService(s), new RateLimiter(new MemoryLimiterState(), 'test', FAILURE_AUDITS_PER_MINUTE, 60_000));
}

// ---- a database from a newer skep ----

const FUTURE = '9999_from_a_newer_skep';

/** Marks a migrated database as migrated by a newer skep, with this version's last migration not run yet. */
export async function seedNewerSchema(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('kysely_migration').where('name', '=', '0014_revoke_console_tokens_of_former_roles').execute();
  await db.insertInto('kysely_migration').values({ name: FUTURE, timestamp: new Date().toISOString() }).execute();
}

/** Opening it is refused, naming the newer migration, before any migration runs. */
export async function assertNewerSchemaRefused(open: () => Promise<MetadataStore>, db: Kysely<any>, folder: 'data folder' | 'database'): Promise<void> {
  await assert.rejects(open(), { message: `This ${folder} was written by a newer skep (unknown migration ${FUTURE}): run that version or newer.` });
  const names = (await db.selectFrom('kysely_migration').select('name').execute()).map((r) => r.name as string);
  assert.ok(names.includes(FUTURE) && !names.includes('0014_revoke_console_tokens_of_former_roles'), 'nothing migrated');
}
