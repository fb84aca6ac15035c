import { randomBytes } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import { parseIsoInstant } from '../util/iso-time.js';

// Lifecycle rules (the bucket's 'lifecycle' setting): the model every protocol parses into, its
// validation (with AWS's error codes), and when a rule applies to an object, a version or an
// upload. Expiration days count as S3 counts them: from the object's time plus N days, rounded up
// to the next midnight UTC (the length of a "day" is a setting, so tests need not wait one).

export interface LifecycleFilter {
  /** '' for every key. */
  prefix: string;
  /** Every tag listed must be on the object with that value. */
  tags: Record<string, string>;
  sizeGreaterThan?: number;
  sizeLessThan?: number;
  /**
   * Written under <And> around a single predicate (or none): given back the same way, as S3
   * returns a configuration as stored. Absent, <And> is written around several predicates only
   * (rules stored before this flag read as they always did).
   */
  and?: boolean;
}

export interface LifecycleRule {
  id: string;
  status: 'Enabled' | 'Disabled';
  filter: LifecycleFilter;
  /** Written with the rule-level <Prefix> of the older API rather than <Filter>: given back the same way. */
  legacyPrefix?: boolean;
  expiration?: { days?: number; date?: string; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
}

export interface LifecycleConfig {
  rules: LifecycleRule[];
}

export const MAX_RULES = 1000;
const MAX_ID_LENGTH = 255;
export const DAY_MS = 86_400_000;

/**
 * The most days a rule may count: about 2,700 years. A count the date arithmetic could carry
 * past year 9999 would put a date no client can parse in x-amz-expiration and x-amz-abort-date
 * (the SDKs then fail the very upload they answer).
 */
export const MAX_RULE_DAYS = 1_000_000;

function positiveInteger(n: number | undefined, what: string): void {
  if (n === undefined) return;
  if (!Number.isSafeInteger(n) || n <= 0) throw new S3Error('InvalidArgument', `'${what}' must be a positive integer.`, { ArgumentName: what });
  if (n > MAX_RULE_DAYS) throw new S3Error('InvalidArgument', `'${what}' must be at most ${MAX_RULE_DAYS}.`, { ArgumentName: what });
}

/** Validates rules as S3 does, filling in missing IDs; throws S3Error with AWS's codes. */
export function validateRules(input: LifecycleRule[]): LifecycleRule[] {
  if (input.length === 0) throw new S3Error('MalformedXML', 'A lifecycle configuration needs at least one rule.');
  // A longer list breaks the schema's limit: S3 answers MalformedXML, as to any other shape it refuses.
  if (input.length > MAX_RULES) throw new S3Error('MalformedXML', `A lifecycle configuration may have at most ${MAX_RULES} rules.`);
  const ids = new Set<string>();
  return input.map((rule) => {
    const id = rule.id === '' ? randomBytes(12).toString('base64url') : rule.id;
    if (id.length > MAX_ID_LENGTH) throw new S3Error('InvalidArgument', `ID length should not exceed allowed limit of ${MAX_ID_LENGTH}`, { ArgumentName: 'ID', ArgumentValue: id.slice(0, 32) });
    if (ids.has(id)) throw new S3Error('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule', { ArgumentName: 'ID', ArgumentValue: id });
    ids.add(id);
    if (rule.status !== 'Enabled' && rule.status !== 'Disabled') throw new S3Error('MalformedXML', 'A rule Status must be Enabled or Disabled.');
    const { expiration: exp, noncurrentVersionExpiration: nve, abortIncompleteMultipartUpload: abort, filter } = rule;
    if (!exp && !nve && !abort) throw new S3Error('InvalidRequest', 'At least one action needs to be specified in a rule');
    const tagged = Object.keys(filter.tags).length > 0;
    const sized = filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined;
    if (exp) {
      const kinds = [exp.days !== undefined, exp.date !== undefined, exp.expiredObjectDeleteMarker !== undefined].filter(Boolean).length;
      if (kinds === 0) throw new S3Error('MalformedXML', 'Expiration needs Days, Date or ExpiredObjectDeleteMarker.');
      if (kinds > 1) {
        throw new S3Error(
          'MalformedXML',
          exp.expiredObjectDeleteMarker !== undefined
            ? 'ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy.'
            : 'Expiration takes either Days or Date, not both.',
        );
      }
      positiveInteger(exp.days, 'Days');
      if (exp.date !== undefined) checkMidnight(exp.date);
      if (exp.expiredObjectDeleteMarker && (tagged || sized)) {
        throw new S3Error('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with a tag or object size filter.');
      }
    }
    if (nve) {
      positiveInteger(nve.noncurrentDays, 'NoncurrentDays');
      if (nve.newerNoncurrentVersions !== undefined && (!Number.isSafeInteger(nve.newerNoncurrentVersions) || nve.newerNoncurrentVersions < 1 || nve.newerNoncurrentVersions > 100)) {
        throw new S3Error('InvalidArgument', "'NewerNoncurrentVersions' must be an integer from 1 to 100.", { ArgumentName: 'NewerNoncurrentVersions' });
      }
    }
    if (abort) {
      positiveInteger(abort.daysAfterInitiation, 'DaysAfterInitiation');
      if (tagged || sized) throw new S3Error('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with a tag or object size filter.');
    }
    for (const [what, n] of [['ObjectSizeGreaterThan', filter.sizeGreaterThan], ['ObjectSizeLessThan', filter.sizeLessThan]] as const) {
      if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new S3Error('InvalidArgument', `'${what}' must be a non-negative integer.`, { ArgumentName: what });
    }
    if (filter.sizeGreaterThan !== undefined && filter.sizeLessThan !== undefined && filter.sizeLessThan <= filter.sizeGreaterThan) {
      throw new S3Error('InvalidRequest', 'ObjectSizeLessThan must be greater than ObjectSizeGreaterThan.');
    }
    if (Object.keys(filter.tags).length > 10) throw new S3Error('InvalidRequest', 'A filter may have at most 10 tags.');
    return { ...rule, id };
  });
}

/**
 * The time of an ISO 8601 expiration date (a date-time without a zone is UTC, as to S3); NaN for
 * anything else, so that no typo can name a date in the past and expire a bucket at once.
 */
export function expirationTime(date: string): number {
  return parseIsoInstant(date)?.getTime() ?? NaN;
}

/** S3 takes expiration dates at midnight UTC only. */
function checkMidnight(date: string): void {
  const t = expirationTime(date);
  if (Number.isNaN(t)) throw new S3Error('MalformedXML', `'Date' ${date} is not an ISO 8601 date.`);
  if (t % DAY_MS !== 0) throw new S3Error('InvalidArgument', "'Date' must be at midnight GMT", { ArgumentName: 'Date', ArgumentValue: date });
}

export interface Candidate {
  key: string;
  size: number;
  tags: Record<string, string>;
}

export function ruleMatches(rule: LifecycleRule, c: Candidate): boolean {
  const f = rule.filter;
  if (rule.status !== 'Enabled' || !c.key.startsWith(f.prefix)) return false;
  if (f.sizeGreaterThan !== undefined && !(c.size > f.sizeGreaterThan)) return false;
  if (f.sizeLessThan !== undefined && !(c.size < f.sizeLessThan)) return false;
  return Object.entries(f.tags).every(([k, v]) => c.tags[k] === v);
}

/** `from` plus `days` lifecycle days, rounded up to the start of the next lifecycle day. */
export function dueAt(from: Date, days: number, dayMs = DAY_MS): number {
  const t = from.getTime() + days * dayMs;
  return Math.ceil(t / dayMs) * dayMs;
}

/** When the rule expires a current object last modified then (ms); undefined when it expires none by age or date. */
export function expiresAt(rule: LifecycleRule, lastModified: Date, dayMs = DAY_MS): number | undefined {
  const e = rule.expiration;
  if (e?.days !== undefined) return dueAt(lastModified, e.days, dayMs);
  if (e?.date !== undefined) return expirationTime(e.date);
  return undefined;
}

/** Whether a current object is due to expire under the rule at `now`. */
export function currentExpires(rule: LifecycleRule, lastModified: Date, now: Date, dayMs = DAY_MS): boolean {
  const at = expiresAt(rule, lastModified, dayMs);
  return at !== undefined && now.getTime() >= at;
}

/**
 * Whether the rule removes a delete marker that is all that is left of its key (an expired object
 * delete marker) at `now`: ExpiredObjectDeleteMarker does at once; a rule that expires current
 * objects by Days or Date does too, once the marker is as old as the rule lets a current version
 * be (S3 removes such markers when "the lifecycle configuration is set to delete current versions").
 */
export function removesExpiredDeleteMarker(rule: LifecycleRule, markerTime: Date, now: Date, dayMs = DAY_MS): boolean {
  return rule.expiration?.expiredObjectDeleteMarker === true || currentExpires(rule, markerTime, now, dayMs);
}
