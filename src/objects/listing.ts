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

export async function listPage(meta: MetadataStore, bucketId: string, req: ListingRequest): Promise<ListingPage> {
  const page: ListingPage = { contents: [], commonPrefixes: [], isTruncated: false };
  const { prefix, delimiter, maxKeys } = req;
  let after: string | undefined = req.marker;
  let from: string | undefined;
  const past = pastCommonPrefix(after, prefix, delimiter);
  if (past === null) return page;
  if (past !== undefined) {
    from = past;
    after = undefined;
  }
  let count = 0;
  // The ranges are walked in key order with one position (after/from) carried across them, so a
  // common prefix that spans several ranges is returned once.
  for (const range of req.within ?? [prefix]) {
    for (;;) {
      const limit = maxKeys - count + 1;
      const rows = await meta.listObjects(bucketId, { prefix: range, after, from, limit });
      let reseek = false;
      for (const row of rows) {
        if (count === maxKeys) {
          page.isTruncated = true;
          return page;
        }
        const idx = delimiter ? row.key.indexOf(delimiter, prefix.length) : -1;
        if (idx >= 0) {
          const cp = row.key.slice(0, idx + delimiter.length);
          page.commonPrefixes.push(cp);
          page.last = cp;
          count++;
          const next = prefixSuccessor(cp);
          if (next === null) return page;
          from = next;
          after = undefined;
          reseek = true;
          break;
        }
        page.contents.push(row);
        page.last = row.key;
        after = row.key;
        from = undefined;
        count++;
      }
      if (!reseek && rows.length < limit) break;
      if (count === maxKeys && !reseek && rows.length === limit) {
        page.isTruncated = true;
        return page;
      }
    }
  }
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
  let from: string | undefined;
  const past = versionIdMarker === undefined ? pastCommonPrefix(keyMarker, prefix, delimiter) : undefined;
  if (past === null) return page;
  if (past !== undefined) {
    from = past;
    keyMarker = undefined;
  }
  let count = 0;
  const mark = (key: string, versionId?: string) => {
    page.nextKeyMarker = key;
    page.nextVersionIdMarker = versionId;
  };
  // The ranges are walked in key order with one position carried across them, as in listPage.
  for (const range of req.within ?? [prefix]) {
    for (;;) {
      const limit = maxKeys - count + 1;
      const rows = await meta.listObjectVersions(bucketId, { prefix: range, keyMarker, versionIdMarker, from, limit });
      let reseek = false;
      for (const row of rows) {
        if (count === maxKeys) {
          page.isTruncated = true;
          return page;
        }
        const idx = delimiter ? row.key.indexOf(delimiter, prefix.length) : -1;
        if (idx >= 0) {
          const cp = row.key.slice(0, idx + delimiter.length);
          page.commonPrefixes.push(cp);
          mark(cp);
          count++;
          const next = prefixSuccessor(cp);
          if (next === null) return done(page);
          from = next;
          keyMarker = undefined;
          versionIdMarker = undefined;
          reseek = true;
          break;
        }
        page.versions.push(row);
        mark(row.key, row.versionId);
        keyMarker = row.key;
        versionIdMarker = row.versionId;
        from = undefined;
        count++;
      }
      if (!reseek && rows.length < limit) break;
      if (count === maxKeys && !reseek && rows.length === limit) {
        page.isTruncated = true;
        return page;
      }
    }
  }
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
