// ChunkedDecoder on large signed bodies, whose chunk hashes come from a HashPool thread: the same
// output and the same refusals as when it hashes them itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChunkedDecoder } from './chunked-decoder.js';
import type { ChunkSigning } from './authenticate.js';
import { S3Error } from '../s3/errors.js';
import { HashPool, OFFLOAD_THRESHOLD } from '../checksums/hash-pool.js';
import { signedChunkedBody, signedChunkedBodyWithTrailer, signingKey } from '../../test/helpers/raw-s3.js';

const MiB = 1024 * 1024;
const SECRET = 'offload-test-secret-key-0123456789abcdef';
const AMZ_DATE = '20260101T000000Z';
const SEED = 'a'.repeat(64);
const signing: ChunkSigning = {
  key: signingKey(SECRET, AMZ_DATE.slice(0, 8)),
  amzDate: AMZ_DATE,
  scope: `${AMZ_DATE.slice(0, 8)}/us-east-1/s3/aws4_request`,
  seedSignature: SEED,
};

const data = randomBytes(3 * MiB + 777);
// Chunk sizes as clients pick them (64 KiB), plus odd ones and one spanning several pool batches.
const chunkSizes = [65_536, 1, 8_000, 2.5 * MiB];
function chunksOf(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < body.length; i++) {
    const n = chunkSizes[i % chunkSizes.length];
    out.push(body.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

/** The framed body cut into network-sized pieces (64 KiB), as a socket delivers it. */
function wire(framed: Buffer[]): Buffer[] {
  const all = Buffer.concat(framed);
  const out: Buffer[] = [];
  for (let pos = 0; pos < all.length; pos += 65_536) out.push(all.subarray(pos, pos + 65_536));
  return out;
}

async function decode(pieces: Buffer[], pool: HashPool | null, trailer = false): Promise<{ output: Buffer; error: unknown; decoder: ChunkedDecoder }> {
  const decoder = new ChunkedDecoder({ signing, trailer, decodedLength: data.length, hashPool: pool });
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  let error: unknown = null;
  try {
    await pipeline(Readable.from(pieces), decoder, sink);
  } catch (err) {
    error = err;
  }
  return { output: Buffer.concat(out), error, decoder };
}

function assertSignatureMismatch(error: unknown): void {
  assert.ok(error instanceof S3Error && error.code === 'SignatureDoesNotMatch', `expected SignatureDoesNotMatch, got ${String(error)}`);
}

test('a large signed body decodes with its chunk signatures checked on a pool thread', { timeout: 60_000 }, async () => {
  assert.ok(data.length >= OFFLOAD_THRESHOLD);
  const pool = new HashPool({ size: 1 });
  try {
    const framed = signedChunkedBody(chunksOf(data), SEED, AMZ_DATE, SECRET);
    const offloaded = await decode(wire(framed), pool);
    assert.equal(offloaded.error, null);
    assert.ok(offloaded.output.equals(data));
    assert.equal(pool.threadCount, 1, 'the chunks were hashed on the pool');
    const here = await decode(wire(framed), null);
    assert.equal(here.error, null);
    assert.ok(here.output.equals(data));
    // Framing handed over whole, as one buffer.
    const whole = await decode([Buffer.concat(framed)], pool);
    assert.equal(whole.error, null);
    assert.ok(whole.output.equals(data));
  } finally {
    await pool.close();
  }
});

test('on a pool thread, a changed byte in any chunk, or a wrong final-chunk signature, is SignatureDoesNotMatch', { timeout: 60_000 }, async () => {
  const pool = new HashPool({ size: 1 });
  try {
    const chunks = chunksOf(data);
    for (const which of [0, 3, chunks.length - 1]) {
      const tampered = chunks.map((c) => Buffer.from(c));
      const framed = signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET);
      // Same signatures, one byte of one chunk's data changed.
      const header = framed[which].indexOf('\r\n') + 2;
      framed[which] = Buffer.from(framed[which]);
      framed[which][header + tampered[which].length - 1] ^= 1;
      const { error } = await decode(wire(framed), pool);
      assertSignatureMismatch(error);
    }
    const framed = signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET);
    const last = framed.length - 1;
    framed[last] = Buffer.from(framed[last].toString('latin1').replace(/chunk-signature=[0-9a-f]{64}/, `chunk-signature=${'0'.repeat(64)}`), 'latin1');
    assertSignatureMismatch((await decode(wire(framed), pool)).error);
    // The pool goes on serving good bodies.
    const good = await decode(wire(signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET)), pool);
    assert.equal(good.error, null);
  } finally {
    await pool.close();
  }
});

test('a large signed body with a trailer: the trailer signature chains from the last chunk hashed on the pool', { timeout: 60_000 }, async () => {
  const pool = new HashPool({ size: 1 });
  try {
    const trailers = { 'x-amz-checksum-crc32': 'AAAAAA==' };
    const framed = signedChunkedBodyWithTrailer(chunksOf(data), trailers, SEED, AMZ_DATE, SECRET);
    const ok = await decode(wire(framed), pool, true);
    assert.equal(ok.error, null);
    assert.ok(ok.output.equals(data));
    assert.equal(ok.decoder.trailers.get('x-amz-checksum-crc32'), 'AAAAAA==');
    const bad = framed.map((b) => Buffer.from(b));
    const last = bad.length - 1;
    bad[last] = Buffer.from(bad[last].toString('latin1').replace('AAAAAA==', 'AAAAAQ=='), 'latin1');
    assertSignatureMismatch((await decode(wire(bad), pool, true)).error);
  } finally {
    await pool.close();
  }
});
