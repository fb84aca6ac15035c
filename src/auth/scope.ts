import { compareUtf8 } from '../storage/metadata/key-order.js';

// A token's scope: null for every bucket, or a list of entries, each a whole bucket ("photos") or
// a key prefix in one ("photos/2024/"), as Backblaze B2 application keys name a bucket and a
// prefix. Bucket names cannot contain "/", so the first "/" separates the two. Pure functions.

export interface ScopeEntry {
  bucket: string;
  /** null: the whole bucket. */
  prefix: string | null;
}

/** How far a scope reaches into one bucket: all of it, none of it, or the keys under these prefixes. */
export type Reach = 'bucket' | 'none' | readonly string[];

const MAX_PREFIX_BYTES = 1024;
/** Entries a scope may hold: the overlap check compares every pair, so the list is bounded. */
export const MAX_SCOPE_ENTRIES = 1000;

export function parseEntry(text: string): ScopeEntry {
  const slash = text.indexOf('/');
  return slash < 0 ? { bucket: text, prefix: null } : { bucket: text.slice(0, slash), prefix: text.slice(slash + 1) };
}

export function formatEntry(e: ScopeEntry): string {
  return e.prefix === null ? e.bucket : `${e.bucket}/${e.prefix}`;
}

/** Whether `outer` includes everything `inner` names. */
export function covers(outer: ScopeEntry, inner: ScopeEntry): boolean {
  if (outer.bucket !== inner.bucket) return false;
  if (outer.prefix === null) return true;
  return inner.prefix !== null && inner.prefix.startsWith(outer.prefix);
}

/**
 * What is wrong with a list of scope entries, or null: more than MAX_SCOPE_ENTRIES, an entry without a bucket, an empty
 * prefix ("photos/" names no prefix: use "photos" for the whole bucket), a prefix over 1024
 * bytes, or two entries of which one includes the other.
 */
export function scopeProblem(entries: readonly string[]): string | null {
  if (entries.length > MAX_SCOPE_ENTRIES) return `A bucket scope holds at most ${MAX_SCOPE_ENTRIES} entries.`;
  const parsed = entries.map(parseEntry);
  for (const [i, e] of parsed.entries()) {
    if (e.bucket === '') return `Scope entry "${entries[i]}" names no bucket.`;
    if (e.prefix === '') return `Scope entry "${entries[i]}" has an empty prefix: name the whole bucket as "${e.bucket}", or a prefix after the "/".`;
    if (e.prefix !== null && Buffer.byteLength(e.prefix, 'utf8') > MAX_PREFIX_BYTES) return `The prefix of scope entry "${entries[i].slice(0, 40)}..." is longer than ${MAX_PREFIX_BYTES} bytes.`;
    if (e.prefix !== null && e.prefix.includes('\u0000')) return `Scope entry "${entries[i]}" contains NUL.`;
  }
  for (let i = 0; i < parsed.length; i++) {
    for (let j = i + 1; j < parsed.length; j++) {
      if (covers(parsed[i], parsed[j]) || covers(parsed[j], parsed[i])) {
        return `Scope entries "${entries[i]}" and "${entries[j]}" overlap: keep only the wider one.`;
      }
    }
  }
  return null;
}

/** The buckets a scope names (in order, once each). */
export function scopeBuckets(entries: readonly string[]): string[] {
  return [...new Set(entries.map((e) => parseEntry(e).bucket))];
}

/**
 * How far a scope reaches into `bucket`. The common cases (every bucket; a whole bucket named)
 * allocate nothing.
 */
export function reachOf(scope: readonly string[] | null, bucket: string): Reach {
  if (scope === null) return 'bucket';
  let prefixes: string[] | undefined;
  for (const entry of scope) {
    if (entry === bucket) return 'bucket';
    if (entry.length > bucket.length && entry.charCodeAt(bucket.length) === 47 /* / */ && entry.startsWith(bucket)) {
      (prefixes ??= []).push(entry.slice(bucket.length + 1));
    }
  }
  return prefixes ?? 'none';
}

export function keyInReach(reach: Reach, key: string): boolean {
  if (reach === 'bucket') return true;
  if (reach === 'none') return false;
  return reach.some((p) => key.startsWith(p));
}

/**
 * The key ranges a listing under `prefix` may show: null when the reach covers all of the
 * listing (no filtering), else the reach's prefixes that lie under `prefix`, in key order (empty:
 * the listing is outside the reach).
 */
export function listingRanges(reach: Reach, prefix: string): string[] | null {
  if (reach === 'bucket') return null;
  if (reach === 'none') return [];
  if (reach.some((p) => prefix.startsWith(p))) return null;
  return reach.filter((p) => p.startsWith(prefix)).sort(compareUtf8);
}

/**
 * For a listing of `bucket` under `prefix` by a credential with this scope: the prefixes to limit
 * it to, or undefined when it may see the whole listing.
 */
export function listingLimit(scope: readonly string[] | null | undefined, bucket: string, prefix: string): string[] | undefined {
  if (scope === undefined || scope === null) return undefined;
  return listingRanges(reachOf(scope, bucket), prefix) ?? undefined;
}

/** The entries of `child` that `parent` does not include (empty: child is within parent). */
export function outside(child: readonly string[] | null, parent: readonly string[] | null): string[] {
  if (parent === null) return [];
  if (child === null) return ['all buckets'];
  const outer = parent.map(parseEntry);
  return child.filter((c) => {
    const e = parseEntry(c);
    return !outer.some((o) => covers(o, e));
  });
}

/**
 * The part of `wanted` that `allowed` includes: each wanted entry within an allowed one, and each
 * allowed entry within a wanted one (the narrower of every overlapping pair). null only when both
 * are null (every bucket).
 */
export function intersect(wanted: readonly string[] | null, allowed: readonly string[] | null): string[] | null {
  if (wanted === null) return allowed === null ? null : [...allowed];
  if (allowed === null) return [...wanted];
  const out = new Set<string>();
  const a = allowed.map(parseEntry);
  for (const w of wanted.map(parseEntry)) {
    for (const x of a) {
      if (covers(x, w)) out.add(formatEntry(w));
      else if (covers(w, x)) out.add(formatEntry(x));
    }
  }
  // Drop entries another kept entry already includes.
  const kept = [...out].map(parseEntry);
  return kept.filter((e, i) => !kept.some((o, j) => j !== i && covers(o, e) && !(covers(e, o) && j > i))).map(formatEntry);
}
