// Queries for tokens and their credentials, over any Kysely<Database>.

import { credentialByAccessKey } from './hot-queries.js';
import type { Kysely, Transaction } from 'kysely';
import { inTransaction } from './transaction.js';
import type { PermissionLevel } from '../../auth/principal.js';
import type { CredentialRecord, TokenPatch, TokenRow } from './metadata-store.js';
import type { Database, TokensTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const ms = (d: Date | null): number | null => (d ? d.getTime() : null);
const date = (n: number | string | null): Date | null => (n === null ? null : new Date(Number(n)));

function toValues(row: TokenRow): TokensTable {
  return {
    id: row.id,
    project_id: row.projectId,
    name: row.name,
    description: row.description,
    permission: row.permission,
    bucket_scope: row.bucketScope ? JSON.stringify(row.bucketScope) : null,
    billing: row.billing ? 1 : 0,
    created_at: row.createdAt.getTime(),
    created_by: row.createdBy,
    expires_at: ms(row.expiresAt),
    last_used_at: ms(row.lastUsedAt),
    disabled_at: ms(row.disabledAt),
    revoked_at: ms(row.revokedAt),
    access_key_id: row.accessKeyId,
    secret_ciphertext: row.secretCiphertext,
    bearer_prefix: row.bearerPrefix,
    bearer_hash: row.bearerHash,
    previous_secret_ciphertext: row.previousSecretCiphertext,
    previous_bearer_prefix: row.previousBearerPrefix,
    previous_bearer_hash: row.previousBearerHash,
    rotation_deadline: ms(row.rotationDeadline),
    allowed_networks: row.allowedNetworks ? JSON.stringify(row.allowedNetworks) : null,
    rate_limit: row.rateLimit,
  };
}

export function toTokenRow(r: TokensTable): TokenRow {
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    description: r.description,
    permission: r.permission as PermissionLevel,
    bucketScope: r.bucket_scope === null ? null : (JSON.parse(r.bucket_scope) as string[]),
    billing: Number(r.billing) === 1,
    createdAt: new Date(Number(r.created_at)),
    createdBy: r.created_by,
    expiresAt: date(r.expires_at),
    lastUsedAt: date(r.last_used_at),
    disabledAt: date(r.disabled_at),
    revokedAt: date(r.revoked_at),
    accessKeyId: r.access_key_id,
    secretCiphertext: r.secret_ciphertext,
    bearerPrefix: r.bearer_prefix,
    bearerHash: r.bearer_hash,
    previousSecretCiphertext: r.previous_secret_ciphertext,
    previousBearerPrefix: r.previous_bearer_prefix,
    previousBearerHash: r.previous_bearer_hash,
    rotationDeadline: date(r.rotation_deadline),
    allowedNetworks: r.allowed_networks === null || r.allowed_networks === undefined ? null : (JSON.parse(r.allowed_networks) as string[]),
    rateLimit: r.rate_limit === null || r.rate_limit === undefined ? null : Number(r.rate_limit),
  };
}

export async function createToken(db: Db, row: TokenRow): Promise<void> {
  await db.insertInto('tokens').values(toValues(row)).execute();
}

export async function getTokenBy(db: Db, column: 'id' | 'access_key_id', value: string): Promise<TokenRow | null> {
  const r = await db.selectFrom('tokens').selectAll().where(column, '=', value).executeTakeFirst();
  return r ? toTokenRow(r) : null;
}

export async function findCredential(db: Db, by: { accessKeyId: string } | { bearerPrefix: string }): Promise<CredentialRecord | null> {
  const r = 'accessKeyId' in by ? (await credentialByAccessKey(db, by.accessKeyId)).rows[0] : await findByBearer(db, by.bearerPrefix);
  if (!r) return null;
  return { token: toTokenRow(r), maxTokenDays: r.project_max_token_days === null ? null : Number(r.project_max_token_days) };
}

function findByBearer(db: Db, bearerPrefix: string) {
  return db
    .selectFrom('tokens')
    .innerJoin('projects', 'projects.id', 'tokens.project_id')
    .selectAll('tokens')
    .select('projects.max_token_days as project_max_token_days')
    .where((eb) => eb.or([eb('tokens.bearer_prefix', '=', bearerPrefix), eb('tokens.previous_bearer_prefix', '=', bearerPrefix)]))
    .executeTakeFirst();
}

export async function listTokens(db: Db, projectId: string): Promise<TokenRow[]> {
  const rows = await db.selectFrom('tokens').selectAll().where('project_id', '=', projectId).orderBy('created_at', 'desc').orderBy('id').execute();
  return rows.map(toTokenRow);
}

export async function updateToken(db: Db, id: string, patch: TokenPatch): Promise<boolean> {
  const full = toValues({ ...(patch as TokenRow), id, projectId: '', accessKeyId: '', createdAt: new Date(0), createdBy: '' });
  // Only the fields the patch names are written.
  const names: Record<keyof TokenPatch, keyof TokensTable> = {
    name: 'name', description: 'description', permission: 'permission', bucketScope: 'bucket_scope', billing: 'billing',
    expiresAt: 'expires_at', lastUsedAt: 'last_used_at', disabledAt: 'disabled_at', revokedAt: 'revoked_at',
    secretCiphertext: 'secret_ciphertext', bearerPrefix: 'bearer_prefix', bearerHash: 'bearer_hash',
    previousSecretCiphertext: 'previous_secret_ciphertext', previousBearerPrefix: 'previous_bearer_prefix',
    previousBearerHash: 'previous_bearer_hash', rotationDeadline: 'rotation_deadline',
    allowedNetworks: 'allowed_networks', rateLimit: 'rate_limit',
  };
  const set: Partial<TokensTable> = {};
  for (const key of Object.keys(patch) as (keyof TokenPatch)[]) {
    const column = names[key];
    (set as Record<string, unknown>)[column] = full[column];
  }
  if (Object.keys(set).length === 0) return true;
  const result = await db.updateTable('tokens').set(set).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function touchTokens(db: Kysely<Database>, uses: { id: string; at: Date }[]): Promise<void> {
  if (uses.length === 0) return;
  // In id order: nodes flushing at the same time lock rows in the same order, never deadlock.
  const ordered = [...uses].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  await inTransaction(db, async (trx) => {
    for (const use of ordered) {
      await trx
        .updateTable('tokens')
        .set({ last_used_at: use.at.getTime() })
        .where('id', '=', use.id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', use.at.getTime())]))
        .execute();
    }
  });
}
