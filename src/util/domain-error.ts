// Errors raised by services (no HTTP here). Each protocol maps the kind to its own wire form:
// the REST API to a problem+json status, the CLI to a message and exit code.

export type DomainErrorKind = 'invalid-argument' | 'not-found' | 'conflict' | 'forbidden' | 'unauthenticated' | 'rate-limited';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** The input field at fault, for invalid-argument. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
