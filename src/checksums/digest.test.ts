import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { Crc64Nvme as AwsCrc64Nvme } from '@aws-sdk/crc64-nvme';
import { isS3Error, type S3ErrorCode } from '../s3/errors.js';
import { BodyDigest, checksumDigestLength, createChecksum, validateChecksumValue, validateContentMd5 } from './digest.js';
import { runDigest } from './digest-harness.js';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './types.js';

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

function unevenChunks(rand: () => number, data: Buffer, max = 70000): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(rand() * max);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** One-shot reference digests from the libraries (and node:crypto), not from createChecksum. */
async function reference(alg: ChecksumAlgorithm, data: Buffer): Promise<Buffer> {
  switch (alg) {
    case 'CRC32':
      return be32(crc32(data));
    case 'CRC32C':
      return be32(crc32c(data));
    case 'CRC64NVME': {
      const h = new AwsCrc64Nvme();
      h.update(data);
      return Buffer.from(await h.digest());
    }
    case 'SHA1':
      return createHash('sha1').update(data).digest();
    case 'SHA256':
      return createHash('sha256').update(data).digest();
  }
}

function checksumOf(alg: ChecksumAlgorithm, parts: Buffer[]): Buffer {
  const h = createChecksum(alg);
  for (const p of parts) h.update(p);
  return h.digest();
}

test('known check values for "123456789"', () => {
  const v = Buffer.from('123456789');
  assert.equal(checksumOf('CRC32', [v]).toString('hex'), 'cbf43926');
  assert.equal(checksumOf('CRC32C', [v]).toString('hex'), 'e3069283');
  assert.equal(checksumOf('CRC64NVME', [v]).toString('hex'), 'ae8b14860a799888');
  assert.equal(checksumOf('SHA1', [v]).toString('hex'), 'f7c3bc1d808e04732adf679965ccc34ca7ae3441');
  assert.equal(
    checksumOf('SHA256', [v]).toString('hex'),
    '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225',
  );
});

test('empty input and digest lengths', async () => {
  for (const alg of CHECKSUM_ALGORITHMS) {
    const d = checksumOf(alg, []);
    assert.equal(d.length, checksumDigestLength(alg), alg);
    assert.deepEqual(d, await reference(alg, Buffer.alloc(0)), alg);
  }
});

test('incremental digests match the reference libraries on random data in uneven chunks', async () => {
  const rand = prng(7);
  for (const len of [1, 3, 8, 17, 4096, 65537, 1 << 20, 3 * (1 << 20) + 11]) {
    const data = randomBuffer(rand, len);
    for (const alg of CHECKSUM_ALGORITHMS) {
      assert.deepEqual(checksumOf(alg, unevenChunks(rand, data)), await reference(alg, data), `${alg} len ${len}`);
    }
  }
});

test('validateChecksumValue checks base64 and decoded length', () => {
  const crc32Value = be32(0xcbf43926).toString('base64');
  assert.equal(validateChecksumValue('CRC32', crc32Value), true);
  assert.equal(validateChecksumValue('CRC32C', crc32Value), true);
  assert.equal(validateChecksumValue('CRC64NVME', crc32Value), false);
  assert.equal(validateChecksumValue('CRC64NVME', Buffer.alloc(8).toString('base64')), true);
  assert.equal(validateChecksumValue('SHA1', Buffer.alloc(20).toString('base64')), true);
  assert.equal(validateChecksumValue('SHA256', Buffer.alloc(32).toString('base64')), true);
  assert.equal(validateChecksumValue('SHA256', Buffer.alloc(31).toString('base64')), false);
  assert.equal(validateChecksumValue('CRC32', ''), false);
  assert.equal(validateChecksumValue('CRC32', 'y/Q5Jg'), false, 'missing padding');
  assert.equal(validateChecksumValue('CRC32', 'y/Q5Jh=='), false, 'non-zero pad bits');
  assert.equal(validateChecksumValue('CRC32', 'y/Q5J!=='), false, 'invalid character');
  assert.equal(validateChecksumValue('CRC32', ' y/Q5Jg=='), false, 'whitespace');
  assert.equal(validateChecksumValue('CRC32', 'y_Q5Jg=='), false, 'base64url');
  assert.equal(validateContentMd5(createHash('md5').update('x').digest('base64')), true);
  assert.equal(validateContentMd5(createHash('md5').update('x').digest('hex')), false);
});

