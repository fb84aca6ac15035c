// The messages between HashPool (main thread) and its hashing workers (hash-worker.ts).

import type { DigestPlan } from './checksum.js';

/**
 * What a job computes over one body's bytes: the digests of `digest` (MD5 for the ETag, SHA-256,
 * an x-amz-checksum), and with `segments` the SHA-256 of each segment (the chunks of a signed
 * aws-chunked body, whose signatures chain those hashes). Both in one job, so a body's bytes cross
 * to a thread once.
 */
export interface JobPlan {
  digest?: DigestPlan;
  segments?: boolean;
}

export type ToWorker =
  | { t: 'open'; id: number; job: JobPlan }
  /**
   * `len` bytes of `buf` (transferred, and handed back in the ack) are the job's next bytes; a
   * segment ends at each offset in `cuts` (ascending, 0..len).
   */
  | { t: 'data'; id: number; buf: ArrayBuffer; len: number; cuts?: number[] }
  | { t: 'end'; id: number }
  | { t: 'drop'; id: number };

export type FromWorker =
  /** `segments`: the hex SHA-256 of each segment that ended in the batch. */
  | { t: 'ack'; id: number; buf: ArrayBuffer; segments?: string[] }
  /** The end of a job: the digests of its plan (none without one). */
  | { t: 'digest'; id: number; md5?: Uint8Array; sha256?: Uint8Array; checksum?: Uint8Array };
