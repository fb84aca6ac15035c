import { randomUUID } from 'node:crypto';
import type { CredentialLookup, CredentialState, PermissionLevel, Principal, ResolvedCredential } from '../auth/principal.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS } from '../auth/principal.js';
import type { AuditAction, AuditRow, CredentialRecord, MetadataStore, TokenRow } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { newAuditId } from './audit-id.js';
import { bearerMatches, bearerPrefix, newBearerToken } from './bearer.js';
import { newAccessKeyId, newSecretAccessKey } from './key-material.js';
import type { SecretBox } from './secret-box.js';
import { WindowLimiter } from '../util/window-limiter.js';

// API tokens: one token yields a bearer token (REST API) and an access key pair (S3). Secrets are
// returned once, by create and rotate; at rest the bearer token is a hash and the secret access
// key is encrypted. Token state is read from the store on every request (no cache), so a revoke
// by any node or by the CLI takes effect on the very next request.

export const DEFAULT_EXPIRY_DAYS = 90;
export const MAX_EXPIRY_DAYS = 365;
export const DEFAULT_ROTATION_GRACE_DAYS = 7;
/** Status turns "expiring-soon" this long before expiry. */
const EXPIRING_SOON_MS = 7 * 86_400_000;
const DAY_MS = 86_400_000;
/** Authentication failures audited per claimed key and source address per minute. */
const FAILURE_AUDITS_PER_MINUTE = 10;

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
  /** null: all buckets, including ones created later. */
  bucketScope: string[] | null;
  expiresInDays?: number;
  billing?: boolean;
  createdBy: string;
  /** Bootstrap only: a given key pair, and no expiry. */
  bootstrap?: { accessKeyId?: string; secretAccessKey?: string };
}

export interface RequestSource {
  actor: string;
  source?: string;
}

/**
 * When a token stops working: its own expiry, or earlier when the project's maximum lifetime was
 * lowered after it was made (counted from its creation). A token made without expiry (the
 * bootstrap credential, the operator's root key) is outside the project maximum, as at creation.
 */
export function effectiveExpiry(row: Pick<TokenRow, 'expiresAt' | 'createdAt'>, maxTokenDays: number | null): Date | null {
  if (row.expiresAt === null || maxTokenDays === null) return row.expiresAt;
  return new Date(Math.min(row.expiresAt.getTime(), row.createdAt.getTime() + maxTokenDays * DAY_MS));
}

