// Queries for temporary credentials, over any Kysely<Database>.

import type { Kysely, Transaction } from 'kysely';
import type { PermissionLevel } from '../../auth/principal.js';
import type { TemporaryCredentialRecord, TemporaryCredentialRow } from './metadata-store.js';
import type { Database, TemporaryCredentialsTable } from './schema.js';
import { toTokenRow } from './token-queries.js';

type Db = Kysely<Database> | Transaction<Database>;

function toValues(row: TemporaryCredentialRow): TemporaryCredentialsTable {
  return {
    id: row.id,
    token_id: row.tokenId,
    project_id: row.projectId,
    name: row.name,
    access_key_id: row.accessKeyId,
    secret_ciphertext: row.secretCiphertext,
    session_token_hash: row.sessionTokenHash,
    permission: row.permission,
    bucket_scope: row.bucketScope ? JSON.stringify(row.bucketScope) : null,
    created_at: row.createdAt.getTime(),
    created_by: row.createdBy,
    expires_at: row.expiresAt.getTime(),
    revoked_at: row.revokedAt ? row.revokedAt.getTime() : null,
  };
}

function toRow(r: TemporaryCredentialsTable): TemporaryCredentialRow {
  return {
    id: r.id,
    tokenId: r.token_id,
    projectId: r.project_id,
    name: r.name,
    accessKeyId: r.access_key_id,
    secretCiphertext: r.secret_ciphertext,
    sessionTokenHash: r.session_token_hash,
    permission: r.permission as PermissionLevel,
    bucketScope: r.bucket_scope === null ? null : (JSON.parse(r.bucket_scope) as string[]),
    createdAt: new Date(Number(r.created_at)),
    createdBy: r.created_by,
    expiresAt: new Date(Number(r.expires_at)),
    revokedAt: r.revoked_at === null ? null : new Date(Number(r.revoked_at)),
  };
}

export async function createTemporaryCredential(db: Db, row: TemporaryCredentialRow): Promise<void> {
  await db.insertInto('temporary_credentials').values(toValues(row)).execute();
}

export async function findTemporaryCredential(db: Db, accessKeyId: string): Promise<TemporaryCredentialRecord | null> {
  // One query: the credentials, the token they act for (its state ends them too) and the project's limit.
  const r = await db
    .selectFrom('temporary_credentials as c')
    .innerJoin('tokens as t', 't.id', 'c.token_id')
    .innerJoin('projects as p', 'p.id', 't.project_id')
    .selectAll('t')
    .select([
      'c.id as c_id',
      'c.token_id as c_token_id',
      'c.project_id as c_project_id',
      'c.name as c_name',
      'c.access_key_id as c_access_key_id',
      'c.secret_ciphertext as c_secret_ciphertext',
      'c.session_token_hash as c_session_token_hash',
      'c.permission as c_permission',
      'c.bucket_scope as c_bucket_scope',
      'c.created_at as c_created_at',
      'c.created_by as c_created_by',
      'c.expires_at as c_expires_at',
      'c.revoked_at as c_revoked_at',
      'p.max_token_days as project_max_token_days',
    ])
    .where('c.access_key_id', '=', accessKeyId)
    .executeTakeFirst();
  if (!r) return null;
  const credential = toRow({
    id: r.c_id,
    token_id: r.c_token_id,
    project_id: r.c_project_id,
    name: r.c_name,
    access_key_id: r.c_access_key_id,
    secret_ciphertext: r.c_secret_ciphertext,
    session_token_hash: r.c_session_token_hash,
    permission: r.c_permission,
    bucket_scope: r.c_bucket_scope,
    created_at: r.c_created_at,
    created_by: r.c_created_by,
    expires_at: r.c_expires_at,
    revoked_at: r.c_revoked_at,
  });
  return { credential, token: toTokenRow(r), maxTokenDays: r.project_max_token_days === null ? null : Number(r.project_max_token_days) };
}

export async function getTemporaryCredential(db: Db, id: string): Promise<TemporaryCredentialRow | null> {
  const r = await db.selectFrom('temporary_credentials').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toRow(r) : null;
}

export async function listTemporaryCredentials(db: Db, tokenId: string): Promise<TemporaryCredentialRow[]> {
  const rows = await db
    .selectFrom('temporary_credentials')
    .selectAll()
    .where('token_id', '=', tokenId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(toRow);
}

export async function revokeTemporaryCredential(db: Db, id: string, at: Date): Promise<boolean> {
  const r = await db.updateTable('temporary_credentials').set({ revoked_at: at.getTime() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  if (Number(r.numUpdatedRows) > 0) return true;
  return (await getTemporaryCredential(db, id)) !== null;
}

/**
 * Revokes at `at` the token's temporary credentials still in force (neither revoked nor expired);
 * returns them as they were. Run in the transaction that disables the token.
 */
export async function revokeTokenTemporaryCredentials(db: Db, tokenId: string, at: Date): Promise<TemporaryCredentialRow[]> {
  const live = await db
    .selectFrom('temporary_credentials')
    .selectAll()
    .where('token_id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', at.getTime())
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  if (live.length === 0) return [];
  await db.updateTable('temporary_credentials').set({ revoked_at: at.getTime() }).where('id', 'in', live.map((r) => r.id)).where('revoked_at', 'is', null).execute();
  return live.map(toRow);
}

export async function deleteExpiredTemporaryCredentials(db: Db, before: Date): Promise<number> {
  const r = await db.deleteFrom('temporary_credentials').where('expires_at', '<', before.getTime()).executeTakeFirst();
  return Number(r.numDeletedRows);
}
