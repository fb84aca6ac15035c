// Deterministic object contents, so every body the bench reads back can be checked.
//
// Small object i: a fixed random 4 KiB block with i written into its first 8 bytes.
// Large object n: 1 MiB chunks of a fixed random block, chunk j stamped with (n, j).

import { createHash, randomBytes } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const LARGE_CHUNK = MiB;

export class Contents {
  private readonly smallBase: Buffer;
  private readonly largeBase: Buffer;

  constructor(readonly smallSize: number) {
    this.smallBase = randomBytes(smallSize);
    this.largeBase = randomBytes(LARGE_CHUNK);
  }

  small(i: number): Buffer {
    const b = Buffer.from(this.smallBase);
    b.writeUInt32BE(0x5eed0000, 0);
    b.writeUInt32BE(i, 4);
    return b;
  }

  /** True if `body` is exactly small(i). */
  isSmall(body: Buffer | undefined, i: number): boolean {
    if (!body || body.length !== this.smallBase.length) return false;
    if (body.readUInt32BE(0) !== 0x5eed0000 || body.readUInt32BE(4) !== i) return false;
    return body.subarray(8).equals(this.smallBase.subarray(8));
  }

  largeChunk(n: number, j: number, size = LARGE_CHUNK): Buffer {
    const b = Buffer.allocUnsafe(size);
    this.largeBase.copy(b, 0, 0, size);
    b.writeUInt32BE(n, 0);
    b.writeUInt32BE(j, 4);
    return b;
  }

  /** The chunks of large object n (fresh buffers: a queued socket write must never see them change). */
  *large(n: number, size: number, onChunk?: (b: Buffer) => void): Generator<Buffer> {
    for (let j = 0, off = 0; off < size; j++, off += LARGE_CHUNK) {
      const chunk = this.largeChunk(n, j, Math.min(LARGE_CHUNK, size - off));
      onChunk?.(chunk);
      yield chunk;
    }
  }

  largeMd5(n: number, size: number): string {
    const h = createHash('md5');
    for (const chunk of this.large(n, size)) h.update(chunk);
    return h.digest('hex');
  }
}

export function md5Hex(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}
