// Who a request acts as, once its signature (or bearer token) has been verified.

export const PERMISSION_LEVELS = ['admin-rw', 'admin-ro', 'object-rw', 'object-ro'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

export const PERMISSION_LABELS: Record<PermissionLevel, string> = {
  'admin-rw': 'Admin Read & Write',
  'admin-ro': 'Admin Read only',
  'object-rw': 'Object Read & Write',
  'object-ro': 'Object Read only',
};

export interface Principal {
  /** The access key ID the request was signed with (or the token's, for bearer requests). */
  accessKeyId: string;
  /** The project whose buckets the credential sees. */
  projectId: string;
  /** The token behind the credential. */
  tokenId: string;
  permission: PermissionLevel;
  /**
   * Scope entries the token may use, each a bucket name or a bucket/prefix (src/auth/scope.ts), or
   * null for every bucket (including ones created later).
   */
  bucketScope: string[] | null;
  /** May read the project's usage. */
  billing: boolean;
  /** Addresses and CIDR networks the credential may be used from; null or absent: anywhere. */
  allowedNetworks?: readonly string[] | null;
  /** Requests per minute the token may make (temporary credentials count against their token); null or absent: no limit. */
  rateLimit?: number | null;
  /** Set for temporary credentials: their id (tokenId is then the token they act for). */
  temporaryId?: string;
  /** Set for temporary credentials: the access key ID of the token they act for (bucket policies name it). */
  tokenAccessKeyId?: string;
}

/** Why a known credential does not work right now. */
export type CredentialState = 'active' | 'expired' | 'revoked' | 'disabled';

export interface ResolvedCredential {
  /**
   * Secrets that currently verify signatures for this access key ID. More than one while a
   * rotation is pending (old and new both work until it is confirmed or its grace ends).
   */
  secrets: string[];
  principal: Principal;
  /** Checked after the signature, so only a key's holder learns its state. */
  state: CredentialState;
  expiresAt: Date | null;
  /**
   * Temporary credentials: the SHA-256 (hex) of their session token, which every request must
   * carry (x-amz-security-token). Absent for a token's own keys, which must carry none.
   */
  sessionTokenHash?: string;
}

/** access key ID -> secret(s) + principal. SigV4 knows only this interface. */
export interface CredentialLookup {
  lookup(accessKeyId: string): Promise<ResolvedCredential | null>;
  /** Called once a request's signature has verified (for last-used-at, audit). */
  recordUse?(principal: Principal): void;
  /** Called when authentication fails for a known or unknown key (for the audit log). */
  recordFailure?(accessKeyId: string, reason: string, source: string | undefined): void;
}
