import { randomUUID } from 'node:crypto';
import type { CredentialLookup, CredentialState, PermissionLevel, Principal, ResolvedCredential } from '../auth/principal.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS } from '../auth/principal.js';
import type { AuditAction, MetadataStore, TokenRow } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { hasNul } from '../util/nul.js';
import { ANONYMOUS_ACTOR, tokenActor, type RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import { bearerMatches, bearerPrefix, newBearerToken } from './bearer.js';
import { newAccessKeyId, newSecretAccessKey } from './key-material.js';
import type { SecretBox } from './secret-box.js';
import { effectiveExpiry, enforced, outlives, tokenState } from './token-state.js';
import { isTemporaryKeyId, resolveTemporary } from './temporary-credentials.js';
import { scopeBuckets, scopeProblem } from '../auth/scope.js';
import { networksProblem } from '../auth/network.js';

export { effectiveExpiry } from './token-state.js';

export type { RequestSource } from '../audit/actor.js';

// API tokens: one token yields a bearer token (REST API) and an access key pair (S3). Secrets are
// returned once, by create and rotate; at rest the bearer token is a hash and the secret access
// key is encrypted. Token state is read from the store on every request (no cache), so a revoke
// by any node or by the CLI takes effect on the very next request.

export const DEFAULT_EXPIRY_DAYS = 90;
export const MAX_EXPIRY_DAYS = 365;
export const DEFAULT_ROTATION_GRACE_DAYS = 7;
const DAY_MS = 86_400_000;
/**
 * Status turns "expiring-soon" in the last fifth of a token's lifetime, but never earlier than a
 * week before expiry nor later than a day before: a 7-day token is not expiring soon the moment
 * it is made, a 90-day one is a week before, a 1-day one is from the start.
 */
const EXPIRING_SOON_FRACTION = 0.2;
const EXPIRING_SOON_MIN_MS = DAY_MS;
const EXPIRING_SOON_MAX_MS = 7 * DAY_MS;
/** Authentication failures audited per claimed key and source address per minute. */
export const FAILURE_AUDITS_PER_MINUTE = 10;
/** The most requests a minute a token's rate limit may name. */
export const MAX_RATE_LIMIT = 100_000;

/** How long before its expiry a token of this lifetime counts as expiring soon. */
export function expiringSoonWindow(lifetimeMs: number): number {
  return Math.min(EXPIRING_SOON_MAX_MS, Math.max(EXPIRING_SOON_MIN_MS, lifetimeMs * EXPIRING_SOON_FRACTION));
}

export type TokenStatus = 'active' | 'expiring-soon' | 'expired' | 'disabled' | 'revoked';

/** Everything about a token that may be shown: never a secret. */
export interface TokenView {
  id: string;
  projectId: string;
  name: string;
  description: string;
  permission: PermissionLevel;
  permissionLabel: string;
  bucketScope: string[] | null;
  billing: boolean;
  allowedNetworks: string[] | null;
  rateLimit: number | null;
  accessKeyId: string;
  status: TokenStatus;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  disabledAt: string | null;
  revokedAt: string | null;
  rotationPending: boolean;
  rotationDeadline: string | null;
}

/** The reply to create and rotate: the only time secrets leave the server. */
export interface IssuedCredentials {
  bearerToken: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CreateTokenInput {
  projectId: string;
  name: string;
  description?: string;
  permission: string;
  /** Bucket names and bucket/prefix entries; null: all buckets, including ones created later. */
  bucketScope: string[] | null;
  expiresInDays?: number;
  billing?: boolean;
  /** Addresses and CIDR networks the token may be used from; null or absent: anywhere. */
  allowedNetworks?: string[] | null;
  /** Requests per minute; null or absent: no limit. */
  rateLimit?: number | null;
  /** The actor (src/audit/actor.ts). */
  createdBy: string;
  /**
   * The token that creates this one, when a token does (a bearer caller): the new token may not
   * outlive it.
   */
  parentTokenId?: string;
  /** Bootstrap only: a given key pair, and no expiry. */
  bootstrap?: { accessKeyId?: string; secretAccessKey?: string };
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

const MAX_CLAIMED_KEY_LENGTH = 128;

/** A claimed (unverified) access key ID as it may be stored: printable ASCII, bounded. */
function claimedKeyId(text: string): string {
  const escaped = text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  return escaped.length > MAX_CLAIMED_KEY_LENGTH ? `${escaped.slice(0, MAX_CLAIMED_KEY_LENGTH)}...` : escaped;
}

export class TokenService implements CredentialLookup {
  private pendingUses = new Map<string, Date>();

  constructor(
    private readonly meta: MetadataStore,
    private readonly box: SecretBox,
    private readonly audit: AuditService,
    /** Bounds the authentication failures written to the audit log (FAILURE_AUDITS_PER_MINUTE). */
    private readonly failureLimiter: RateLimiter,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  // ---- state ----

  stateOf(row: TokenRow, now = this.clock()): CredentialState {
    return tokenState(row, now);
  }

  statusOf(row: TokenRow, now = this.clock()): TokenStatus {
    const state = this.stateOf(row, now);
    if (state !== 'active') return state;
    if (row.expiresAt && row.expiresAt.getTime() - now.getTime() <= expiringSoonWindow(row.expiresAt.getTime() - row.createdAt.getTime())) {
      return 'expiring-soon';
    }
    return 'active';
  }

  view(row: TokenRow): TokenView {
    const now = this.clock();
    const rotationPending = this.rotationPending(row, now);
    return {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      description: row.description,
      permission: row.permission,
      permissionLabel: PERMISSION_LABELS[row.permission],
      bucketScope: row.bucketScope,
      billing: row.billing,
      allowedNetworks: row.allowedNetworks,
      rateLimit: row.rateLimit,
      accessKeyId: row.accessKeyId,
      status: this.statusOf(row, now),
      createdAt: row.createdAt.toISOString(),
      createdBy: row.createdBy,
      expiresAt: iso(row.expiresAt),
      lastUsedAt: iso(this.pendingUses.get(row.id) ?? row.lastUsedAt),
      disabledAt: iso(row.disabledAt),
      revokedAt: iso(row.revokedAt),
      rotationPending,
      rotationDeadline: rotationPending ? iso(row.rotationDeadline) : null,
    };
  }

  /** The previous secret still works: a rotation is neither confirmed nor past its grace. */
  private rotationPending(row: TokenRow, now = this.clock()): boolean {
    return row.previousSecretCiphertext !== null && !!row.rotationDeadline && row.rotationDeadline > now;
  }

  principalOf(row: TokenRow): Principal {
    return {
      accessKeyId: row.accessKeyId,
      projectId: row.projectId,
      tokenId: row.id,
      permission: row.permission,
      bucketScope: row.bucketScope,
      billing: row.billing,
      allowedNetworks: row.allowedNetworks,
      rateLimit: row.rateLimit,
    };
  }

  // ---- SigV4 credential lookup ----

  /**
   * One query per request: temporary credentials (ST... keys) with their token, or a token's own
   * keys. A custom key that happens to start with ST (the bootstrap key may be chosen) is looked
   * up among tokens when no temporary credentials have it.
   */
  async lookup(accessKeyId: string): Promise<ResolvedCredential | null> {
    if (hasNul(accessKeyId)) return null;
    if (isTemporaryKeyId(accessKeyId)) {
      const temporary = await this.meta.findTemporaryCredential(accessKeyId);
      if (temporary) return resolveTemporary(temporary, this.box, this.clock());
    }
    const found = await this.meta.findCredential({ accessKeyId });
    if (!found) return null;
    const row = enforced(found);
    const now = this.clock();
    // The access key ID is bound as associated data: a ciphertext moved to another row fails.
    const secrets = [this.box.decrypt(row.secretCiphertext, row.accessKeyId)];
    if (row.previousSecretCiphertext && row.rotationDeadline && row.rotationDeadline > now) {
      secrets.push(this.box.decrypt(row.previousSecretCiphertext, row.accessKeyId));
    }
    return { secrets, principal: this.principalOf(row), state: this.stateOf(row, now), expiresAt: row.expiresAt };
  }

  /** Bearer tokens for the REST API: the principal, or a DomainError('unauthenticated'). */
  async authenticateBearer(token: string, source?: string): Promise<Principal> {
    const prefix = bearerPrefix(token);
    const found = prefix ? await this.meta.findCredential({ bearerPrefix: prefix }) : null;
    const row = found ? enforced(found) : null;
    const now = this.clock();
    let valid = false;
    if (row) {
      if (row.bearerPrefix === prefix) valid = bearerMatches(token, row.bearerHash);
      else if (row.previousBearerPrefix === prefix && row.rotationDeadline && row.rotationDeadline > now) {
        valid = bearerMatches(token, row.previousBearerHash);
      }
    }
    if (!row || !valid) {
      // A well-formed token of a known row (a guess, or the old token after its grace) names that token.
      this.recordFailure(row ? row.accessKeyId : prefix ? `bearer:${prefix}` : 'bearer', 'invalid bearer token', source);
      throw new DomainError('unauthenticated', 'The bearer token is not valid.');
    }
    const state = this.stateOf(row, now);
    if (state !== 'active') {
      this.recordFailure(row.accessKeyId, `${state} token`, source);
      throw new DomainError('unauthenticated', `The token is ${state}.`);
    }
    this.recordUse(this.principalOf(row));
    return this.principalOf(row);
  }

  /** last-used-at is buffered in memory and written in batches, not once per request. */
  recordUse(principal: Principal): void {
    this.pendingUses.set(principal.tokenId, this.clock());
  }

  /**
   * `accessKeyId` is whatever the request claimed (any text a stranger sends): it is looked up as
   * given but recorded bounded and with anything but printable ASCII escaped. A claim that names
   * a token is that token's event (actor token:<id>); any other is anonymous, the claim in the detail.
   */
  recordFailure(accessKeyId: string, reason: string, source: string | undefined): void {
    void this.auditFailure(accessKeyId, reason, source).catch(() => undefined);
  }

  /** A verified credential used from an address outside its token's allowed networks (audited, bounded like failures). */
  recordNetworkDenied(principal: Principal, source: string | undefined): void {
    void this.auditFailure(principal.accessKeyId, `address ${source ?? 'unknown'} is outside the token's allowed networks`, source, 'auth.network-denied', principal.tokenId).catch(
      () => undefined,
    );
  }

  private async auditFailure(accessKeyId: string, reason: string, source: string | undefined, action?: AuditAction, tokenId?: string): Promise<void> {
    const claimed = claimedKeyId(accessKeyId);
    // A flood of bad requests must not flood the audit log: a few events per key and source a minute.
    if (!(await this.failureLimiter.allow(`${claimed}|${source ?? ''}`, this.clock().getTime()))) return;
    const row = tokenId !== undefined ? await this.meta.getToken(tokenId) : hasNul(accessKeyId) ? null : await this.meta.getTokenByAccessKeyId(accessKeyId);
    await this.audit.record({
      action: action ?? (reason.startsWith('expired') || reason === 'ExpiredToken' ? 'auth.expired-token' : 'auth.failed'),
      actor: row ? tokenActor(row.id) : ANONYMOUS_ACTOR,
      tokenId: row?.id ?? null,
      projectId: row?.projectId ?? null,
      source: source ?? null,
      detail: row ? reason : `${reason}; claimed key ${claimed}`,
    });
  }

  async flushUses(): Promise<void> {
    if (this.pendingUses.size === 0) return;
    const uses = [...this.pendingUses].map(([id, at]) => ({ id, at }));
    this.pendingUses = new Map();
    await this.meta.touchTokens(uses);
  }

  // ---- management ----

  /** `now` is the token's creation time: its expiry is counted from that same reading of the clock. */
  private async validateCreate(input: CreateTokenInput, now: number): Promise<{ permission: PermissionLevel; expiresAt: Date | null }> {
    const name = input.name?.trim();
    if (!name) throw new DomainError('invalid-argument', 'A token needs a name.', 'name');
    if (name.length > 100) throw new DomainError('invalid-argument', 'A token name is at most 100 characters.', 'name');
    if ((input.description ?? '').length > 1000) throw new DomainError('invalid-argument', 'A description is at most 1000 characters.', 'description');
    if (!(PERMISSION_LEVELS as readonly string[]).includes(input.permission)) {
      throw new DomainError('invalid-argument', `Unknown permission level "${input.permission}"; expected one of ${PERMISSION_LEVELS.join(', ')}.`, 'permission');
    }
    const project = await this.meta.getProject(input.projectId);
    if (!project) throw new DomainError('not-found', `No project ${input.projectId}.`, 'projectId');
    if (input.bucketScope !== null) await this.checkScope(input.projectId, input.bucketScope);
    if (input.allowedNetworks !== undefined && input.allowedNetworks !== null) {
      const problem = networksProblem(input.allowedNetworks);
      if (problem) throw new DomainError('invalid-argument', problem, 'allowedNetworks');
    }
    if (input.rateLimit !== undefined && input.rateLimit !== null && (!Number.isInteger(input.rateLimit) || input.rateLimit < 1 || input.rateLimit > MAX_RATE_LIMIT)) {
      throw new DomainError('invalid-argument', `A rate limit is a whole number of requests a minute from 1 to ${MAX_RATE_LIMIT}.`, 'rateLimit');
    }
    if (input.bootstrap) return { permission: input.permission as PermissionLevel, expiresAt: null };
    const parentLimit = input.parentTokenId === undefined ? null : await this.parentLimit(input.parentTokenId, now);
    if (parentLimit && parentLimit.days < 1) throw new DomainError('limit-exceeded', parentLimit.message(input.expiresInDays ?? 1), 'expiresInDays');
    const limits = [DEFAULT_EXPIRY_DAYS, project.maxTokenDays ?? DEFAULT_EXPIRY_DAYS, parentLimit?.days ?? DEFAULT_EXPIRY_DAYS];
    const days = input.expiresInDays ?? Math.min(...limits);
    if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) {
      throw new DomainError('invalid-argument', `Expiry must be a whole number of days from 1 to ${MAX_EXPIRY_DAYS}.`, 'expiresInDays');
    }
    if (project.maxTokenDays !== null && days > project.maxTokenDays) {
      throw new DomainError('limit-exceeded', `This project allows tokens of at most ${project.maxTokenDays} days.`, 'expiresInDays');
    }
    const expiresAt = new Date(now + days * DAY_MS);
    if (parentLimit && outlives(expiresAt, parentLimit.expiresAt)) throw new DomainError('limit-exceeded', parentLimit.message(days), 'expiresInDays');
    return { permission: input.permission as PermissionLevel, expiresAt };
  }

  /**
   * A scope list: at least one entry, each a bucket of the project or a prefix in one (not empty),
   * none including another. Exact repeats are tolerated (create keeps one of each).
   */
  async checkScope(projectId: string, scope: readonly string[], field = 'bucketScope'): Promise<void> {
    if (scope.length === 0) throw new DomainError('invalid-argument', 'A bucket scope names at least one bucket (or use all buckets).', field);
    const problem = scopeProblem([...new Set(scope)]);
    if (problem) throw new DomainError('invalid-argument', problem, field);
    const known = new Set((await this.meta.listBuckets(projectId)).map((b) => b.name));
    const unknown = scopeBuckets(scope).filter((b) => !known.has(b));
    if (unknown.length) throw new DomainError('invalid-argument', `Unknown bucket(s) in scope: ${unknown.join(', ')}.`, field);
  }

  /**
   * The most days a token may give a token it creates: its own remaining lifetime, in whole days.
   * A token that never expires (the bootstrap credential) hands out up to the global maximum.
   */
  private async parentLimit(parentTokenId: string, now: number): Promise<{ days: number; expiresAt: Date; message(asked: number): string } | null> {
    const parent = await this.require(parentTokenId);
    if (parent.expiresAt === null) return null;
    const remainingMs = parent.expiresAt.getTime() - now;
    const days = Math.max(0, Math.floor(remainingMs / DAY_MS));
    const until = parent.expiresAt.toISOString();
    return {
      days,
      expiresAt: parent.expiresAt,
      message: (asked) =>
        days < 1
          ? `The token making this request expires at ${until}, in less than a day: it cannot create tokens (a token lasts at least 1 day and never outlives the token that creates it).`
          : `A token cannot outlive the token that creates it: the caller's token expires at ${until}, so a new token may last at most ${days} day${days === 1 ? '' : 's'} (asked for ${asked}).`,
    };
  }

  async create(input: CreateTokenInput, source?: string): Promise<{ token: TokenView; credentials: IssuedCredentials }> {
    const createdAt = this.clock();
    const { permission, expiresAt } = await this.validateCreate(input, createdAt.getTime());
    const accessKeyId = input.bootstrap?.accessKeyId ?? newAccessKeyId();
    const secretAccessKey = input.bootstrap?.secretAccessKey ?? newSecretAccessKey();
    const bearer = newBearerToken();
    const row: TokenRow = {
      id: randomUUID(),
      projectId: input.projectId,
      name: input.name.trim(),
      description: input.description ?? '',
      permission,
      bucketScope: input.bucketScope ? [...new Set(input.bucketScope)] : null,
      billing: input.billing ?? false,
      allowedNetworks: input.allowedNetworks ? [...new Set(input.allowedNetworks.map((n) => n.trim()))] : null,
      rateLimit: input.rateLimit ?? null,
      createdAt,
      createdBy: input.createdBy,
      expiresAt,
      lastUsedAt: null,
      disabledAt: null,
      revokedAt: null,
      accessKeyId,
      secretCiphertext: this.box.encrypt(secretAccessKey, accessKeyId),
      bearerPrefix: bearer.prefix,
      bearerHash: bearer.hash,
      previousSecretCiphertext: null,
      previousBearerPrefix: null,
      previousBearerHash: null,
      rotationDeadline: null,
    };
    if (await this.meta.getTokenByAccessKeyId(accessKeyId)) throw new DomainError('conflict', 'That access key ID is taken.', 'accessKeyId');
    await this.meta.createToken(row);
    await this.audit.record({ action: 'token.created', actor: input.createdBy, tokenId: row.id, projectId: row.projectId, source, detail: `${permission} ${row.name}` });
    return { token: this.view(row), credentials: { bearerToken: bearer.token, accessKeyId, secretAccessKey } };
  }

  /** The row as it is enforced: expiresAt capped by the project's current maximum lifetime. */
  private async withEffectiveExpiry(row: TokenRow): Promise<TokenRow> {
    const project = await this.meta.getProject(row.projectId);
    return enforced({ token: row, maxTokenDays: project?.maxTokenDays ?? null });
  }

  /** The token, with its effective expiry (never written back: patches do not carry expiresAt). */
  async require(id: string, projectId?: string): Promise<TokenRow> {
    const row = await this.meta.getToken(id);
    if (!row || (projectId !== undefined && row.projectId !== projectId)) throw new DomainError('not-found', `No token ${id}.`);
    return this.withEffectiveExpiry(row);
  }

  async list(projectId: string): Promise<TokenView[]> {
    const maxTokenDays = (await this.meta.getProject(projectId))?.maxTokenDays ?? null;
    return (await this.meta.listTokens(projectId)).map((r) => this.view({ ...r, expiresAt: effectiveExpiry(r, maxTokenDays) }));
  }

  async show(id: string, projectId?: string): Promise<TokenView> {
    return this.view(await this.require(id, projectId));
  }

  private async change(id: string, by: RequestSource, action: AuditAction, patch: Partial<TokenRow>, projectId?: string, detail: string | null = null): Promise<TokenView> {
    const row = await this.require(id, projectId);
    if (row.revokedAt && action !== 'token.revoked') throw new DomainError('conflict', 'The token is revoked.');
    await this.meta.updateToken(id, patch);
    await this.audit.record({ action, actor: by.actor, tokenId: id, projectId: row.projectId, source: by.source, detail });
    return this.view({ ...row, ...patch });
  }

  /**
   * Disabling also revokes the token's temporary credentials for good (in the same write): they end
   * at once, and enabling the token later does not bring them back. Each revocation is audited.
   */
  async disable(id: string, by: RequestSource, projectId?: string): Promise<TokenView> {
    const row = await this.require(id, projectId);
    if (row.revokedAt) throw new DomainError('conflict', 'The token is revoked.');
    const at = this.clock();
    const ended = await this.meta.disableToken(id, at);
    if (ended === null) throw new DomainError('not-found', `No token ${id}.`);
    const audited = { actor: by.actor, tokenId: id, projectId: row.projectId, source: by.source };
    await this.audit.record({ action: 'token.disabled', ...audited, detail: null });
    for (const t of ended) await this.audit.record({ action: 'token.temporary-revoked', ...audited, detail: `${t.name} (${t.accessKeyId}), as its token was disabled` });
    return this.view({ ...row, disabledAt: at });
  }

  enable(id: string, by: RequestSource, projectId?: string): Promise<TokenView> {
    return this.change(id, by, 'token.enabled', { disabledAt: null }, projectId);
  }

  /** Revocation writes a timestamp, not a delete, so the audit trail keeps the token. `why` goes in its audit detail. */
  async revoke(id: string, by: RequestSource, projectId?: string, why: string | null = null): Promise<TokenView> {
    const row = await this.require(id, projectId);
    if (row.revokedAt) return this.view(row);
    return this.change(id, by, 'token.revoked', { revokedAt: this.clock() }, projectId, why);
  }

  /**
   * New secret and bearer token, shown once; the old ones work until confirmed or the grace ends.
   * (A token asking may not rotate one that outlives it: the REST route holds it to that.)
   */
  async rotate(
    id: string,
    by: RequestSource,
    graceDays = DEFAULT_ROTATION_GRACE_DAYS,
    projectId?: string,
  ): Promise<{ token: TokenView; credentials: IssuedCredentials }> {
    if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > 30) {
      throw new DomainError('invalid-argument', 'The rotation grace period is 0 to 30 days.', 'graceDays');
    }
    const row = await this.require(id, projectId);
    const now = this.clock();
    if (this.stateOf(row, now) !== 'active') throw new DomainError('conflict', `The token is ${this.stateOf(row, now)}; only active tokens rotate.`);
    // A second rotation would end the first one's old secret before the grace it promised.
    if (this.rotationPending(row, now)) {
      throw new DomainError(
        'conflict',
        `A rotation of this token is pending: its previous secret works until ${row.rotationDeadline!.toISOString()}. Confirm that rotation (confirm-rotation) before rotating again.`,
      );
    }
    const secretAccessKey = newSecretAccessKey();
    const bearer = newBearerToken();
    // The old secret never outlives the token itself.
    let deadline = now.getTime() + graceDays * DAY_MS;
    if (row.expiresAt) deadline = Math.min(deadline, row.expiresAt.getTime());
    const patch: Partial<TokenRow> = {
      secretCiphertext: this.box.encrypt(secretAccessKey, row.accessKeyId),
      bearerPrefix: bearer.prefix,
      bearerHash: bearer.hash,
      previousSecretCiphertext: row.secretCiphertext,
      previousBearerPrefix: row.bearerPrefix,
      previousBearerHash: row.bearerHash,
      rotationDeadline: new Date(deadline),
    };
    const token = await this.change(id, by, 'token.rotated', patch, projectId, `old secret works until ${new Date(deadline).toISOString()}`);
    return { token, credentials: { bearerToken: bearer.token, accessKeyId: row.accessKeyId, secretAccessKey } };
  }

  async confirmRotation(id: string, by: RequestSource, projectId?: string): Promise<TokenView> {
    const row = await this.require(id, projectId);
    if (!row.previousSecretCiphertext) throw new DomainError('conflict', 'No rotation is pending for this token.');
    return this.change(
      id,
      by,
      'token.rotation-confirmed',
      { previousSecretCiphertext: null, previousBearerPrefix: null, previousBearerHash: null, rotationDeadline: null },
      projectId,
    );
  }
}
