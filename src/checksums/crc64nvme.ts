// CRC64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones), slice-by-8.
// Our own because @aws-sdk/crc64-nvme has an async digest() and measured 2-2.7x slower here
// (~335 vs ~680-900 MiB/s warm on 64 MiB); crc64nvme.test.ts checks both agree.
// The 64-bit state lives in two int32 halves so the hot loop never touches BigInt.

export const CRC64NVME_POLY = 0x9a6c9329ac4bc9b5n;

const SLICES = 8;
// TABLE_LO/TABLE_HI[k * 256 + b]: the CRC register contribution of byte b followed by k zero bytes.
const TABLE_LO = new Int32Array(SLICES * 256);
const TABLE_HI = new Int32Array(SLICES * 256);

(function buildTables(): void {
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let j = 0; j < 8; j++) c = c & 1n ? (c >> 1n) ^ CRC64NVME_POLY : c >> 1n;
    TABLE_LO[i] = Number(c & 0xffffffffn);
    TABLE_HI[i] = Number(c >> 32n);
  }
  for (let k = 1; k < SLICES; k++) {
    for (let i = 0; i < 256; i++) {
      const lo = TABLE_LO[(k - 1) * 256 + i];
      const hi = TABLE_HI[(k - 1) * 256 + i];
      const b = lo & 255;
      TABLE_LO[k * 256 + i] = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[b];
      TABLE_HI[k * 256 + i] = (hi >>> 8) ^ TABLE_HI[b];
    }
  }
})();

export class Crc64Nvme {
  // Register halves, pre-inverted (init = all ones).
  private lo = -1;
  private hi = -1;

  update(data: Uint8Array): void {
    const L = TABLE_LO;
    const H = TABLE_HI;
    let lo = this.lo;
    let hi = this.hi;
    const n = data.length;
    const end = n - (n & 7);
    let i = 0;
    // Assembling words from bytes measured faster than an Int32Array view over the buffer.
    while (i < end) {
      const a = lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
      const b = hi ^ (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24));
      const i0 = 1792 + (a & 255);
      const i1 = 1536 + ((a >>> 8) & 255);
      const i2 = 1280 + ((a >>> 16) & 255);
      const i3 = 1024 + (a >>> 24);
      const i4 = 768 + (b & 255);
      const i5 = 512 + ((b >>> 8) & 255);
      const i6 = 256 + ((b >>> 16) & 255);
      const i7 = b >>> 24;
      lo = L[i0] ^ L[i1] ^ L[i2] ^ L[i3] ^ L[i4] ^ L[i5] ^ L[i6] ^ L[i7];
      hi = H[i0] ^ H[i1] ^ H[i2] ^ H[i3] ^ H[i4] ^ H[i5] ^ H[i6] ^ H[i7];
      i += 8;
    }
    for (; i < n; i++) {
      const x = (lo ^ data[i]) & 255;
      lo = ((lo >>> 8) | (hi << 24)) ^ L[x];
      hi = (hi >>> 8) ^ H[x];
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** Big-endian 8 bytes, as S3 transmits it (base64 of these). */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE(~this.hi >>> 0, 0);
    out.writeUInt32BE(~this.lo >>> 0, 4);
    return out;
  }
}
