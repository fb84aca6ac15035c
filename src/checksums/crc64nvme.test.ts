import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Crc64Nvme as AwsCrc64Nvme } from '@aws-sdk/crc64-nvme';
import { Crc64Nvme, CRC64NVME_POLY } from './crc64nvme.js';

// Seeded so a failure reproduces.
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

/** Bit-at-a-time definition of CRC-64/NVME, independent of the tables. */
function bitwise(data: Uint8Array): bigint {
  let crc = 0xffffffffffffffffn;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let j = 0; j < 8; j++) crc = crc & 1n ? (crc >> 1n) ^ CRC64NVME_POLY : crc >> 1n;
  }
  return crc ^ 0xffffffffffffffffn;
}

function ours(data: Buffer, rand?: () => number): Buffer {
  const h = new Crc64Nvme();
  let i = 0;
  while (i < data.length) {
    const n = rand ? 1 + Math.floor(rand() * 70000) : data.length;
    h.update(data.subarray(i, i + n));
    i += n;
  }
  return h.digest();
}

test('CRC64NVME check value', () => {
  assert.equal(ours(Buffer.from('123456789')).toString('hex'), 'ae8b14860a799888');
  assert.equal(ours(Buffer.alloc(0)).toString('hex'), '0000000000000000');
});

test('CRC64NVME matches the bitwise definition on short inputs, any alignment', () => {
  const rand = prng(1);
  const base = randomBuffer(rand, 300);
  for (let len = 0; len <= 40; len++) {
    for (let offset = 0; offset < 8; offset++) {
      const data = base.subarray(offset, offset + len);
      assert.equal(ours(data).readBigUInt64BE(0), bitwise(data), `len ${len} offset ${offset}`);
    }
  }
});

test('CRC64NVME matches @aws-sdk/crc64-nvme on random data in uneven chunks', async () => {
  const rand = prng(2);
  for (const len of [1, 7, 8, 9, 63, 1000, 65536 + 3, 1 << 20, 3 * (1 << 20) + 5]) {
    const data = randomBuffer(rand, len);
    const ref = new AwsCrc64Nvme();
    ref.update(data);
    const want = Buffer.from(await ref.digest());
    assert.deepEqual(ours(data, rand), want, `len ${len}`);
    assert.deepEqual(ours(data), want, `len ${len} one update`);
  }
});
