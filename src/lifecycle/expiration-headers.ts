import type { BucketRow } from '../storage/metadata/metadata-store.js';
import { DAY_MS, dueAt, expirationTime, ruleMatches, type LifecycleConfig, type LifecycleRule } from './rules.js';

// What S3 tells a client about the bucket's lifecycle rules on each object it reads or writes:
// x-amz-expiration (when a rule will expire the current object, and which rule), and for a
// multipart upload x-amz-abort-date / x-amz-abort-rule-id (when a rule will abort it). Dates
// follow the worker's day length, so they say when it will act.

const NONE: readonly LifecycleRule[] = [];
/** What a bucket without rules adds to every response: nothing, allocated once. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** Parsed rules by their stored text: a bucket's rules are parsed once, not on every GET. */
const parsed = new Map<string, readonly LifecycleRule[]>();
const MAX_CACHED = 1000;

function rulesOf(bucket: BucketRow): readonly LifecycleRule[] {
  const text = bucket.settings?.lifecycle;
  if (text === undefined) return NONE;
  let rules = parsed.get(text);
  if (!rules) {
    rules = (JSON.parse(text) as LifecycleConfig).rules.filter((r) => r.status === 'Enabled');
    if (parsed.size >= MAX_CACHED) parsed.clear();
    parsed.set(text, rules);
  }
  return rules;
}

/** The object as the rules see it. */
export interface ExpiringObject {
  key: string;
  size: number;
  tags: Record<string, string>;
  lastModified: Date;
}

/** x-amz-expiration for a current object: the earliest expiration any rule sets for it; none when no rule does. */
export function expirationHeaders(bucket: BucketRow, object: ExpiringObject, dayMs = DAY_MS): Readonly<Record<string, string>> {
  let earliest: { at: number; id: string } | undefined;
  for (const rule of rulesOf(bucket)) {
    const e = rule.expiration;
    if (!e || (e.days === undefined && e.date === undefined) || !ruleMatches(rule, object)) continue;
    const at = e.days !== undefined ? dueAt(object.lastModified, e.days, dayMs) : expirationTime(e.date!);
    if (!earliest || at < earliest.at) earliest = { at, id: rule.id };
  }
  if (!earliest) return NO_HEADERS;
  return { 'x-amz-expiration': `expiry-date="${new Date(earliest.at).toUTCString()}", rule-id="${encodeURIComponent(earliest.id)}"` };
}

/** x-amz-abort-date and x-amz-abort-rule-id for a multipart upload a rule will abort (the earliest). */
export function abortHeaders(bucket: BucketRow, upload: { key: string; initiated: Date }, dayMs = DAY_MS): Readonly<Record<string, string>> {
  let earliest: { at: number; id: string } | undefined;
  for (const rule of rulesOf(bucket)) {
    const abort = rule.abortIncompleteMultipartUpload;
    if (!abort || !ruleMatches(rule, { key: upload.key, size: 0, tags: {} })) continue;
    const at = dueAt(upload.initiated, abort.daysAfterInitiation, dayMs);
    if (!earliest || at < earliest.at) earliest = { at, id: rule.id };
  }
  if (!earliest) return NO_HEADERS;
  return { 'x-amz-abort-date': new Date(earliest.at).toUTCString(), 'x-amz-abort-rule-id': earliest.id };
}
