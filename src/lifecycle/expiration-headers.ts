import type { BucketRow } from '../storage/metadata/metadata-store.js';
import { DAY_MS, dueAt, expiresAt, ruleMatches, type LifecycleConfig, type LifecycleRule } from './rules.js';

// What S3 tells a client about the bucket's lifecycle rules on each object it reads or writes:
// x-amz-expiration (when a rule will expire the current object, and which rule), and for a
// multipart upload x-amz-abort-date / x-amz-abort-rule-id (when a rule will abort it). Dates
// follow the worker's day length, so they say when it will act. A rule ID is any text of up to 255
// characters, which a header cannot carry as it is (a newline, a character outside ISO-8859-1): it
// goes URL-encoded in both headers, as S3 sends x-amz-expiration's rule-id. Sent raw, such an ID
// made Node.js throw while the response was written, after CreateMultipartUpload had committed.

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

/** A rule ID as a header carries it. */
function headerRuleId(id: string): string {
  return encodeURIComponent(id);
}

/** The object as the rules see it. */
export interface ExpiringObject {
  key: string;
  size: number;
  tags: Record<string, string>;
  lastModified: Date;
}

/** The enabled rule that acts first on what `due` dates (undefined: the rule does not act on it), and when. */
function earliest(bucket: BucketRow, due: (rule: LifecycleRule) => number | undefined): { at: number; id: string } | undefined {
  let first: { at: number; id: string } | undefined;
  for (const rule of rulesOf(bucket)) {
    const at = due(rule);
    if (at !== undefined && (!first || at < first.at)) first = { at, id: rule.id };
  }
  return first;
}

/** x-amz-expiration for a current object: the earliest expiration any rule sets for it; none when no rule does. */
export function expirationHeaders(bucket: BucketRow, object: ExpiringObject, dayMs = DAY_MS): Readonly<Record<string, string>> {
  const first = earliest(bucket, (rule) => (ruleMatches(rule, object) ? expiresAt(rule, object.lastModified, dayMs) : undefined));
  if (!first) return NO_HEADERS;
  return { 'x-amz-expiration': `expiry-date="${new Date(first.at).toUTCString()}", rule-id="${headerRuleId(first.id)}"` };
}

/** x-amz-abort-date and x-amz-abort-rule-id for a multipart upload a rule will abort (the earliest). */
export function abortHeaders(bucket: BucketRow, upload: { key: string; initiated: Date }, dayMs = DAY_MS): Readonly<Record<string, string>> {
  const first = earliest(bucket, (rule) => {
    const abort = rule.abortIncompleteMultipartUpload;
    return abort && ruleMatches(rule, { key: upload.key, size: 0, tags: {} }) ? dueAt(upload.initiated, abort.daysAfterInitiation, dayMs) : undefined;
  });
  if (!first) return NO_HEADERS;
  return { 'x-amz-abort-date': new Date(first.at).toUTCString(), 'x-amz-abort-rule-id': headerRuleId(first.id) };
}
