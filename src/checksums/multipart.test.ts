import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { Crc64Nvme as AwsCrc64Nvme } from '@aws-sdk/crc64-nvme';
import { combineCrc, compositeChecksum, multipartEtag, type CrcAlgorithm } from './multipart.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBuffer(rand: () => number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) buf[i] = (rand() * 256) | 0;
  return buf;
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Reference CRCs straight from the libraries. */
async function crcOf(alg: CrcAlgorithm, data: Buffer): Promise<Buffer> {
  if (alg === 'CRC32') return be32(crc32(data));
  if (alg === 'CRC32C') return be32(crc32c(data));
  const h = new AwsCrc64Nvme();
  h.update(data);
  return Buffer.from(await h.digest());
}

const CRCS: CrcAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME'];

test('combineCrc equals the CRC of the concatenation (random parts, random sizes)', async () => {
  const rand = prng(3);
  for (const alg of CRCS) {
    for (let round = 0; round < 12; round++) {
      const count = 1 + Math.floor(rand() * 8);
      const parts: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        // Mix of empty, tiny and up to ~600 KiB parts.
        const kind = rand();
        const size = kind < 0.1 ? 0 : kind < 0.4 ? Math.floor(rand() * 20) : Math.floor(rand() * 600_000);
        parts.push(randomBuffer(rand, size));
      }
      const described = await Promise.all(parts.map(async (p) => ({ digest: await crcOf(alg, p), size: p.length })));
      assert.deepEqual(combineCrc(alg, described), await crcOf(alg, Buffer.concat(parts)), `${alg} round ${round}`);
    }
  }
});

test('combineCrc handles TiB-scale totals', async () => {
  // Two 1 MiB halves must give the 2 MiB whole; large sizes must stay consistent (associative).
  for (const alg of CRCS) {
    const zeros = Buffer.alloc(1 << 20);
    const oneMiB = await crcOf(alg, zeros);
    const twoMiB = await crcOf(alg, Buffer.concat([zeros, zeros]));
    assert.deepEqual(combineCrc(alg, [{ digest: oneMiB, size: zeros.length }, { digest: oneMiB, size: zeros.length }]), twoMiB);
    // 10,000 parts of 512 MiB each is ~5 TiB: must not throw and must be associative.
    const big = { digest: oneMiB, size: 512 * 1024 * 1024 };
    const left = combineCrc(alg, [big, big, big]);
    const pair = combineCrc(alg, [big, big]);
    const right = combineCrc(alg, [{ digest: pair, size: big.size * 2 }, big]);
    assert.deepEqual(left, right, alg);
    const huge = combineCrc(alg, Array.from({ length: 10_000 }, () => big));
    assert.equal(huge.length, alg === 'CRC64NVME' ? 8 : 4);
  }
});

test('combineCrc of no parts is the empty CRC; wrong digest length throws', async () => {
  for (const alg of CRCS) assert.deepEqual(combineCrc(alg, []), await crcOf(alg, Buffer.alloc(0)));
  assert.throws(() => combineCrc('CRC64NVME', [{ digest: Buffer.alloc(4), size: 1 }]), /8-byte digest/);
  assert.throws(() => combineCrc('CRC32', [{ digest: Buffer.alloc(4), size: -1 }]), /invalid part size/);
});

test('compositeChecksum hashes the concatenated part digests and appends -N', async () => {
  const rand = prng(4);
  const parts = [randomBuffer(rand, 1000), randomBuffer(rand, 5000), randomBuffer(rand, 17)];
  for (const alg of ['SHA1', 'SHA256'] as const) {
    const name = alg === 'SHA1' ? 'sha1' : 'sha256';
    const digests = parts.map((p) => createHash(name).update(p).digest());
    const want = createHash(name).update(Buffer.concat(digests)).digest('base64');
    assert.equal(compositeChecksum(alg, digests), `${want}-3`);
  }
  for (const alg of CRCS) {
    const digests = await Promise.all(parts.map((p) => crcOf(alg, p)));
    const want = (await crcOf(alg, Buffer.concat(digests))).toString('base64');
    assert.equal(compositeChecksum(alg, digests), `${want}-3`);
  }
  // CRC32 over the two 4-byte part CRCs of "1234" and "56789".
  const d1 = be32(crc32('1234'));
  const d2 = be32(crc32('56789'));
  assert.equal(compositeChecksum('CRC32', [d1, d2]), `${be32(crc32(Buffer.concat([d1, d2]))).toString('base64')}-2`);
});

test('multipartEtag is md5 of the concatenated part md5s, quoted, with -N', () => {
  const md5 = (s: string): Buffer => createHash('md5').update(s).digest();
  const parts = [md5('part one'), md5('part two')];
  const want = createHash('md5').update(Buffer.concat(parts)).digest('hex');
  assert.equal(multipartEtag(parts), `"${want}-2"`);
  assert.match(multipartEtag([md5('x')]), /^"[0-9a-f]{32}-1"$/);
});
