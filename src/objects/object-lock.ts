import { S3Error } from '../s3/errors.js';
import type { LegalHold, ObjectVersionRow, RemovalGuard, Retention, RetentionMode } from '../storage/metadata/metadata-store.js';

// Object Lock rules (WORM), as S3 applies them. A version is locked while a legal hold is on or
// its retain-until date is ahead. COMPLIANCE retention binds everyone: it can be extended, never
// shortened or removed. GOVERNANCE retention binds too, except for a caller allowed to bypass it
// (admin-rw tokens, sending x-amz-bypass-governance-retention: true).

export const RETENTION_MODES: readonly RetentionMode[] = ['GOVERNANCE', 'COMPLIANCE'];

/** A bucket's Object Lock configuration (the 'object-lock' setting). */
export interface ObjectLockConfig {
  enabled: true;
  defaultRetention: { mode: RetentionMode; days?: number; years?: number } | null;
}

export interface LockState {
  retention: Retention | null;
  legalHold: LegalHold;
}

const DAY_MS = 86_400_000;
/** AWS's limits on a default retention period. */
export const MAX_RETENTION_DAYS = 36_500;
export const MAX_RETENTION_YEARS = 100;

function active(r: Retention | null | undefined, now: Date): r is Retention {
  return !!r && r.until.getTime() > now.getTime();
}

/** Why a version may not be removed now, or null when it may. */
export function removalBlocked(v: Pick<ObjectVersionRow, 'retention' | 'legalHold'>, now: Date, bypassGovernance: boolean): string | null {
  if (v.legalHold) return 'a legal hold is on this object version';
  if (active(v.retention, now) && (v.retention.mode === 'COMPLIANCE' || !bypassGovernance)) {
    return `this object version is under ${v.retention.mode} retention until ${v.retention.until.toISOString()}`;
  }
  return null;
}

/** The store's guard for removing versions now (for overwrites and lifecycle: no bypass). */
export function removalGuard(now: Date, bypassGovernance = false): RemovalGuard {
  return (v) => removalBlocked(v, now, bypassGovernance) === null;
}

/** Whether removing `v` now works only because governance retention is bypassed (to audit that). */
export function bypassesGovernance(v: Pick<ObjectVersionRow, 'retention' | 'legalHold'>, now: Date): boolean {
  return !v.legalHold && active(v.retention, now) && v.retention.mode === 'GOVERNANCE';
}

/**
 * Checks a change of retention. Throws AccessDenied when it would weaken an active retention
 * the caller may not weaken; returns whether it needed the governance bypass.
 */
export function checkRetentionChange(current: Retention | null, next: Retention | null, now: Date, bypassGovernance: boolean): { bypassed: boolean } {
  if (!active(current, now)) return { bypassed: false };
  const keepsOrExtends = next !== null && next.until.getTime() >= current.until.getTime();
  if (current.mode === 'COMPLIANCE') {
    if (keepsOrExtends && next.mode === 'COMPLIANCE') return { bypassed: false };
    throw new S3Error('AccessDenied', 'COMPLIANCE retention can be extended, never shortened, removed or relaxed.');
  }
  // Turning GOVERNANCE into COMPLIANCE takes away the bypass for good: a change only a bypass may make.
  if (keepsOrExtends && next.mode === 'GOVERNANCE') return { bypassed: false };
  if (!bypassGovernance) {
    throw new S3Error('AccessDenied', 'Shortening, removing or changing the mode of GOVERNANCE retention needs x-amz-bypass-governance-retention: true and an admin-rw token.');
  }
  return { bypassed: true };
}

/** The retention a new version gets from the bucket's default, or null. */
export function defaultRetention(config: ObjectLockConfig | null, now: Date): Retention | null {
  const d = config?.defaultRetention;
  if (!d) return null;
  if (d.days !== undefined) return { mode: d.mode, until: new Date(now.getTime() + d.days * DAY_MS) };
  const until = new Date(now);
  until.setUTCFullYear(until.getUTCFullYear() + (d.years ?? 0));
  return { mode: d.mode, until };
}

/** A new version's lock state: what its write asked for; a retention not asked for is the bucket's default from `now`. */
export function newVersionLock(config: ObjectLockConfig | null, requested: Partial<LockState> | undefined, now: Date): LockState {
  return {
    retention: requested?.retention !== undefined ? requested.retention : defaultRetention(config, now),
    legalHold: requested?.legalHold ?? null,
  };
}

/** A retain-until date for a new retention: it must lie ahead. */
export function checkRetainUntil(until: Date, now: Date): void {
  if (Number.isNaN(until.getTime())) throw new S3Error('InvalidArgument', 'The retain until date is not a valid date.', { ArgumentName: 'RetainUntilDate' });
  if (until.getTime() <= now.getTime()) throw new S3Error('InvalidArgument', 'The retain until date must be in the future!', { ArgumentName: 'RetainUntilDate' });
}
