// Errors raised by services (no HTTP here). Each protocol maps the kind to its own wire form:
// the REST API to a problem+json status, the CLI to a message and exit code.

export type DomainErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'conflict'
  | 'forbidden'
  | 'unauthenticated'
  | 'rate-limited'
  /** A well-formed request beyond a limit the caller has (a token's lifetime, say); the message names the limit. */
  | 'limit-exceeded'
  /** The storage has no room left (a full disk); retrying after space is freed succeeds. */
  | 'storage-full';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** The input field at fault, for invalid-argument and limit-exceeded. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
