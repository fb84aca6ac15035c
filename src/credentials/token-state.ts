import type { CredentialState } from '../auth/principal.js';
import type { CredentialRecord, TokenRow } from '../storage/metadata/metadata-store.js';

// Whether a token works right now, as pure functions of its row: shared by the token's own keys
// and by the temporary credentials made from it, which end when it does.

const DAY_MS = 86_400_000;

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
export function enforced({ token, maxTokenDays }: Pick<CredentialRecord, 'token' | 'maxTokenDays'>): TokenRow {
  return { ...token, expiresAt: effectiveExpiry(token, maxTokenDays) };
}

/**
 * Whether credentials lasting until `expiresAt` (null: for ever) would outlive the token handing
 * them out, which expires at `issuerExpiry` (null: never). Nothing a token hands out may: a token
 * it creates, the new secret of a token it rotates, temporary credentials it makes of another token.
 */
export function outlives(expiresAt: Date | null, issuerExpiry: Date | null): boolean {
  return issuerExpiry !== null && (expiresAt === null || expiresAt.getTime() > issuerExpiry.getTime());
}

/** Revoked, disabled, expired or active (in that order of precedence). */
export function tokenState(row: Pick<TokenRow, 'revokedAt' | 'disabledAt' | 'expiresAt'>, now: Date): CredentialState {
  if (row.revokedAt) return 'revoked';
  if (row.disabledAt) return 'disabled';
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}