/** A credential read's token as it is enforced: expiresAt capped by its project's maximum. */
function enforced({ token, maxTokenDays }: CredentialRecord): TokenRow {
  return { ...token, expiresAt: effectiveExpiry(token, maxTokenDays) };
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
  private readonly failureLimiter = new WindowLimiter(FAILURE_AUDITS_PER_MINUTE, 60_000);

  constructor(
    private readonly meta: MetadataStore,
    private readonly box: SecretBox,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  // ---- state ----

  stateOf(row: TokenRow, now = this.clock()): CredentialState {
    if (row.revokedAt) return 'revoked';
    if (row.disabledAt) return 'disabled';
    if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return 'expired';
    return 'active';
  }

  statusOf(row: TokenRow, now = this.clock()): TokenStatus {
    const state = this.stateOf(row, now);
    if (state !== 'active') return state;
    if (row.expiresAt && row.expiresAt.getTime() - now.getTime() < EXPIRING_SOON_MS) return 'expiring-soon';
    return 'active';
  }

  view(row: TokenRow): TokenView {
    const now = this.clock();
    const rotationPending = row.previousSecretCiphertext !== null && !!row.rotationDeadline && row.rotationDeadline > now;
    return {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      description: row.description,
      permission: row.permission,
      permissionLabel: PERMISSION_LABELS[row.permission],
      bucketScope: row.bucketScope,
      billing: row.billing,
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

  principalOf(row: TokenRow): Principal {
    return {
      accessKeyId: row.accessKeyId,
      projectId: row.projectId,
      tokenId: row.id,
      permission: row.permission,
      bucketScope: row.bucketScope,
      billing: row.billing,
    };
  }

  // ---- SigV4 credential lookup ----

  async lookup(accessKeyId: string): Promise<ResolvedCredential | null> {
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
   * given but recorded bounded and with anything but printable ASCII escaped.
   */
  recordFailure(accessKeyId: string, reason: string, source: string | undefined): void {
    // A flood of bad requests must not flood the audit log: a few events per key and source a minute.
    if (!this.failureLimiter.allow(`${claimedKeyId(accessKeyId)}|${source ?? ''}`, this.clock().getTime())) return;
    void this.meta
      .getTokenByAccessKeyId(accessKeyId)
      .then((row) =>
        this.audit({
          action: reason.startsWith('expired') || reason === 'ExpiredToken' ? 'auth.expired-token' : 'auth.failed',
          actor: row ? row.accessKeyId : claimedKeyId(accessKeyId),
          tokenId: row?.id ?? null,
          projectId: row?.projectId ?? null,
          source: source ?? null,
          detail: reason,
        }),
      )
      .catch(() => undefined);
  }

  async flushUses(): Promise<void> {
    if (this.pendingUses.size === 0) return;
    const uses = [...this.pendingUses].map(([id, at]) => ({ id, at }));
    this.pendingUses = new Map();
    await this.meta.touchTokens(uses);
  }

  // ---- management ----

  private async validateCreate(input: CreateTokenInput): Promise<{ permission: PermissionLevel; expiresAt: Date | null }> {
    const name = input.name?.trim();
    if (!name) throw new DomainError('invalid-argument', 'A token needs a name.', 'name');
    if (name.length > 100) throw new DomainError('invalid-argument', 'A token name is at most 100 characters.', 'name');
    if ((input.description ?? '').length > 1000) throw new DomainError('invalid-argument', 'A description is at most 1000 characters.', 'description');
    if (!(PERMISSION_LEVELS as readonly string[]).includes(input.permission)) {
      throw new DomainError('invalid-argument', `Unknown permission level "${input.permission}"; expected one of ${PERMISSION_LEVELS.join(', ')}.`, 'permission');
    }
    const project = await this.meta.getProject(input.projectId);
    if (!project) throw new DomainError('not-found', `No project ${input.projectId}.`, 'projectId');
    if (input.bucketScope !== null) {
      if (input.bucketScope.length === 0) throw new DomainError('invalid-argument', 'A bucket scope names at least one bucket (or use all buckets).', 'bucketScope');
      const known = new Set((await this.meta.listBuckets(input.projectId)).map((b) => b.name));
      const unknown = input.bucketScope.filter((b) => !known.has(b));
      if (unknown.length) throw new DomainError('invalid-argument', `Unknown bucket(s) in scope: ${unknown.join(', ')}.`, 'bucketScope');
    }
    if (input.bootstrap) return { permission: input.permission as PermissionLevel, expiresAt: null };
    const days = input.expiresInDays ?? Math.min(DEFAULT_EXPIRY_DAYS, project.maxTokenDays ?? DEFAULT_EXPIRY_DAYS);
    if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) {
      throw new DomainError('invalid-argument', `Expiry must be a whole number of days from 1 to ${MAX_EXPIRY_DAYS}.`, 'expiresInDays');
    }
    if (project.maxTokenDays !== null && days > project.maxTokenDays) {
      throw new DomainError('invalid-argument', `This project allows tokens of at most ${project.maxTokenDays} days.`, 'expiresInDays');
    }
    return { permission: input.permission as PermissionLevel, expiresAt: new Date(this.clock().getTime() + days * DAY_MS) };
  }

  async create(input: CreateTokenInput, source?: string): Promise<{ token: TokenView; credentials: IssuedCredentials }> {
    const { permission, expiresAt } = await this.validateCreate(input);
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
      createdAt: this.clock(),
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
    await this.audit({ action: 'token.created', actor: input.createdBy, tokenId: row.id, projectId: row.projectId, source: source ?? null, detail: `${permission} ${row.name}` });
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

  private async change(id: string, by: RequestSource, action: AuditAction, patch: Partial<TokenRow>, projectId?: string): Promise<TokenView> {
    const row = await this.require(id, projectId);
    if (row.revokedAt && action !== 'token.revoked') throw new DomainError('conflict', 'The token is revoked.');
    await this.meta.updateToken(id, patch);
    await this.audit({ action, actor: by.actor, tokenId: id, projectId: row.projectId, source: by.source ?? null, detail: null });
    return this.view({ ...row, ...patch });
  }

  disable(id: string, by: RequestSource, projectId?: string): Promise<TokenView> {
    return this.change(id, by, 'token.disabled', { disabledAt: this.clock() }, projectId);
  }

  enable(id: string, by: RequestSource, projectId?: string): Promise<TokenView> {
    return this.change(id, by, 'token.enabled', { disabledAt: null }, projectId);
  }

  /** Revocation writes a timestamp, not a delete, so the audit trail keeps the token. */
  async revoke(id: string, by: RequestSource, projectId?: string): Promise<TokenView> {
    const row = await this.require(id, projectId);
    if (row.revokedAt) return this.view(row);
    return this.change(id, by, 'token.revoked', { revokedAt: this.clock() }, projectId);
  }

  /** New secret and bearer token, shown once; the old ones work until confirmed or the grace ends. */
  async rotate(id: string, by: RequestSource, graceDays = DEFAULT_ROTATION_GRACE_DAYS, projectId?: string): Promise<{ token: TokenView; credentials: IssuedCredentials }> {
    if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > 30) {
      throw new DomainError('invalid-argument', 'The rotation grace period is 0 to 30 days.', 'graceDays');
    }
    const row = await this.require(id, projectId);
    if (this.stateOf(row) !== 'active') throw new DomainError('conflict', `The token is ${this.stateOf(row)}; only active tokens rotate.`);
    const secretAccessKey = newSecretAccessKey();
    const bearer = newBearerToken();
    const patch: Partial<TokenRow> = {
      secretCiphertext: this.box.encrypt(secretAccessKey, row.accessKeyId),
      bearerPrefix: bearer.prefix,
      bearerHash: bearer.hash,
      previousSecretCiphertext: row.secretCiphertext,
      previousBearerPrefix: row.bearerPrefix,
      previousBearerHash: row.bearerHash,
      rotationDeadline: new Date(this.clock().getTime() + graceDays * DAY_MS),
    };
    const token = await this.change(id, by, 'token.rotated', patch, projectId);
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

  async audit(e: Omit<AuditRow, 'id' | 'at'>): Promise<void> {
    const at = this.clock();
    // Time-ordered ids keep events of the same millisecond in the order they happened.
    await this.meta.appendAudit({ id: newAuditId(at), at, ...e });
  }

  listAudit(q: { projectId?: string; tokenId?: string; limit: number; before?: Date }): Promise<AuditRow[]> {
    return this.meta.listAudit(q);
  }
}
