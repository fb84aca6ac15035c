import { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '../storage/blob/blob-store.js';
import type { BlobPart } from '../storage/metadata/metadata-store.js';

// Streams an object's bytes (one blob, or one per multipart part) for an optional range.

/** Reads bytes [start, end] of one part (offsets within the part). */
export type PartReader = (blob: BlobPart, start: number, end: number) => AsyncIterable<Buffer>;

/**
 * Streams `range` (or everything) of an object made of `blobs` in order: each part that the range
 * touches is read with `read`, for just the piece of it the range covers.
 */
export function readParts(blobs: BlobPart[], range: ByteRange | undefined, read: PartReader): Readable {
  const start = range?.start ?? 0;
  const end = range?.end ?? blobs.reduce((n, b) => n + b.size, 0) - 1;
  async function* pieces(): AsyncGenerator<Buffer> {
    let offset = 0;
    for (const blob of blobs) {
      const blobStart = offset;
      const blobEnd = offset + blob.size - 1;
      offset += blob.size;
      if (blob.size === 0 || blobEnd < start) continue;
      if (blobStart > end) break;
      yield* read(blob, Math.max(start, blobStart) - blobStart, Math.min(end, blobEnd) - blobStart);
    }
  }
  return Readable.from(pieces(), { objectMode: false, highWaterMark: 256 * 1024 });
}

export function readBlobs(store: BlobStore, blobs: BlobPart[], range?: ByteRange): Readable {
  // The whole of one blob is asked for as a range too: the store sizes its reads by it.
  if (blobs.length === 1) return store.get(blobs[0].ref, range ?? (blobs[0].size > 0 ? { start: 0, end: blobs[0].size - 1 } : undefined));
  return readParts(blobs, range, (blob, start, end) => store.get(blob.ref, { start, end }) as AsyncIterable<Buffer>);
}
