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

/**
 * The algorithm and type of a stored checksum. Parsing the JSON of every key was a tenth of a
 * page: a checksum written by JSON.stringify({ algorithm, type, value }) starts with one of ten
 * texts, each mapped to a shared frozen summary and matched without allocating; anything else
 * (another field order, spacing) is parsed in full.
 */
export function checksumSummary(json: string | null): ChecksumSummary | null {
  if (json === null) return null;
  for (let i = 0; i < KNOWN.length; i++) {
    const known = KNOWN[i];
    if (json.startsWith(known.opening)) {
      // The hit moves to the front: a bucket's keys mostly share one algorithm.
      if (i > 0) KNOWN.unshift(...KNOWN.splice(i, 1));
      return known.summary;
    }
  }
  const parsed = JSON.parse(json) as { algorithm: ChecksumAlgorithm; type: ChecksumType };
  return KNOWN.find((k) => k.summary.algorithm === parsed.algorithm && k.summary.type === parsed.type)?.summary ?? Object.freeze({ algorithm: parsed.algorithm, type: parsed.type });
}

const KNOWN = CHECKSUM_ALGORITHMS.flatMap((algorithm) =>
  (['FULL_OBJECT', 'COMPOSITE'] as const).map((type) => ({
    opening: JSON.stringify({ algorithm, type, value: '' }).slice(0, -'"value":""}'.length),
    summary: Object.freeze({ algorithm, type }) as ChecksumSummary,
  })),
);
