import type { MetadataStore, ObjectSummary, ObjectVersionRow } from '../storage/metadata/metadata-store.js';
import { prefixSuccessor } from '../storage/metadata/key-order.js';

// Listing with prefix, delimiter and a marker, in the order of UTF-8 key bytes. Each common
// prefix is skipped with one index seek to its successor, so a page costs O(page), not O(bucket).

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
function pastCommonPrefix(marker: string | undefined, prefix: string, delimiter: string): string | null | undefined {
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
}

/**
 * Walks the ranges (the prefix, or a scoped token's prefixes within it) in key order with one
 * position carried across them, so a common prefix spanning several ranges is returned once;
 * each common prefix is skipped with one seek to its successor. Stops after `maxKeys` entries;
 * true when more remain.
 */
async function walkRanges<R extends { key: string }>(
  ranges: readonly string[],
  req: { prefix: string; delimiter: string; maxKeys: number },
  start: string | undefined,
  source: RowSource<R>,
  emit: { row(row: R): void; commonPrefix(cp: string): void },
): Promise<boolean> {
  const { prefix, delimiter, maxKeys } = req;
  let from = start;
  let count = 0;
  for (const range of ranges) {
    for (;;) {
      const limit = maxKeys - count + 1;
      const rows = await source.fetch(range, from, limit);
      let reseek = false;
      for (const row of rows) {
        if (count === maxKeys) return true;
        const idx = delimiter ? row.key.indexOf(delimiter, prefix.length) : -1;
        if (idx >= 0) {
          const cp = row.key.slice(0, idx + delimiter.length);
          emit.commonPrefix(cp);
          count++;
          const next = prefixSuccessor(cp);
          if (next === null) return false;
          from = next;
          source.reseek();
          reseek = true;
          break;
        }
        emit.row(row);
        source.passed(row);
        from = undefined;
        count++;
      }
      if (!reseek && rows.length < limit) break;
      if (count === maxKeys && !reseek && rows.length === limit) return true;
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
  maxKeys: number;
  /** Only keys under these prefixes (ListingRequest.within: a prefix-scoped token's reach). */
  within?: readonly string[];
}

export interface VersionListingPage {
  versions: ObjectVersionRow[];
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
  const past = versionIdMarker === undefined ? pastCommonPrefix(keyMarker, prefix, delimiter) : undefined;
  if (past === null) return page;
  if (past !== undefined) keyMarker = undefined;
  page.isTruncated = await walkRanges(
    req.within ?? [prefix],
    req,
    past,
    {
      fetch: (range, from, limit) => meta.listObjectVersions(bucketId, { prefix: range, keyMarker, versionIdMarker, from, limit }),
      passed: (row) => {
        keyMarker = row.key;
        versionIdMarker = row.versionId;
      },
      reseek: () => {
        keyMarker = undefined;
        versionIdMarker = undefined;
      },
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
