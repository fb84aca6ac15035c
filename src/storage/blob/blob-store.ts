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
  /** A fresh opaque ref for a put: callers that record a blob before writing it take one first. */
  newRef(): string;
  /**
   * Stream `body` into a new blob, under `ref` (from newRef(), or another store's ref when copying
   * between stores) or a fresh one. If the stream errors (a failed checksum, a client abort) the
   * partial data is removed and the promise rejects with that very error.
   */
  put(body: Readable, ref?: string): Promise<BlobWriteResult>;
  /** Read a blob, or a range of it. Rejects with code 'ENOENT' if the ref does not exist. */
  get(ref: string, range?: ByteRange): Readable;
  /**
   * The blob's bytes (or a range of them) at once, when the store keeps it small and in memory's
   * reach (inline rows); undefined otherwise, and the caller streams it with get(). Lets a small
   * GET skip a stream, which costs more than the read itself. `size` is the blob's recorded size:
   * a blob too large to be kept inline is answered without a lookup.
   */
  getInline?(ref: string, size: number, range?: ByteRange): Buffer | undefined;
  /**
   * Remove a blob; removing a missing blob is not an error. `partial`: the put may have been cut
   * short by a crash, so also remove whatever a put in progress leaves (e.g. a backend's
   * unfinished multipart upload).
   */
  delete(ref: string, opts?: { partial?: boolean }): Promise<void>;
  /** Every ref with its modification time, for a sweep that lists the store (local folders). */
  list(): AsyncIterable<{ ref: string; mtime: Date }>;
  /** Throws when the backend cannot be reached (for readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A body chunk as bytes: stores take Buffer, Uint8Array or string chunks. */
export function chunkBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('blob body must yield Buffer, Uint8Array or string chunks');
}

/** The error a get of a missing ref fails with, whatever the store. */
export function noSuchBlob(ref: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOENT: no such blob '${ref}'`);
  err.code = 'ENOENT';
  return err;
}

/** Refs are 32 lower-case hex digits in every store, so blobs can move between stores unchanged. */
export const REF_PATTERN = /^[0-9a-f]{32}$/;
