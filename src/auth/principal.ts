// Who a request acts as, once its signature (or bearer token) has been verified.

export interface Principal {
  /** The access key ID the request was signed with. */
  accessKeyId: string;
  /** The project whose buckets the credential sees. */
  projectId: string;
  /** The token behind the credential; null for the bootstrap credential. */
  tokenId: string | null;
}

export interface ResolvedCredential {
  /**
   * Secrets that currently verify signatures for this access key ID. More than one while a
   * rotation is pending (old and new both work until it is confirmed).
   */
  secrets: string[];
  principal: Principal;
}

/** access key ID -> secret(s) + principal. SigV4 knows only this interface. */
export interface CredentialLookup {
  lookup(accessKeyId: string): Promise<ResolvedCredential | null>;
}
