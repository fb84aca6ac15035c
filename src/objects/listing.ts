import type { MetadataStore, ObjectSummary, ListedVersion } from '../storage/metadata/metadata-store.js';
import { prefixSuccessor } from '../storage/metadata/key-order.js';

// Listing with prefix, delimiter and a marker, in the order of UTF-8 key bytes. A common prefix
// whose keys do not fit in the read at hand is skipped with one index seek to its successor, so a
// page costs O(page), not O(bucket). Where common prefixes are more than a few keys each, the
// store walks the rest of the page in one statement, all of its seeks inside the database
// (MetadataStore.listDelimited); small ones are cheaper read through in batches.

export interface ListingRequest {
  prefix: string;
  delimiter: string;
  /** Return entries strictly after this key (a V1 marker, V2 start-after/continuation, a key-marker). */
  marker?: string;
  maxKeys: number;
  /**
   * Only keys under these prefixes (each starting with `prefix`, disjoint, in key order): what a
   * prefix-scoped token may see. Common prefixes are still cut at `prefix` + delimiter, so
   * folders above the allowed prefixes show as folders.
   */
  within?: readonly string[];
}

export interface ListingPage {
  contents: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page resumes. */
  last?: string;
}

/**
 * When a marker is itself a common prefix (the previous page ended on it), the key to resume from,
 * past all of it (null: nothing sorts after it); undefined when the marker is no common prefix.
 */
export function pastCommonPrefix(marker: string | undefined, prefix: string, delimiter: string): string | null | undefined {
  if (!delimiter || marker === undefined || !marker.startsWith(prefix) || !marker.endsWith(delimiter)) return undefined;
  if (marker.indexOf(delimiter, prefix.length) !== marker.length - delimiter.length) return undefined;
  return prefixSuccessor(marker);
}

/** How a page walk reads rows and keeps its position between them (walkRanges). */
interface RowSource<R> {
  /** Up to `limit` rows of `range` past the position: after the last row passed, or from `from`. */
  fetch(range: string, from: string | undefined, limit: number): Promise<R[]>;
  /** The position moves past this row. */
  passed(row: R): void;
  /** The position is `from` alone (a seek past a common prefix). */
  reseek(): void;
  /**
   * Up to `limit` entries of `range` (rows, and common prefixes as strings) from the position,
   * common prefixes walked past by the store, and where to read rows from when the walk stopped
   * short of them; null when the store cannot walk this listing.
   */
  walk?(range: string, from: string | undefined, limit: number): Promise<{ entries: Array<R | string>; resume?: string } | null>;
  /** True while the position is inside a key's rows, where a walk (which passes whole keys) cannot start. */
  midKey?(): boolean;
}

/** A read costs about as much as decoding this many rows (its SQL, a round trip, a promise). */
const READ_COST_IN_ROWS = 32;
/** The most rows one read takes when common prefixes are small. */
const MAX_BATCH = 5000;
/** The first read of a delimiter page, which tells how large its common prefixes are. */
const PROBE_ROWS = 64;
/**
 * Above this many rows per entry the store's walk is cheaper than reading the rows (a step of
 * the walk costs about as much as reading and decoding three rows).
 */
const WALK_ABOVE_ROWS_PER_ENTRY = 3;

/**
 * Rows to read for `wanted` more entries when each entry has taken `rowsPerEntry` rows so far:
 * enough to cover them where common prefixes are small (walking is cheapest), and a few where
 * they are large (then each common prefix costs one seek, not a read of all its keys).
 */
function batchSize(wanted: number, rowsPerEntry: number): number {
  if (rowsPerEntry > READ_COST_IN_ROWS) return Math.min(wanted, 8);
  return Math.min(Math.max(wanted, MAX_BATCH), Math.max(wanted, Math.ceil(wanted * rowsPerEntry)));
}

/**
 * Walks the ranges (the prefix, or a scoped token's prefixes within it) in key order with one
 * position carried across them, so a common prefix spanning several ranges is returned once.
 * Rows of a common prefix already returned are passed over within a read, and a read that ends
 * inside one is followed by a seek to its successor. Stops after `maxKeys` entries; true when
 * more remain.
 */
