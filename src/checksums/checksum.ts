// Incremental hashers for S3's x-amz-checksum-* algorithms. Kept free of the S3 layer so the
// hashing worker (hash-worker.ts) can load it on its own.

import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { Crc64Nvme } from './crc64nvme.js';
import type { ChecksumAlgorithm } from './types.js';

/** An incremental hasher. digest() is big-endian raw bytes and may be called once. */
export interface Checksum {
  update(buf: Buffer): void;
  digest(): Buffer;
}

export const DIGEST_LENGTH: Record<ChecksumAlgorithm, number> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

class Crc32Native implements Checksum {
  private state = 0;
  constructor(private readonly fn: (data: Buffer, value: number) => number) {}
  update(buf: Buffer): void {
    this.state = this.fn(buf, this.state);
  }
  digest(): Buffer {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE(this.state >>> 0, 0);
    return out;
  }
}

class HashChecksum implements Checksum {
  private readonly hash: Hash;
  constructor(name: string) {
    this.hash = createHash(name);
  }
  update(buf: Buffer): void {
    this.hash.update(buf);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

export function createChecksum(alg: ChecksumAlgorithm): Checksum {
  switch (alg) {
    case 'CRC32':
      return new Crc32Native(crc32);
    case 'CRC32C':
      return new Crc32Native(crc32c);
    case 'CRC64NVME':
      return new Crc64Nvme();
    case 'SHA1':
      return new HashChecksum('sha1');
    case 'SHA256':
      return new HashChecksum('sha256');
  }
}

/** What a body's digest is made of: MD5 always (the ETag), SHA-256 and one checksum on request. */
export interface DigestPlan {
  sha256: boolean;
  checksumAlgorithm?: ChecksumAlgorithm;
}

export interface DigestResults {
  md5: Buffer;
  sha256?: Buffer;
  checksum?: Buffer;
}

/** The hashers of a DigestPlan, fed together; used on the main thread and in the hashing workers. */
export class DigestSet {
  private readonly md5: Hash = createHash('md5');
  private readonly sha256: Hash | undefined;
  private readonly checksum: Checksum | undefined;

  constructor(plan: DigestPlan) {
    if (plan.sha256) this.sha256 = createHash('sha256');
    if (plan.checksumAlgorithm) this.checksum = createChecksum(plan.checksumAlgorithm);
  }

  update(buf: Buffer): void {
    this.md5.update(buf);
    this.sha256?.update(buf);
    this.checksum?.update(buf);
  }

  digest(): DigestResults {
    return { md5: this.md5.digest(), sha256: this.sha256?.digest(), checksum: this.checksum?.digest() };
  }
}
