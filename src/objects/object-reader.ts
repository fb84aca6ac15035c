import { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '../storage/blob/blob-store.js';
import type { BlobPart } from '../storage/metadata/metadata-store.js';

// Streams an object's bytes (one blob, or one per multipart part) for an optional range.

export function readBlobs(store: BlobStore, blobs: BlobPart[], range?: ByteRange): Readable {
  // The whole of one blob is asked for as a range too: the store sizes its reads by it.
  if (blobs.length === 1) return store.get(blobs[0].ref, range ?? (blobs[0].size > 0 ? { start: 0, end: blobs[0].size - 1 } : undefined));
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
      const sub = { start: Math.max(start, blobStart) - blobStart, end: Math.min(end, blobEnd) - blobStart };
      for await (const chunk of store.get(blob.ref, sub)) yield chunk as Buffer;
    }
  }
  return Readable.from(pieces(), { objectMode: false, highWaterMark: 256 * 1024 });
}
