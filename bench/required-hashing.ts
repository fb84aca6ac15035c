// The hashing S3 requires of any server for each large PUT row, timed on this machine in the
// bench's own process: the MD5 behind the ETag (what rclone, s3cmd and `aws s3 sync` compare),
// the SHA-256 of every signed chunk, and the CRC32 the trailer declares. The ceiling computes
// none of it, so subtracting it from skep's CPU per operation leaves the part that compares.

import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { ScenarioId } from './scenarios.js';
import { LARGE_CHUNK } from './data.js';

type Hash = 'md5' | 'sha256' | 'crc32';

/** What a server must compute over the body of each row's PUT. */
export const REQUIRED_HASHES: Partial<Record<ScenarioId, readonly Hash[]>> = {
  'put-large': ['md5'],
  'put-large-trailer': ['md5', 'crc32'],
  'put-large-signed': ['md5', 'sha256', 'crc32'],
};

/** CPU ms to hash `size` bytes once, per algorithm, fed in 1 MiB chunks as bodies arrive. */
export type HashCosts = Record<Hash, number>;

function timeOnce(hash: Hash, chunk: Buffer, chunks: number): number {
  const before = process.cpuUsage();
  if (hash === 'crc32') {
    let c = 0;
    for (let i = 0; i < chunks; i++) c = crc32(chunk, c);
  } else {
    const h = createHash(hash);
    for (let i = 0; i < chunks; i++) h.update(chunk);
    h.digest();
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** The cheapest of `rounds` timings of each algorithm over `size` bytes (CPU time: the machine's noise only adds). */
export function measureHashing(size: number, rounds = 3): HashCosts {
  const chunk = Buffer.alloc(LARGE_CHUNK, 0x5a);
  const chunks = Math.ceil(size / LARGE_CHUNK);
  const best = (hash: Hash) => Math.min(...Array.from({ length: rounds }, () => timeOnce(hash, chunk, chunks)));
  return { md5: best('md5'), sha256: best('sha256'), crc32: best('crc32') };
}

/** Two measurements merged: each algorithm's cheaper figure. */
export function cheaper(a: HashCosts, b: HashCosts): HashCosts {
  return { md5: Math.min(a.md5, b.md5), sha256: Math.min(a.sha256, b.sha256), crc32: Math.min(a.crc32, b.crc32) };
}

/** The required hashing of one operation of `id`, in CPU ms; undefined for rows without any worth naming. */
export function requiredMs(costs: HashCosts, id: ScenarioId): number | undefined {
  const hashes = REQUIRED_HASHES[id];
  return hashes ? hashes.reduce((sum, h) => sum + costs[h], 0) : undefined;
}
