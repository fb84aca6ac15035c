import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { isS3Error } from '../s3/errors.js';
import { BodyDigest } from './digest.js';
import { runDigest } from './digest-harness.js';
import { createChecksum } from './checksum.js';
import { HashPool, OFFLOAD_THRESHOLD } from './hash-pool.js';
import { CHECKSUM_ALGORITHMS } from './types.js';

const MiB = 1024 * 1024;
const FAILING_WORKER = new URL('../../test/helpers/failing-hash-worker.ts', import.meta.url);

/** `body` cut into pieces of the given sizes, cycling (the last piece takes the rest). */
function cut(body: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < body.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(body.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

/** Runs `fn` with a pool of its own, closed afterwards. */
async function withPool(opts: ConstructorParameters<typeof HashPool>[0], fn: (pool: HashPool) => Promise<void>): Promise<void> {
  const pool = new HashPool(opts);
  try {
    await fn(pool);
  } finally {
    await pool.close();
  }
}

const body = randomBytes(5 * MiB + 12_345);
const md5Hex = createHash('md5').update(body).digest('hex');
const sha256Hex = createHash('sha256').update(body).digest('hex');

test('a large body is hashed on a pool thread: same MD5, SHA-256 and checksums as on the main thread', async () => {
  await withPool({ size: 2 }, async (pool) => {
    // Pieces smaller than a batch, straddling batches, and one larger than several batches.
    const chunks = cut(body, [65_536, 1, 777_777, 3 * MiB + 5]);
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const reference = createChecksum(algorithm);
      reference.update(body);
      const { digest, out, error } = await runDigest(chunks, { hashPool: pool, sha256: true, checksumAlgorithm: algorithm, expect: { size: body.length } });
      assert.equal(error, undefined);
      assert.ok(Buffer.concat(out).equals(body), 'the bytes pass through unchanged');
      assert.equal(digest.md5Hex, md5Hex);
      assert.equal(digest.sha256Hex, sha256Hex);
      assert.equal(digest.checksumBase64, reference.digest().toString('base64'), algorithm);
      assert.equal(digest.size, body.length);
    }
    assert.ok(pool.threadCount >= 1, 'the pool did the hashing');
  });
});

test('a body of undeclared size moves to a pool thread once past the threshold, its first bytes included', async () => {
  await withPool({ size: 1 }, async (pool) => {
    const { digest, error } = await runDigest(cut(body, [100_000]), { hashPool: pool, checksumAlgorithm: 'CRC32' });
    assert.equal(error, undefined);
    assert.equal(digest.md5Hex, md5Hex);
    assert.equal(pool.threadCount, 1);
  });
});

test('small bodies, declared or not, are hashed on the calling thread: no thread starts', async () => {
  await withPool({ size: 1 }, async (pool) => {
    const small = body.subarray(0, OFFLOAD_THRESHOLD - 1);
    for (const size of [small.length, undefined]) {
      const { digest, error } = await runDigest(cut(small, [4096]), { hashPool: pool, expect: { size } });
      assert.equal(error, undefined);
      assert.equal(digest.md5Hex, createHash('md5').update(small).digest('hex'));
    }
    const empty = await runDigest([], { hashPool: pool });
    assert.equal(empty.digest.md5Hex, createHash('md5').digest('hex'));
    assert.equal(pool.threadCount, 0);
  });
});

test('on a pool thread, a wrong Content-MD5, x-amz-content-sha256 or checksum still fails the stream', async () => {
  await withPool({ size: 1 }, async (pool) => {
    const chunks = cut(body, [65_536]);
    const wrongMd5 = createHash('md5').update('other').digest('base64');
    const badMd5 = await runDigest(chunks, { hashPool: pool, expect: { size: body.length, md5Base64: wrongMd5 } });
    assert.ok(isS3Error(badMd5.error) && badMd5.error.code === 'BadDigest', String(badMd5.error));
    const badSha = await runDigest(chunks, { hashPool: pool, expect: { size: body.length, sha256Hex: '0'.repeat(64) } });
    assert.ok(isS3Error(badSha.error) && badSha.error.code === 'XAmzContentSHA256Mismatch', String(badSha.error));
    const badCrc = await runDigest(chunks, { hashPool: pool, checksumAlgorithm: 'CRC32', expect: { checksum: () => 'AAAAAA==' } });
    assert.ok(isS3Error(badCrc.error) && badCrc.error.code === 'BadDigest', String(badCrc.error));
    const good = await runDigest(chunks, { hashPool: pool, expect: { size: body.length, md5Base64: Buffer.from(md5Hex, 'hex').toString('base64'), sha256Hex } });
    assert.equal(good.error, undefined);
  });
});

test('a body destroyed mid-stream drops its job; the pool goes on with the next body', { timeout: 30_000 }, async () => {
  await withPool({ size: 1 }, async (pool) => {
    const source = new Readable({ read() {} });
    const digest = new BodyDigest({ hashPool: pool, expect: { size: body.length } });
    source.pipe(digest);
    digest.resume();
    source.push(body.subarray(0, 3 * MiB));
    await new Promise((r) => setTimeout(r, 50));
    const failed = new Promise((resolve) => digest.once('error', resolve));
    digest.destroy(new Error('client went away'));
    assert.equal(((await failed) as Error).message, 'client went away');
    const next = await runDigest(cut(body, [65_536]), { hashPool: pool, expect: { size: body.length } });
    assert.equal(next.error, undefined);
    assert.equal(next.digest.md5Hex, md5Hex);
  });
});

test('a hashing thread that dies fails its body at once (a plain Error: InternalError), and the next body gets a new thread', { timeout: 30_000 }, async () => {
  const failing = new HashPool({ size: 1, script: FAILING_WORKER });
  try {
    // The body stalls half way, as on a slow network: the failure must not wait for its end.
    const source = new Readable({ read() {} });
    const result = runDigest(source, { hashPool: failing, expect: { size: body.length } });
    source.push(body.subarray(0, 2 * MiB));
    const { error } = await result;
    assert.ok(error instanceof Error && !isS3Error(error), String(error));
    assert.match(error.message, /hashing thread stopped/);
    assert.equal(failing.threadCount, 0, 'the dead thread left the pool');
    assert.equal(failing.batchesInFlight, 0, 'its batches no longer count against the pool');
  } finally {
    await failing.close();
  }
  await withPool({ size: 1 }, async (pool) => {
    const { error, digest } = await runDigest(cut(body, [65_536]), { hashPool: pool, expect: { size: body.length } });
    assert.equal(error, undefined);
    assert.equal(digest.md5Hex, md5Hex);
  });
});

test('digests missing from a thread\'s answer fail the body: never an empty ETag or a skipped checksum', { timeout: 30_000 }, async () => {
  const pool = new HashPool({ size: 1, script: new URL('../../test/helpers/incomplete-hash-worker.ts', import.meta.url) });
  try {
    const crc = createChecksum('CRC32');
    crc.update(body);
    const checksum = crc.digest().toString('base64');
    const { error } = await runDigest(cut(body, [65_536]), { hashPool: pool, checksumAlgorithm: 'CRC32', expect: { size: body.length, checksum: () => checksum } });
    assert.ok(error instanceof Error && !isS3Error(error), String(error));
    assert.match(error.message, /incomplete digests/);
  } finally {
    await pool.close();
  }
});

test('close() stops the threads and fails the bodies still being hashed', { timeout: 30_000 }, async () => {
  const pool = new HashPool({ size: 2 });
  const source = new Readable({ read() {} });
  const result = runDigest(source, { hashPool: pool, expect: { size: body.length } });
  source.push(body.subarray(0, 2 * MiB));
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(pool.threadCount >= 1);
  await pool.close();
  assert.equal(pool.threadCount, 0);
  const { error } = await result;
  assert.match(String(error), /hashing threads were stopped/);
});

test('idle hashing threads do not keep a process alive', async () => {
  // A script that hashes a large body on the shared pool and never closes it must still exit.
  const script = `
    import { Readable } from 'node:stream';
    import { BodyDigest } from ${JSON.stringify(new URL('./digest.ts', import.meta.url).href)};
    import { sharedHashPool } from ${JSON.stringify(new URL('./hash-pool.ts', import.meta.url).href)};
    const d = new BodyDigest({ expect: { size: 3 * 1024 * 1024 } });
    Readable.from([Buffer.alloc(1024 * 1024, 1), Buffer.alloc(2 * 1024 * 1024, 2)]).pipe(d).resume();
    d.on('end', () => console.log(d.md5Hex, sharedHashPool().threadCount));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the process did not exit by itself:\n${out}`));
    }, 20_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const expected = createHash('md5').update(Buffer.alloc(1024 * 1024, 1)).update(Buffer.alloc(2 * 1024 * 1024, 2)).digest('hex');
  assert.equal(code, 0, out);
  assert.equal(out.trim(), `${expected} 1`);
});