export async function walkRanges<R extends { key: string }>(
  ranges: readonly string[],
  req: { prefix: string; delimiter: string; maxKeys: number },
  start: string | undefined,
  source: RowSource<R>,
  emit: { row(row: R): void; commonPrefix(cp: string): void },
): Promise<boolean> {
  const { prefix, delimiter, maxKeys } = req;
  let from = start;
  let count = 0;
  let rowsPerEntry = 1;
  let canWalk = Boolean(delimiter && source.walk);
  let probed = !canWalk;
  for (const range of ranges) {
    // The common prefix returned last, while the rows read are still inside it.
    let inside: string | undefined;
    for (;;) {
      if (canWalk && rowsPerEntry > WALK_ABOVE_ROWS_PER_ENTRY && !source.midKey?.()) {
        // The rest of this range in one read; `from` and the source hold the position.
        const walked = await source.walk!(range, from, maxKeys - count + 1);
        if (walked !== null) {
          // The position after a common prefix is computed once, for the last one.
          let lastPrefix: string | undefined;
          for (const entry of walked.entries) {
            if (count === maxKeys) return true;
            count++;
            if (typeof entry === 'string') {
              emit.commonPrefix(entry);
              lastPrefix = entry;
            } else {
              emit.row(entry);
              source.passed(entry);
              lastPrefix = undefined;
              from = undefined;
            }
          }
          if (lastPrefix !== undefined) {
            const next = prefixSuccessor(lastPrefix);
            if (next === null) return false;
            from = next;
            source.reseek();
          }
          if (walked.resume === undefined) break;
          if (count === maxKeys) return true;
          // Rows from the key the walk stopped at, a few first (they tell whether to walk again).
          from = walked.resume;
          source.reseek();
          probed = false;
        } else canWalk = false;
      }
      let limit = batchSize(maxKeys - count + 1, rowsPerEntry);
      if (!probed) limit = Math.min(limit, PROBE_ROWS);
      probed = true;
      const rows = await source.fetch(range, from, limit);
      const before = count;
      for (const row of rows) {
        if (inside !== undefined && row.key.startsWith(inside)) continue;
        inside = undefined;
        if (count === maxKeys) return true;
        const idx = delimiter ? row.key.indexOf(delimiter, prefix.length) : -1;
        if (idx >= 0) {
          inside = row.key.slice(0, idx + delimiter.length);
          emit.commonPrefix(inside);
          count++;
          continue;
        }
        emit.row(row);
        source.passed(row);
        from = undefined;
        count++;
      }
      // A seek's few rows, all in one common prefix, say only that the prefix is large: keep seeking.
      const sought = rowsPerEntry > READ_COST_IN_ROWS && count - before <= 1;
      if (delimiter && rows.length > 0 && !sought) rowsPerEntry = Math.max(1, rows.length / Math.max(1, count - before));
      if (inside !== undefined) {
        // Past the rest of the common prefix: in this range, and in any later one it spans.
        const next = prefixSuccessor(inside);
        if (next === null) return false;
        from = next;
        source.reseek();
        inside = undefined;
      }
      if (rows.length < limit) break;
    }
  }
  return false;
}

export async function listPage(meta: MetadataStore, bucketId: string, req: ListingRequest): Promise<ListingPage> {
  const page: ListingPage = { contents: [], commonPrefixes: [], isTruncated: false };
  const { prefix, delimiter } = req;
  let after: string | undefined = req.marker;
  const past = pastCommonPrefix(after, prefix, delimiter);
  if (past === null) return page;
  if (past !== undefined) after = undefined;
  page.isTruncated = await walkRanges(
    req.within ?? [prefix],
    req,
    past,
    {
      fetch: (range, from, limit) => meta.listObjects(bucketId, { prefix: range, after, from, limit }),
      passed: (row) => (after = row.key),
      reseek: () => (after = undefined),
      walk: async (range, from, limit) => {
        const entries = await meta.listDelimited(bucketId, { range, prefix, delimiter, after, from, limit });
        return entries && { entries };
      },
    },
    {
      row: (row) => {
        page.contents.push(row);
        page.last = row.key;
      },
      commonPrefix: (cp) => {
        page.commonPrefixes.push(cp);
        page.last = cp;
      },
    },
  );
  return page;
}

