import type { BlobStore } from '../storage/blob/blob-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';

// The orphan sweep of the embedded default (SQLite and a local folder, no blob ledger): removes
// blobs no row refers to, which is what a crash between writing a blob and committing its row
// leaves. It walks the folder's listing and asks the metadata about a batch of old enough blobs at
// a time (MetadataStore.snapshotBlobReferences), so its memory is a batch, not every ref.

/** Blobs asked about (and deleted) per step. */
export const ORPHAN_BATCH = 500;

export interface OrphanSweep {
  meta: MetadataStore;
  blobs: BlobStore;
  /** A blob being read: its deferred release deletes it when the read closes. */
  isPinned(ref: string): boolean;
  /** Only blobs last written longer ago than this: a PUT in flight has written its blob but not yet committed the row. */
  minAgeMs: number;
  batch?: number;
  /** Aborted when the server stops: the sweep ends at its next step, its snapshot closed. */
  signal?: AbortSignal;
}

/** Returns how many blobs it deleted. */
export async function sweepOrphans(s: OrphanSweep): Promise<number> {
  const size = Math.max(1, s.batch ?? ORPHAN_BATCH);
  // Taken before the snapshot: a blob written before the cutoff and ever committed is in it.
  const cutoff = Date.now() - s.minAgeMs;
  const references = await s.meta.snapshotBlobReferences(s.signal);
  let removed = 0;
  let batch: string[] = [];
  const settle = async () => {
    const referenced = await references.referenced(batch);
    for (const ref of batch) {
      if (referenced.has(ref) || s.isPinned(ref)) continue;
      await s.blobs.delete(ref);
      removed++;
    }
    batch = [];
  };
  try {
    for await (const { ref, mtime } of s.blobs.list()) {
      s.signal?.throwIfAborted();
      if (mtime.getTime() >= cutoff || s.isPinned(ref)) continue;
      batch.push(ref);
      if (batch.length >= size) await settle();
    }
    if (batch.length > 0) await settle();
  } finally {
    await references.close();
  }
  return removed;
}