function assertS3Code(error: unknown, code: S3ErrorCode, message?: string): void {
  assert.ok(isS3Error(error), `expected S3Error ${code}, got ${String(error)}`);
  assert.equal(error.code, code);
  if (message !== undefined) assert.equal(error.message, message);
}

const rand = prng(42);
const body = randomBuffer(rand, 300_000);
const bodyChunks = unevenChunks(rand, body, 50_000);
const md5 = createHash('md5').update(body).digest();
const sha256Hex = createHash('sha256').update(body).digest('hex');

test('BodyDigest passes the same Buffers through and computes md5/size', async () => {
  const { digest, out, error } = await runDigest(bodyChunks, {});
  assert.equal(error, undefined);
  assert.equal(out.length, bodyChunks.length);
  out.forEach((chunk, i) => assert.equal(chunk, bodyChunks[i], 'same Buffer object, no copy'));
  assert.equal(digest.size, body.length);
  assert.equal(digest.md5Hex, md5.toString('hex'));
  assert.equal(digest.md5Base64, md5.toString('base64'));
  assert.deepEqual(digest.md5Digest, md5);
  assert.equal(digest.sha256Hex, undefined);
  assert.equal(digest.checksumBase64, undefined);
  assert.equal(digest.checksumDigest, undefined);
});

test('BodyDigest getters throw before the stream ends', () => {
  const digest = new BodyDigest();
  assert.throws(() => digest.md5Hex, /before the stream ended/);
});

test('BodyDigest computes sha256 and each checksum algorithm when asked', async () => {
  for (const alg of CHECKSUM_ALGORITHMS) {
    const { digest, error } = await runDigest(bodyChunks, { sha256: true, checksumAlgorithm: alg });
    assert.equal(error, undefined);
    assert.equal(digest.sha256Hex, sha256Hex);
    const want = await reference(alg, body);
    assert.equal(digest.checksumBase64, want.toString('base64'), alg);
    assert.deepEqual(digest.checksumDigest, want, alg);
  }
});

test('BodyDigest accepts correct expectations', async () => {
  for (const alg of CHECKSUM_ALGORITHMS) {
    const want = (await reference(alg, body)).toString('base64');
    const { error } = await runDigest(bodyChunks, {
      checksumAlgorithm: alg,
      expect: { md5Base64: md5.toString('base64'), sha256Hex: sha256Hex.toUpperCase(), checksum: () => want, size: body.length },
    });
    assert.equal(error, undefined, alg);
  }
});

test('BodyDigest: Content-MD5 mismatch is BadDigest, malformed is InvalidDigest', async () => {
  const wrong = createHash('md5').update('other').digest('base64');
  assertS3Code((await runDigest(bodyChunks, { expect: { md5Base64: wrong } })).error, 'BadDigest');
  assertS3Code((await runDigest(bodyChunks, { expect: { md5Base64: 'not-md5' } })).error, 'InvalidDigest');
});

test('BodyDigest: x-amz-content-sha256 mismatch is XAmzContentSHA256Mismatch', async () => {
  const wrong = createHash('sha256').update('other').digest('hex');
  const { error } = await runDigest(bodyChunks, { expect: { sha256Hex: wrong } });
  assertS3Code(error, 'XAmzContentSHA256Mismatch');
});