test('a body waits for its thread: no more than a few batches go out unhashed (bounded memory)', { timeout: 30_000 }, async () => {
  const pool = new HashPool({ size: 1, script: new URL('../../test/helpers/stalled-hash-worker.ts', import.meta.url) });
  let offered = 0;
  // 64 MiB on offer, as fast as the digest takes it.
  const source = new Readable({
    read() {
      if (offered >= 64 * MiB) return this.push(null);
      offered += 65_536;
      this.push(body.subarray(0, 65_536));
    },
  });
  let passed = 0;
  const digest = new BodyDigest({ hashPool: pool, expect: { size: 64 * MiB } });
  digest.on('data', (c: Buffer) => (passed += c.length));
  digest.on('error', () => undefined);
  source.pipe(digest);
  await new Promise((r) => setTimeout(r, 500));
  // MAX_IN_FLIGHT (4) batches of 1 MiB out, one being filled, and the streams' own small buffers.
  assert.ok(passed <= 6 * MiB, `${passed} bytes went through while the thread hashed nothing`);
  assert.ok(offered <= 7 * MiB, `${offered} bytes were read from the source`);
  assert.ok(passed >= 4 * MiB, `only ${passed} bytes went through`);
  await pool.close();
  source.destroy();
});

test('without its worker module (skep bundled into one file), a pool is unusable and bodies are hashed in place', async () => {
  const pool = new HashPool({ script: new URL('./no-such-hash-worker.js', import.meta.url) });
  assert.equal(pool.usable, false);
  const { digest, error } = await runDigest(cut(body, [65_536]), { hashPool: pool, expect: { size: body.length } });
  assert.equal(error, undefined);
  assert.equal(digest.md5Hex, md5Hex);
  assert.equal(pool.threadCount, 0);
});

