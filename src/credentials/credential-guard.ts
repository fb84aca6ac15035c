import type { Principal } from '../auth/principal.js';
import { networkAllows } from '../auth/network.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import { DomainError } from '../util/domain-error.js';

// What a verified credential must still pass before its request is served, on S3 and REST alike:
// its token's network condition (the client address) and request-rate limit. Tokens without
// either pay nothing here. The rate counts live behind LimiterState, so nodes can share them.

/** A token used from an address outside its allowed networks. */
export class NetworkDenied extends DomainError {
  constructor(readonly address: string | undefined) {
    super('forbidden', `This token may not be used from ${address ?? 'an unknown address'}: the address is outside its allowed networks.`);
    this.name = 'NetworkDenied';
  }
}

/** A token over its request-rate limit: wait `retryAfterSeconds`. */
export class RateLimited extends DomainError {
  constructor(readonly retryAfterSeconds: number, limit: number) {
    super('rate-limited', `This token is limited to ${limit} requests a minute; retry in ${retryAfterSeconds} s.`);
    this.name = 'RateLimited';
  }
}

/** The window per-token limits count in: requests per minute. */
export const TOKEN_RATE_WINDOW_MS = 60_000;

export class CredentialGuard {
  constructor(
    /** Per-token request counts (its max is the token's own, given per call). */
    private readonly rates: RateLimiter,
    /** Told of each refused address, for the audit log (bounded by the caller). */
    private readonly onNetworkDenied: (principal: Principal, address: string | undefined) => void,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Throws NetworkDenied or RateLimited; otherwise counts the request against the token's limit. */
  async check(principal: Principal, address: string | undefined): Promise<void> {
    if (!networkAllows(principal.allowedNetworks, address)) {
      this.onNetworkDenied(principal, address);
      throw new NetworkDenied(address);
    }
    const limit = principal.rateLimit;
    if (!limit) return;
    const now = this.clock().getTime();
    // Temporary credentials count against the token they act for.
    if (await this.rates.allow(principal.tokenId, now, limit)) return;
    const waitMs = await this.rates.retryAfter(principal.tokenId, now, limit);
    throw new RateLimited(Math.max(1, Math.ceil(waitMs / 1000)), limit);
  }
}
