import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { CredentialState, PermissionLevel, Principal, ResolvedCredential } from '../auth/principal.js';
import { PERMISSION_LEVELS } from '../auth/principal.js';
import { intersect, outside } from '../auth/scope.js';
import { levelMeet, levelWithin, parseSessionPolicy } from '../auth/session-policy.js';
import { PolicyError } from '../auth/bucket-policy.js';
import type { RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';
import type { MetadataStore, TemporaryCredentialRecord, TemporaryCredentialRow, TokenRow } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { newSecretAccessKey } from './key-material.js';
import type { SecretBox } from './secret-box.js';
import { enforced, outlives, tokenState } from './token-state.js';
import type { TokenService } from './token-service.js';

// Temporary credentials: a token turned into an access key, a secret and a session token that
// last 15 minutes to 12 hours (a REST call, or STS AssumeRole / GetSessionToken on the S3
// endpoint). They act for their token — its network condition and rate limit apply, usage counts
// as its — within a level and scope no wider than its, and end no later than it does: revoking,
// disabling or expiring the token ends them on the next request, as they are read with it in one
// query (disabling also revokes them for good: TokenService.disable). The secret is encrypted at rest like a token's; the session token is kept only as a hash.

export const MIN_DURATION_SECONDS = 900;
export const MAX_DURATION_SECONDS = 43_200;
export const DEFAULT_DURATION_SECONDS = 3600;
/** Expired temporary credentials are deleted this long after their expiry (their audit events stay). */
export const KEEP_EXPIRED_MS = 7 * 86_400_000;

/** Access key IDs of temporary credentials start with ST (a token's with SK), as AWS's start with ASIA. */
const TEMPORARY_PREFIX = 'ST';
const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;

export function isTemporaryKeyId(accessKeyId: string): boolean {
  return accessKeyId.startsWith(TEMPORARY_PREFIX);
}

function newTemporaryKeyId(): string {
  let out = TEMPORARY_PREFIX;
  for (const byte of randomBytes(18)) out += KEY_ID_ALPHABET[byte % 32];
  return out;
}

/** A session token: 48 random bytes, base64url, behind a recognisable prefix. */
function newSessionToken(): string {
  return `skep_st_${randomBytes(48).toString('base64url')}`;
}

export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented session token with the stored hash. */
export function sessionTokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashSessionToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whole seconds from `now` to `expiresAt` (null: never, Infinity). */
function secondsLeft(expiresAt: Date | null, now: Date): number {
  return expiresAt === null ? Infinity : Math.floor((expiresAt.getTime() - now.getTime()) / 1000);
}

/** limit-exceeded: credentials a token makes of another token would outlive it (asked: the duration asked for). */
function issuerLimit(issuerExpiry: Date, now: Date, field: string, asked?: number): DomainError {
  const left = secondsLeft(issuerExpiry, now);
  const most = left < MIN_DURATION_SECONDS ? 'in less than 15 minutes: it cannot make temporary credentials of another token' : `so they may last at most ${left} s${asked === undefined ? '' : ` (asked for ${asked})`}`;
  return new DomainError(
    'limit-exceeded',
    `Temporary credentials never outlive the token that makes them: the caller's token expires at ${issuerExpiry.toISOString()}, ${most}.`,
    field,
  );
}

/** Temporary credentials as they are enforced now: their own state, or their token's when it ended first. */
function stateOf(credential: TemporaryCredentialRow, token: TokenRow, now: Date): CredentialState {
  if (credential.revokedAt) return 'revoked';
  const own = tokenState(token, now);
  if (own !== 'active') return own;
  return credential.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';
}

function expiryOf(credential: TemporaryCredentialRow, token: TokenRow): Date {
  return token.expiresAt && token.expiresAt < credential.expiresAt ? token.expiresAt : credential.expiresAt;
}

/** The per-request view of temporary credentials read with their token (see TokenService.lookup). */
export function resolveTemporary(record: TemporaryCredentialRecord, box: SecretBox, now: Date): ResolvedCredential {
  const { credential } = record;
  const token = enforced(record);
  const principal: Principal = {
    accessKeyId: credential.accessKeyId,
    projectId: token.projectId,
    tokenId: token.id,
    temporaryId: credential.id,
    tokenAccessKeyId: token.accessKeyId,
    permission: credential.permission,
    bucketScope: credential.bucketScope,
    billing: false,
    allowedNetworks: token.allowedNetworks,
    rateLimit: token.rateLimit,
  };
  return {
    // The access key ID is bound as associated data, as for tokens.
    secrets: [box.decrypt(credential.secretCiphertext, credential.accessKeyId)],
    principal,
    state: stateOf(credential, token, now),
    expiresAt: expiryOf(credential, token),
    sessionTokenHash: credential.sessionTokenHash,
  };
}

export type TemporaryStatus = 'active' | 'expired' | 'revoked';

/** What may be shown of temporary credentials: never the secret or the session token. */
export interface TemporaryCredentialView {
  id: string;
  tokenId: string;
  name: string;
  accessKeyId: string;
  permission: PermissionLevel;
  bucketScope: string[] | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
  status: TemporaryStatus;
}

/** The reply that carries the secrets, once. */
export interface IssuedTemporaryCredentials {
  credential: TemporaryCredentialView;
  secrets: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
}

export interface IssueTemporaryInput {
  projectId: string;
  /** The token the credentials act for. */
  tokenId: string;
  /** A session name (AWS RoleSessionName): 2-64 of letters, digits and + = , . @ _ -. */
  name?: string;
  /** 900-43200; at most the token's remaining life. */
  durationSeconds?: number;
  /** Used when durationSeconds is absent, capped at the token's remaining life. */
  defaultDurationSeconds?: number;
  /** A level no wider than the token's; absent: the token's. */
  permission?: string;
  /** Entries within the token's scope; undefined: the token's scope (null asks for every bucket). */
  bucketScope?: string[] | null;
  /** An STS session policy: mapped onto a level and scope, then narrowed to the token's (never an error for being wider). */
  policy?: string;
  /**
   * The token asking, when a token does (a bearer caller; it may be another token than `tokenId`):
   * the credentials never outlive it either (limit-exceeded), as no token it creates may.
   */
  issuerTokenId?: string;
  by: RequestSource;
}

/** Names the fields as the caller sent them: the REST API's, or STS's parameters. */
export interface FieldNames {
  durationSeconds: string;
  name: string;
  policy: string;
}

const REST_FIELDS: FieldNames = { durationSeconds: 'durationSeconds', name: 'name', policy: 'policy' };

export class TemporaryCredentialService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly box: SecretBox,
    private readonly tokens: TokenService,
    private readonly audit: AuditService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  view(row: TemporaryCredentialRow, token?: TokenRow): TemporaryCredentialView {
    const now = this.clock();
    const state = token ? stateOf(row, token, now) : row.revokedAt ? 'revoked' : row.expiresAt <= now ? 'expired' : 'active';
    return {
      id: row.id,
      tokenId: row.tokenId,
      name: row.name,
      accessKeyId: row.accessKeyId,
      permission: row.permission,
      bucketScope: row.bucketScope,
      createdAt: row.createdAt.toISOString(),
      createdBy: row.createdBy,
      expiresAt: (token ? expiryOf(row, token) : row.expiresAt).toISOString(),
      revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
      // A token that was disabled or revoked ends its temporary credentials: shown as revoked.
      status: state === 'active' ? 'active' : state === 'expired' ? 'expired' : 'revoked',
    };
  }

  /** Issues credentials for `input.tokenId`; invalid-argument (400) naming the field for bad input, nothing stored then. */
  async issue(input: IssueTemporaryInput, fields: FieldNames = REST_FIELDS): Promise<IssuedTemporaryCredentials> {
    const token = await this.tokens.require(input.tokenId, input.projectId);
    const now = this.clock();
    const state = tokenState(token, now);
    if (state !== 'active') throw new DomainError('conflict', `The token is ${state}; only an active token has temporary credentials made from it.`);

    const name = input.name ?? 'session';
    if (!NAME_PATTERN.test(name)) {
      throw new DomainError('invalid-argument', `${fields.name} is 2-64 letters, digits and + = , . @ _ - (got ${JSON.stringify(name.slice(0, 70))}).`, fields.name);
    }
    const issuer = input.issuerTokenId === undefined ? null : await this.tokens.require(input.issuerTokenId, input.projectId);
    const seconds = this.duration(token, issuer?.expiresAt ?? null, input, now, fields.durationSeconds);

    let permission = token.permission;
    let scope: string[] | null = token.bucketScope;
    if (input.policy !== undefined) {
      let policy;
      try {
        policy = parseSessionPolicy(input.policy);
      } catch (err) {
        if (err instanceof PolicyError) throw new DomainError('invalid-argument', err.message, fields.policy);
        throw err;
      }
      // As on AWS, a session policy narrows: the session gets what both it and the token allow.
      permission = levelMeet(policy.permission, token.permission);
      scope = intersect(policy.scope, token.bucketScope);
    }
    if (input.permission !== undefined) {
      if (!(PERMISSION_LEVELS as readonly string[]).includes(input.permission)) {
        throw new DomainError('invalid-argument', `Unknown permission level "${input.permission}"; expected one of ${PERMISSION_LEVELS.join(', ')}.`, 'permission');
      }
      const asked = input.permission as PermissionLevel;
      if (!levelWithin(asked, token.permission)) {
        throw new DomainError('invalid-argument', `Temporary credentials cannot have more rights than their token: ${asked} is wider than ${token.permission}.`, 'permission');
      }
      permission = asked;
    }
    if (input.bucketScope !== undefined) {
      if (input.bucketScope !== null) await this.tokens.checkScope(input.projectId, input.bucketScope);
      const wider = outside(input.bucketScope, token.bucketScope);
      if (wider.length) {
        throw new DomainError('invalid-argument', `Temporary credentials reach no further than their token; outside its scope: ${wider.join(', ')}.`, 'bucketScope');
      }
      scope = input.bucketScope === null ? null : [...new Set(input.bucketScope)];
    }

    const accessKeyId = newTemporaryKeyId();
    const secretAccessKey = newSecretAccessKey();
    const sessionToken = newSessionToken();
    const row: TemporaryCredentialRow = {
      id: randomUUID(),
      tokenId: token.id,
      projectId: token.projectId,
      name,
      accessKeyId,
      secretCiphertext: this.box.encrypt(secretAccessKey, accessKeyId),
      sessionTokenHash: hashSessionToken(sessionToken),
      permission,
      bucketScope: scope,
      createdAt: now,
      createdBy: input.by.actor,
      expiresAt: new Date(now.getTime() + seconds * 1000),
      revokedAt: null,
    };
    await this.meta.createTemporaryCredential(row);
    await this.audit.record({
      action: 'token.temporary-issued',
      actor: input.by.actor,
      tokenId: token.id,
      projectId: token.projectId,
      source: input.by.source,
      detail: `${name} (${accessKeyId}): ${permission}, ${scope === null ? 'all buckets' : scope.join(' ') || 'nothing'}, until ${row.expiresAt.toISOString()}`,
    });
    return {
      credential: this.view(row, token),
      secrets: { accessKeyId, secretAccessKey, sessionToken, expiration: row.expiresAt.toISOString() },
    };
  }

  /**
   * The lifetime asked for (or the default), checked against the range, the token's remaining life
   * and the asking token's (`issuerExpiry`, null: never; the default is capped at both).
   */
  private duration(token: TokenRow, issuerExpiry: Date | null, input: IssueTemporaryInput, now: Date, field: string): number {
    const remaining = secondsLeft(token.expiresAt, now);
    if (input.durationSeconds !== undefined) {
      const d = input.durationSeconds;
      if (!Number.isInteger(d) || d < MIN_DURATION_SECONDS || d > MAX_DURATION_SECONDS) {
        throw new DomainError('invalid-argument', `${field} must be a whole number of seconds from ${MIN_DURATION_SECONDS} (15 minutes) to ${MAX_DURATION_SECONDS} (12 hours).`, field);
      }
      if (d > remaining) {
        throw new DomainError(
          'invalid-argument',
          `${field} ${d} is longer than the token's remaining life: it expires at ${token.expiresAt!.toISOString()}, in ${remaining} s. Temporary credentials never outlive their token.`,
          field,
        );
      }
      if (outlives(new Date(now.getTime() + d * 1000), issuerExpiry)) throw issuerLimit(issuerExpiry!, now, field, d);
      return d;
    }
    if (remaining < MIN_DURATION_SECONDS) {
      throw new DomainError('invalid-argument', `The token expires at ${token.expiresAt!.toISOString()}, in less than 15 minutes: too soon for temporary credentials.`, field);
    }
    const issuerRemaining = secondsLeft(issuerExpiry, now);
    if (issuerRemaining < MIN_DURATION_SECONDS) throw issuerLimit(issuerExpiry!, now, field);
    return Math.min(input.defaultDurationSeconds ?? DEFAULT_DURATION_SECONDS, remaining, issuerRemaining);
  }

  /** A token's temporary credentials, newest first. */
  async list(tokenId: string, projectId: string): Promise<TemporaryCredentialView[]> {
    const token = await this.tokens.require(tokenId, projectId);
    return (await this.meta.listTemporaryCredentials(tokenId)).map((r) => this.view(r, token));
  }

  /** Ends one set of temporary credentials now (its token keeps working). */
  async revoke(tokenId: string, id: string, by: RequestSource, projectId: string): Promise<TemporaryCredentialView> {
    const token = await this.tokens.require(tokenId, projectId);
    const row = await this.meta.getTemporaryCredential(id);
    if (!row || row.tokenId !== tokenId) throw new DomainError('not-found', `No temporary credentials ${id} for this token.`);
    if (!row.revokedAt) {
      const at = this.clock();
      await this.meta.revokeTemporaryCredential(id, at);
      await this.audit.record({ action: 'token.temporary-revoked', actor: by.actor, tokenId, projectId, source: by.source, detail: `${row.name} (${row.accessKeyId})` });
      return this.view({ ...row, revokedAt: at }, token);
    }
    return this.view(row, token);
  }

  /** Removes temporary credentials that expired more than a week ago; returns how many. */
  prune(): Promise<number> {
    return this.meta.deleteExpiredTemporaryCredentials(new Date(this.clock().getTime() - KEEP_EXPIRED_MS));
  }
}
