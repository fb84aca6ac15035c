import type { Readable } from 'node:stream';

/** A byte range, inclusive on both ends, as in HTTP Range. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobWriteResult {
  /** Opaque reference chosen by the store; never derived from an S3 key. */
  ref: string;
  size: number;
}

/**
 * Holds bytes under opaque references. Knows nothing of S3, buckets or keys.
 * A put either fully lands (data durable on disk, under `ref`) or leaves nothing behind.
 */
export interface BlobStore {
  /**
   * Stream `body` into a new blob. If the stream errors (a failed checksum, a client abort)
   * the partial data is removed and the promise rejects with that error.
   */
  put(body: Readable): Promise<BlobWriteResult>;
  /** Read a blob, or a range of it. Rejects with code 'ENOENT' if the ref does not exist. */
  get(ref: string, range?: ByteRange): Readable;
  /** Remove a blob; removing a missing blob is not an error. */
  delete(ref: string): Promise<void>;
  /** Every ref with its modification time, for the orphan sweep. */
  list(): AsyncIterable<{ ref: string; mtime: Date }>;
  close(): Promise<void>;
}
