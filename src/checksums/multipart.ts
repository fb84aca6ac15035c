// Checksums of multipart objects as S3 defines them ("Checking object integrity"):
// COMPOSITE = hash of the concatenated part digests with a "-N" suffix; FULL_OBJECT (CRCs only)
// = the CRC of the whole object, derived from part CRCs and sizes without re-reading the data.

import { createHash } from 'node:crypto';
import { createChecksum } from './digest.js';
import { CRC64NVME_POLY } from './crc64nvme.js';
import type { ChecksumAlgorithm } from './types.js';

export type CrcAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME';

/** base64(alg(concat(partDigests))) + "-N", e.g. "q9v6tQ==-3". */
export function compositeChecksum(alg: ChecksumAlgorithm, partDigests: Buffer[]): string {
  const hasher = createChecksum(alg);
  for (const digest of partDigests) hasher.update(digest);
  return `${hasher.digest().toString('base64')}-${partDigests.length}`;
}

/** The multipart ETag, quotes included: "md5hex(concat(partMd5s))-N". */
export function multipartEtag(partMd5s: Buffer[]): string {
  const md5 = createHash('md5');
  for (const digest of partMd5s) md5.update(digest);
  return `"${md5.digest('hex')}-${partMd5s.length}"`;
}

// zlib's crc32_combine (1.2.12+ form): in the reflected representation, polynomials mod P are
// bit-reversed, so x^0 is the top bit. crc(A‖B) = crc(A)·x^(8·|B|) mod P  ⊕  crc(B), which holds
// for these CRCs because init and xorout are both all ones. BigInt: it runs once per part.
interface CrcSpec {
  width: number;
  poly: bigint;
  /** X2N[k] = x^(2^k) mod P, for k up to 63; filled on first use. */
  x2n?: bigint[];
}

const SPECS: Record<CrcAlgorithm, CrcSpec> = {
  CRC32: { width: 32, poly: 0xedb88320n },
  CRC32C: { width: 32, poly: 0x82f63b78n },
  CRC64NVME: { width: 64, poly: CRC64NVME_POLY },
};

/** a·b mod P (both reflected). */
function multModP(spec: CrcSpec, a: bigint, b: bigint): bigint {
  let m = 1n << BigInt(spec.width - 1);
  let p = 0n;
  while (m !== 0n) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ spec.poly : b >> 1n;
  }
  return p;
}

/** x^(n·2^k) mod P. */
function x2nModP(spec: CrcSpec, n: bigint, k: number): bigint {
  const table = x2nTable(spec);
  let p = 1n << BigInt(spec.width - 1);
  // No k & 31 wrap as in zlib: that relies on CRC32's polynomial order; 64 entries cover any length.
  while (n > 0n) {
    if (n & 1n) p = multModP(spec, table[k], p);
    n >>= 1n;
    k++;
  }
  return p;
}

function x2nTable(spec: CrcSpec): bigint[] {
  if (!spec.x2n) {
    const table: bigint[] = [];
    let p = 1n << BigInt(spec.width - 2); // x^1
    for (let k = 0; k < 64; k++) {
      table.push(p);
      p = multModP(spec, p, p);
    }
    spec.x2n = table;
  }
  return spec.x2n;
}

function readCrc(digest: Buffer, width: number): bigint {
  if (digest.length !== width / 8) throw new Error(`combineCrc: expected a ${width / 8}-byte digest, got ${digest.length}`);
  return width === 32 ? BigInt(digest.readUInt32BE(0)) : digest.readBigUInt64BE(0);
}

/**
 * The FULL_OBJECT CRC of the parts' concatenation from each part's CRC (big-endian digest) and
 * byte size. No parts gives the CRC of the empty object (zero).
 */
export function combineCrc(alg: CrcAlgorithm, parts: { digest: Buffer; size: number }[]): Buffer {
  const spec = SPECS[alg];
  let crc = 0n;
  for (const { digest, size } of parts) {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`combineCrc: invalid part size ${size}`);
    // x^(8·size) = x^(size·2^3).
    crc = multModP(spec, x2nModP(spec, BigInt(size), 3), crc) ^ readCrc(digest, spec.width);
  }
  const out = Buffer.alloc(spec.width / 8);
  if (spec.width === 32) out.writeUInt32BE(Number(crc), 0);
  else out.writeBigUInt64BE(crc, 0);
  return out;
}
