// The messages between HashPool (main thread) and its hashing workers (hash-worker.ts).

import type { DigestPlan } from './checksum.js';

export type ToWorker =
  | { t: 'open'; id: number; plan: DigestPlan }
  /** `len` bytes of `buf` (transferred, and handed back in the ack) are the job's next bytes. */
  | { t: 'data'; id: number; buf: ArrayBuffer; len: number }
  | { t: 'end'; id: number }
  | { t: 'drop'; id: number };

export type FromWorker =
  | { t: 'ack'; id: number; buf: ArrayBuffer }
  | { t: 'digest'; id: number; md5: Uint8Array; sha256?: Uint8Array; checksum?: Uint8Array };
