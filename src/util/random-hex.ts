import { randomBytes } from 'node:crypto';

// Random hex strings for names and ids on hot paths (blob refs, request ids), drawn from a pooled
// buffer: one randomBytes call per 4 KiB rather than one or two per request (each call was over
// 1% of the main thread in a PUT profile).

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `bytes` random bytes (at most 4096) as lower-case hex. */
export function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