export interface VersionListingRequest {
  prefix: string;
  delimiter: string;
  /** Resume after this key (or, with versionIdMarker, after that version of it). */
  keyMarker?: string;
  versionIdMarker?: string;
  /** The marker version's seq, when known (ListVersionsQuery.versionSeqMarker). */
  versionSeqMarker?: number;
  maxKeys: number;
  /** Only keys under these prefixes (ListingRequest.within: a prefix-scoped token's reach). */
  within?: readonly string[];
}

export interface VersionListingPage {
  versions: ListedVersion[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Where the next page resumes: the last version (key and version ID), or the last common prefix. */
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

/**
 * ListObjectVersions' paging over every version and delete marker: keys in UTF-8 byte order,
 * newest version first within a key, common prefixes rolled up and skipped with one seek each.
 */
export async function listVersionsPage(meta: MetadataStore, bucketId: string, req: VersionListingRequest): Promise<VersionListingPage> {
  const page: VersionListingPage = { versions: [], commonPrefixes: [], isTruncated: false };
  const { prefix, delimiter, maxKeys } = req;
  if (maxKeys <= 0) return page;
  let keyMarker = req.keyMarker;
  let versionIdMarker = keyMarker === undefined ? undefined : req.versionIdMarker;
  let versionSeqMarker = versionIdMarker === undefined ? undefined : req.versionSeqMarker;
  const past = versionIdMarker === undefined ? pastCommonPrefix(keyMarker, prefix, delimiter) : undefined;
  if (past === null) return page;
  if (past !== undefined) keyMarker = undefined;
  page.isTruncated = await walkRanges(
    req.within ?? [prefix],
    req,
    past,
    {
      fetch: (range, from, limit) => meta.listObjectVersions(bucketId, { prefix: range, keyMarker, versionIdMarker, versionSeqMarker, from, limit }),
      passed: (row) => {
        keyMarker = row.key;
        versionIdMarker = row.versionId;
        versionSeqMarker = row.seq;
      },
      reseek: () => {
        keyMarker = undefined;
        versionIdMarker = undefined;
        versionSeqMarker = undefined;
      },
      walk: async (range, from, limit) => {
        const walked = await meta.listVersionPrefixes(bucketId, { range, prefix, delimiter, after: keyMarker, from, limit });
        return walked && { entries: walked.commonPrefixes, resume: walked.resume };
      },
      midKey: () => versionIdMarker !== undefined,
    },
    {
      row: (row) => {
        page.versions.push(row);
        page.nextKeyMarker = row.key;
        page.nextVersionIdMarker = row.versionId;
      },
      commonPrefix: (cp) => {
        page.commonPrefixes.push(cp);
        page.nextKeyMarker = cp;
        page.nextVersionIdMarker = undefined;
      },
    },
  );
  return done(page);
}

/** A complete listing has no next markers. */
function done(page: VersionListingPage): VersionListingPage {
  if (!page.isTruncated) {
    page.nextKeyMarker = undefined;
    page.nextVersionIdMarker = undefined;
  }
  return page;
}

/**
 * A listing request without NUL characters, which no key holds (keys refuse them) and PostgreSQL
 * cannot even compare: a prefix with one matches nothing (null); a marker is cut before it (keys
 * after "a\0…" are the keys after "a"; a version or upload marker of that key names nothing); a
 * delimiter holding one never occurs in a key, so it groups nothing.
 */
export function withoutNul<R extends { prefix: string; delimiter: string; marker?: string; keyMarker?: string; versionIdMarker?: string; uploadIdMarker?: string }>(req: R): R | null {
  const cut = (s: string) => s.slice(0, s.indexOf('\0'));
  if (req.prefix.includes('\0')) return null;
  let out = req;
  if (req.delimiter.includes('\0')) out = { ...out, delimiter: '' };
  if (req.marker?.includes('\0')) out = { ...out, marker: cut(req.marker) };
  if (req.keyMarker?.includes('\0')) out = { ...out, keyMarker: cut(req.keyMarker), versionIdMarker: undefined, uploadIdMarker: undefined };
  else if (req.uploadIdMarker?.includes('\0')) out = { ...out, uploadIdMarker: cut(req.uploadIdMarker) };
  return out;
}
