import type { Readable } from 'node:stream';
import type { BlobStore, BlobWriteResult, ByteRange } from './blob-store.js';

// A BlobStore that tells `onError` about the backend's own failures, for metrics: not a missing
// blob (ENOENT, an answer), and not a put that failed because its body did (a client that went
// away, a checksum that did not match).

export function observedBlobStore(inner: BlobStore, onError: (err: unknown) => void): BlobStore {
  const isMissing = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  const report = (err: unknown) => {
    if (!isMissing(err)) onError(err);
  };
  return {
    newRef: () => inner.newRef(),
    async put(body: Readable, ref?: string): Promise<BlobWriteResult> {
      try {
        return await inner.put(body, ref);
      } catch (err) {
        if (body.errored !== err) report(err);
        throw err;
      }
    },
    get(ref: string, range?: ByteRange): Readable {
      const stream = inner.get(ref, range);
      stream.once('error', report);
      return stream;
    },
    getInline: inner.getInline
      ? (ref: string, size: number, range?: ByteRange): Buffer | undefined => {
          try {
            return inner.getInline!(ref, size, range);
          } catch (err) {
            report(err);
            throw err;
          }
        }
      : undefined,
    async delete(ref: string, opts?: { partial?: boolean }): Promise<void> {
      try {
        await inner.delete(ref, opts);
      } catch (err) {
        report(err);
        throw err;
      }
    },
    list: () => inner.list(),
    async ping(): Promise<void> {
      try {
        await inner.ping();
      } catch (err) {
        report(err);
        throw err;
      }
    },
    close: () => inner.close(),
  };
}