test('BodyDigest: checksum mismatch is BadDigest naming the algorithm', async () => {
  const wrong = be32(0x12345678).toString('base64');
  const { error } = await runDigest(bodyChunks, { checksumAlgorithm: 'CRC32C', expect: { checksum: () => wrong } });
  assertS3Code(error, 'BadDigest', 'The CRC32C you specified did not match the calculated checksum.');
});

test('BodyDigest: malformed expected checksum is InvalidRequest', async () => {
  const { error } = await runDigest(bodyChunks, { checksumAlgorithm: 'CRC64NVME', expect: { checksum: () => 'AAAA' } });
  assertS3Code(error, 'InvalidRequest', 'Value for x-amz-checksum-crc64nvme header is invalid.');
});

test('BodyDigest: the checksum expectation is read lazily, at flush', async () => {
  // Like the aws-chunked decoder: the trailer value only exists after the last chunk went through.
  async function withTrailer(value: string): Promise<{ digest: BodyDigest; calls: number; error?: unknown }> {
    let trailer: string | undefined;
    let calls = 0;
    const digest = new BodyDigest({
      checksumAlgorithm: 'SHA256',
      expect: {
        checksum: () => {
          calls++;
          return trailer;
        },
      },
    });
    const source = Readable.from(
      (function* () {
        yield* bodyChunks;
        trailer = value;
      })(),
    );
    try {
      await pipeline(source, digest, new Writable({ write: (_c, _e, cb) => cb() }));
      return { digest, calls };
    } catch (error) {
      return { digest, calls, error };
    }
  }
  const want = (await reference('SHA256', body)).toString('base64');
  const ok = await withTrailer(want);
  assert.equal(ok.error, undefined);
  assert.equal(ok.calls, 1);
  assert.equal(ok.digest.checksumBase64, want);

  const bad = await withTrailer(Buffer.alloc(32).toString('base64'));
  assertS3Code(bad.error, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');

  // A lazy value of undefined skips the check.
  const { error } = await runDigest(bodyChunks, { checksumAlgorithm: 'CRC32', expect: { checksum: () => undefined } });
  assert.equal(error, undefined);
});

test('BodyDigest: short body is IncompleteBody, long body is InvalidRequest before it is passed on', async () => {
  assertS3Code((await runDigest(bodyChunks, { expect: { size: body.length + 1 } })).error, 'IncompleteBody');
  const { error, out } = await runDigest(bodyChunks, { expect: { size: body.length - 1 } });
  assertS3Code(error, 'InvalidRequest');
  const passed = out.reduce((n, c) => n + c.length, 0);
  assert.ok(passed <= body.length - 1, 'the overflowing chunk was not pushed');
  assert.equal((await runDigest([], { expect: { size: 0 } })).error, undefined);
});

test('BodyDigest: maxSize without a declared size is EntityTooLarge before the overflowing chunk is passed on', async () => {
  const max = 100_000;
  const { error, out } = await runDigest(bodyChunks, { maxSize: max });
  assertS3Code(error, 'EntityTooLarge');
  assert.ok(isS3Error(error) && error.extra.MaxSizeAllowed === String(max));
  assert.ok(out.reduce((n, c) => n + c.length, 0) <= max, 'nothing past the limit was passed on');
  // Exactly at the limit is allowed; one byte over is not.
  assert.equal((await runDigest(bodyChunks, { maxSize: body.length })).error, undefined);
  assertS3Code((await runDigest(bodyChunks, { maxSize: body.length - 1 })).error, 'EntityTooLarge');
  assertS3Code((await runDigest([Buffer.alloc(11)], { maxSize: 10 })).error, 'EntityTooLarge');
  assert.equal((await runDigest([Buffer.alloc(10)], { maxSize: 10 })).error, undefined);
});

test('BodyDigest rejects expect.checksum without an algorithm', () => {
  assert.throws(() => new BodyDigest({ expect: { checksum: () => 'x' } }), /checksumAlgorithm/);
});
