import type { MetadataStore, ObjectSummary } from '../storage/metadata/metadata-store.js';
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

export async function listPage(meta: MetadataStore, bucketId: string, req: ListingRequest): Promise<ListingPage> {
  const page: ListingPage = { contents: [], commonPrefixes: [], isTruncated: false };
  const { prefix, delimiter, maxKeys } = req;
  let after: string | undefined = req.marker;
  let from: string | undefined;
  // A marker that is itself a common prefix (the previous page ended on it) resumes past all of it.
  if (delimiter && after !== undefined && after.startsWith(prefix) && after.endsWith(delimiter) &&
      after.indexOf(delimiter, prefix.length) === after.length - delimiter.length) {
    const next = prefixSuccessor(after);
    if (next === null) return page;
    from = next;
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
