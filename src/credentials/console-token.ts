import type { PermissionLevel } from '../auth/principal.js';
import type { MetadataStore, TokenRow } from '../storage/metadata/metadata-store.js';
import { effectiveExpiry, type TokenService } from './token-service.js';
import { userActor, type RequestSource } from '../audit/actor.js';

// The console signs presigned URLs for a signed-in user with a token of its own: one per user and
// project, named `console:<email>`, created on demand (7 days, all buckets, the level of the
// user's role) and reused while it has more than a day left. Its secret is read back through
// lookup() (decrypted from the store), so nothing extra is kept, and revoking it kills its URLs.
// It lasts no longer than the user's role: leaving the project or changing role revokes it.

export const CONSOLE_TOKEN_DAYS = 7;
const REUSE_MIN_REMAINING_MS = 86_400_000;

export interface SigningCredential {
  tokenId: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** When the credential (and so every URL it signed) stops working; null: never. */
  expiresAt: Date | null;
}

export function consoleTokenName(email: string): string {
  return `console:${email}`;
}

function isConsoleTokenOf(row: Pick<TokenRow, 'createdBy' | 'name'>, email: string): boolean {
  return row.createdBy === userActor(email) && row.name === consoleTokenName(email);
}

export async function consoleCredential(
  tokens: TokenService,
  meta: MetadataStore,
  input: { email: string; projectId: string; permission: PermissionLevel; now: Date },
): Promise<SigningCredential> {
  const project = await meta.getProject(input.projectId);
  const maxTokenDays = project?.maxTokenDays ?? null;
  const rows = await meta.listTokens(input.projectId);
  // Judged by the effective expiry: a lowered project maximum may end a token before its own date.
  const reusable = rows
    .map((r) => ({ ...r, expiresAt: effectiveExpiry(r, maxTokenDays) }))
    .find(
      (r) =>
        isConsoleTokenOf(r, input.email) &&
        r.permission === input.permission &&
        r.bucketScope === null &&
        tokens.stateOf(r, input.now) === 'active' &&
        r.expiresAt !== null &&
        r.expiresAt.getTime() - input.now.getTime() > REUSE_MIN_REMAINING_MS,
    );
  let accessKeyId = reusable?.accessKeyId;
  if (!accessKeyId) {
    const days = Math.min(CONSOLE_TOKEN_DAYS, maxTokenDays ?? CONSOLE_TOKEN_DAYS);
    const created = await tokens.create({
      projectId: input.projectId,
      name: consoleTokenName(input.email),
      description: 'Signs presigned URLs for the console',
      permission: input.permission,
      bucketScope: null,
      expiresInDays: days,
      billing: false,
      createdBy: userActor(input.email),
    });
    accessKeyId = created.credentials.accessKeyId;
  }
  return signingCredential(tokens, accessKeyId);
}

/**
 * Revokes a user's console tokens in a project (each audited as token.revoked, `why` in its detail):
 * the share links they signed must not outlive the user's membership, nor keep a former role's
 * level. The user's next share makes a token of the current level.
 */
export async function revokeConsoleTokens(
  tokens: TokenService,
  meta: MetadataStore,
  input: { email: string; projectId: string; why: string },
  by: RequestSource,
): Promise<void> {
  for (const row of await meta.listTokens(input.projectId)) {
    if (isConsoleTokenOf(row, input.email) && !row.revokedAt) await tokens.revoke(row.id, by, input.projectId, input.why);
  }
}

/** The current secret of a token, read back from the store (for bearer callers: their own token). */
export async function signingCredential(tokens: TokenService, accessKeyId: string): Promise<SigningCredential> {
  const resolved = await tokens.lookup(accessKeyId);
  if (!resolved) throw new Error(`no credential ${accessKeyId}`);
  return { tokenId: resolved.principal.tokenId, accessKeyId, secretAccessKey: resolved.secrets[0], expiresAt: resolved.expiresAt };
}
