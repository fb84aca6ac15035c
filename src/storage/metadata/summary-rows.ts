import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type ChecksumType } from '../../checksums/types.js';
import type { ChecksumSummary, ObjectSummary } from './metadata-store.js';

// Listing rows: a page decodes a thousand of them, so each costs as little as it can.

/** The columns a listing reads (never headers, metadata, tags or blob lists). */
export const SUMMARY_COLUMNS = ['key', 'size', 'etag', 'last_modified', 'storage_class', 'checksum'] as const;

export interface SummaryColumns {
  key: string;
  size: number | string | bigint;
  etag: string;
  last_modified: number | string | bigint;
  storage_class: string;
  checksum: string | null;
}

export function toObjectSummary(r: SummaryColumns): ObjectSummary {
  return {
    key: r.key,
    size: Number(r.size),
    etag: r.etag,
    lastModified: new Date(Number(r.last_modified)),
    storageClass: r.storage_class,
    checksum: checksumSummary(r.checksum),
  };
}

/** The same from the SUMMARY_COLUMNS values in order (a row read as an array). */
export function summaryFromValues(v: unknown[]): ObjectSummary {
  return {
    key: v[0] as string,
    size: Number(v[1]),
    etag: v[2] as string,
    lastModified: new Date(Number(v[3])),
    storageClass: v[4] as string,
    checksum: checksumSummary(v[5] as string | null),
  };
}

/** One shared, frozen summary per algorithm and type (there are ten). */
const SUMMARIES = new Map<string, ChecksumSummary>();
const TYPES: readonly string[] = ['FULL_OBJECT', 'COMPOSITE'];

/**
 * The algorithm and type of a stored checksum (JSON.stringify of a StoredChecksum). Parsing the
 * whole JSON of every key was a tenth of a page; a JSON string value holds no bare quote, so the
 * two fields are found by indexOf, and anything else (spaced JSON, say) is parsed in full.
 */
export function checksumSummary(json: string | null): ChecksumSummary | null {
  if (json === null) return null;
  const algorithm = stringField(json, '"algorithm":"');
  const type = stringField(json, '"type":"');
  if (algorithm !== undefined && type !== undefined) {
    const known = SUMMARIES.get(`${algorithm} ${type}`);
    if (known) return known;
  }
  const parsed = JSON.parse(json) as { algorithm: ChecksumAlgorithm; type: ChecksumType };
  const summary = Object.freeze({ algorithm: parsed.algorithm, type: parsed.type });
  if ((CHECKSUM_ALGORITHMS as readonly string[]).includes(summary.algorithm) && TYPES.includes(summary.type)) {
    SUMMARIES.set(`${summary.algorithm} ${summary.type}`, summary);
  }
  return summary;
}

function stringField(json: string, opening: string): string | undefined {
  const start = json.indexOf(opening);
  if (start < 0) return undefined;
  const from = start + opening.length;
  const end = json.indexOf('"', from);
  return end < 0 ? undefined : json.slice(from, end);
}
