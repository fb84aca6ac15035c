// For tests of BodyDigest (digest.test.ts, hash-pool.test.ts): a body through a digest into a
// sink, with what came out and how it ended.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BodyDigest, type BodyDigestOptions } from './digest.js';

export interface DigestRun {
  digest: BodyDigest;
  /** The chunks the digest passed on, as it passed them. */
  out: Buffer[];
  /** The stream's failure, if it failed. */
  error?: unknown;
}

/** Pipes `source` (a stream, or chunks) through a BodyDigest made with `options`. */
export async function runDigest(source: Readable | Buffer[], options: BodyDigestOptions): Promise<DigestRun> {
  const digest = new BodyDigest(options);
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  try {
    await pipeline(Array.isArray(source) ? Readable.from(source) : source, digest, sink);
    return { digest, out };
  } catch (error) {
    return { digest, out, error };
  }
}