/** A BodyDigest on `pool` fed up to `size` bytes as fast as it takes them; counts what went through. */
function flood(pool: HashPool, size: number) {
  let offered = 0;
  const source = new Readable({
    read() {
      if (offered >= size) return this.push(null);
      offered += 65_536;
      this.push(body.subarray(0, 65_536));
    },
  });
  const digest = new BodyDigest({ hashPool: pool, expect: { size } });
  const state = { passed: 0, source, digest };
  digest.on('data', (c: Buffer) => (state.passed += c.length));
  digest.on('error', () => undefined);
  source.pipe(digest);
  return state;
}

test('the pool caps the batches out at its threads over all bodies: many large bodies cannot each hold their own few MiB', { timeout: 30_000 }, async () => {
  // Four bodies would put 4 × 4 batches out on a thread that hashes nothing; the pool allows 6.
  const pool = new HashPool({ size: 1, maxBatchesInFlight: 6, script: new URL('../../test/helpers/stalled-hash-worker.ts', import.meta.url) });
  const bodies = Array.from({ length: 4 }, () => flood(pool, 64 * MiB));
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(pool.batchesInFlight, 6);
    const passed = bodies.reduce((n, b) => n + b.passed, 0);
    // 6 batches out, at most one more (full, waiting) per body, and the streams' small buffers.
    assert.ok(passed <= (6 + 4) * MiB + 4 * 128 * 1024, `${passed / MiB} MiB went through while the thread hashed nothing`);
    assert.ok(passed >= 6 * MiB, `only ${passed} bytes went through`);
  } finally {
    await pool.close();
    for (const b of bodies) b.source.destroy();
  }
});

test('bodies waiting for room in the pool all finish, in turn, with their own digests', { timeout: 60_000 }, async () => {
  await withPool({ size: 1, maxBatchesInFlight: 2 }, async (pool) => {
    const bodies = Array.from({ length: 5 }, (_, i) => body.subarray(i * 1000, i * 1000 + 4 * MiB + i));
    const results = await Promise.all(bodies.map((b) => runDigest(cut(b, [65_536, 300_000]), { hashPool: pool, checksumAlgorithm: 'CRC32C', expect: { size: b.length } })));
    results.forEach(({ digest, error }, i) => {
      assert.equal(error, undefined);
      assert.equal(digest.md5Hex, createHash('md5').update(bodies[i]).digest('hex'), `body ${i}`);
    });
    assert.equal(pool.batchesInFlight, 0, 'every batch came back');
  });
});

test('a thread that dies gives back the room its batches held: the bodies queued behind them fail, the next ones go out', { timeout: 60_000 }, async () => {
  const stalled = new HashPool({ size: 1, maxBatchesInFlight: 2, script: new URL('../../test/helpers/stalled-hash-worker.ts', import.meta.url) });
  try {
    const bodies = [flood(stalled, 16 * MiB), flood(stalled, 16 * MiB)];
    const failed = bodies.map((b) => new Promise<Error>((resolve) => b.digest.once('error', resolve)));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(stalled.batchesInFlight, 2, 'one body waits for room');
    // The batches the dead thread held never come back; the pool must not wait for them.
    await Promise.all(stalled.workers.map((w) => w.terminate()));
    for (const err of await Promise.all(failed)) assert.match(err.message, /hashing thread stopped/);
    assert.equal(stalled.batchesInFlight, 0);
    const next = flood(stalled, 16 * MiB);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(stalled.batchesInFlight, 2, 'the next body has the room');
    next.source.destroy();
    for (const b of bodies) b.source.destroy();
  } finally {
    await stalled.close();
  }
});

test('a size hint (a copy\'s source size) places a body as a declared size would, and checks nothing', { timeout: 30_000 }, async () => {
  await withPool({ size: 1 }, async (pool) => {
    const small = body.subarray(0, OFFLOAD_THRESHOLD - 1);
    const here = await runDigest(cut(small, [65_536]), { hashPool: pool, sizeHint: small.length });
    assert.equal(here.error, undefined);
    assert.equal(pool.threadCount, 0, 'a small hinted body never starts a thread');
    // Large: the job starts with the first chunk, not after a threshold's worth is held.
    const source = new Readable({ read() {} });
    const result = runDigest(source, { hashPool: pool, sizeHint: body.length });
    source.push(body.subarray(0, 65_536));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pool.threadCount, 1, 'hashing began on a thread with the first chunk');
    source.push(body.subarray(65_536));
    source.push(null);
    const { digest, error } = await result;
    assert.equal(error, undefined);
    assert.equal(digest.md5Hex, md5Hex);
    // A hint is no promise: a body of another size is not refused.
    const shorter = await runDigest(cut(body, [65_536]), { hashPool: pool, sizeHint: body.length + 10 });
    assert.equal(shorter.error, undefined);
  });
});
