import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createChecksum } from '../src/checksums/checksum.js';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { blobFiles, raw, seedSignatureOf, send, signedChunkedBody, signedChunkedBodyWithTrailer, signedHeaders, sleep, tmpFiles, unsignedChunkedBodyWithTrailer, xmlField } from './helpers/raw-s3.js';
import { MiB, availability, awsEnv, findExecutable, md5Hex, run, tempDir } from './helpers/clients.js';
import { serveProcess } from './helpers/serve-process.js';
import { HashPool, OFFLOAD_THRESHOLD, sharedHashPool } from '../src/checksums/hash-pool.js';

// Bodies past OFFLOAD_THRESHOLD are hashed on worker threads (src/checksums/hash-pool.ts). Through
// real clients and a real server: the ETag and checksums they get are the body's, a wrong
// Content-MD5, checksum or payload hash still refuses the body before anything is stored, a body
// cut short or a thread that dies leaves nothing, and the threads stop with the server.

const SIZE = 6 * MiB + 4321;
assert.ok(SIZE > OFFLOAD_THRESHOLD);
const body = randomBytes(SIZE);
const bodyMd5 = md5Hex(body);
const crc32Base64 = (data: Buffer) => {
  const crc = createChecksum('CRC32');
  crc.update(data);
  return crc.digest().toString('base64');
};

const awsPath = findExecutable('aws');
const aws = availability('aws', awsPath, 'the AWS CLI on PATH (npm run test:setup)');

let server: TestServer;
const bucket = `hashing-${process.pid}`;

before(async () => {
  server = await startTestServer();
  await server.client().send(new CreateBucketCommand({ Bucket: bucket }));
});
after(async () => {
  await server?.stop();
});

async function assertNothingStored(key: string, blobsBefore: string[]): Promise<void> {
  const head = await raw(server, { method: 'HEAD', path: `/${bucket}/${key}` });
  assert.equal(head.status, 404, `${key} must not exist`);
  assert.deepEqual(await blobFiles(server), blobsBefore, 'no blob left behind');
  assert.deepEqual(await tmpFiles(server), [], 'no temp file left behind');
}

/** A signed UNSIGNED-PAYLOAD PUT whose body the test writes piece by piece. */
async function openPut(key: string, headers: Record<string, string> = {}) {
  const signed = await signedHeaders(server, { method: 'PUT', path: `/${bucket}/${key}`, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(SIZE), ...headers } });
  return openRequest(key, signed);
}

/** A PUT with these (signed) headers whose body the test writes piece by piece. */
function openRequest(key: string, signed: Record<string, string>) {
  const req = httpRequest({ host: '127.0.0.1', port: server.port, method: 'PUT', path: `/${bucket}/${key}`, headers: signed, agent: false });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    // Once the server has answered, it may close before the body is all sent: not a failure.
    req.on('error', (err) => setTimeout(() => reject(err), 2000));
  });
  return { req, response };
}

describe('large bodies hashed off the main thread', () => {
  it('a large PutObject from the JS SDK (streamed, CRC32 trailer) gets the MD5 ETag and the right checksum', async () => {
    const s3 = server.client();
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'sdk-large', Body: Readable.from([body.subarray(0, 3 * MiB), body.subarray(3 * MiB)]), ContentLength: SIZE, ChecksumAlgorithm: 'CRC32' }),
    );
    assert.equal(put.ETag, `"${bodyMd5}"`);
    assert.equal(put.ChecksumCRC32, crc32Base64(body));
    assert.ok(sharedHashPool().threadCount >= 1, 'the body was hashed on a pool thread');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk-large', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, crc32Base64(body));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  });

  it('a large PutObject with a signed payload hash (SHA-256) and Content-MD5 is stored with the MD5 ETag', async () => {
    const r = await raw(server, { method: 'PUT', path: `/${bucket}/signed-large`, body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.etag, `"${bodyMd5}"`);
  });

  it('the AWS CLI uploads a large file with put-object and gets the MD5 ETag', { skip: aws.skip }, async () => {
    const work = await tempDir('hashing-awscli');
    try {
      const file = join(work.path, 'large.bin');
      await writeFile(file, body);
      const { stdout } = await run(aws.require(), ['--endpoint-url', server.url, 's3api', 'put-object', '--bucket', bucket, '--key', 'cli-large', '--body', file, '--output', 'json'], {
        env: awsEnv(work.path),
        cwd: work.path,
      });
      assert.equal(JSON.parse(stdout).ETag, `"${bodyMd5}"`);
      const head = await server.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'cli-large' }));
      assert.equal(head.ContentLength, SIZE);
      assert.equal(head.ETag, `"${bodyMd5}"`);
    } finally {
      await work.remove();
    }
  });

  it('a wrong Content-MD5 on a large body is BadDigest and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const wrong = createHash('md5').update('something else').digest('base64');
    const r = await raw(server, { method: 'PUT', path: `/${bucket}/bad-md5`, body, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-md5': wrong } });
    assert.equal(r.status, 400, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'BadDigest');
    await assertNothingStored('bad-md5', blobs);
  });

  it('a wrong x-amz-checksum-crc32 header on a large body is BadDigest and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const r = await raw(server, { method: 'PUT', path: `/${bucket}/bad-crc`, body, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'x-amz-checksum-crc32': crc32Base64(Buffer.from('x')) } });
    assert.equal(r.status, 400, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'BadDigest');
    await assertNothingStored('bad-crc', blobs);
  });

  it('a wrong trailing checksum on a large aws-chunked body is BadDigest and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const framed = unsignedChunkedBodyWithTrailer([body.subarray(0, 64 * 1024), body.subarray(64 * 1024)], { 'x-amz-checksum-crc32': crc32Base64(Buffer.from('x')) });
    const r = await raw(server, {
      method: 'PUT',
      path: `/${bucket}/bad-trailer`,
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(SIZE), 'x-amz-trailer': 'x-amz-checksum-crc32' },
      body: Buffer.concat(framed),
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'BadDigest');
    await assertNothingStored('bad-trailer', blobs);
  });

  it('a large body that does not match its signed x-amz-content-sha256 is XAmzContentSHA256Mismatch and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const tampered = Buffer.from(body);
    tampered[SIZE - 1] ^= 1;
    const r = await raw(server, { method: 'PUT', path: `/${bucket}/bad-sha`, body, sendBody: tampered });
    assert.equal(r.status, 400, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'XAmzContentSHA256Mismatch');
    await assertNothingStored('bad-sha', blobs);
  });

  /**
   * A signed aws-chunked PUT of `body` in 64 KiB chunks (as SDKs frame it), with signed trailing
   * headers when `trailers` is given (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER); `tamper` changes
   * the framed bytes.
   */
  async function signedChunkedPut(key: string, opts: { tamper?: (framed: Buffer[]) => void; trailers?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const { headers, framed } = await signedChunked(key, opts);
    opts.tamper?.(framed);
    return send(server, 'PUT', `/${bucket}/${key}`, headers, framed);
  }

  /** The signed headers and framed body of signedChunkedPut. */
  async function signedChunked(key: string, opts: { trailers?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const chunks: Buffer[] = [];
    for (let pos = 0; pos < SIZE; pos += 64 * 1024) chunks.push(body.subarray(pos, pos + 64 * 1024));
    const { trailers } = opts;
    const frame = (seed: string, date: string) => (trailers ? signedChunkedBodyWithTrailer(chunks, trailers, seed, date) : signedChunkedBody(chunks, seed, date));
    const framedLength = frame('0'.repeat(64), '20200101T000000Z').reduce((n, b) => n + b.length, 0);
    const headers = await signedHeaders(server, {
      method: 'PUT',
      path: `/${bucket}/${key}`,
      payloadHash: trailers ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(SIZE),
        'content-length': String(framedLength),
        ...(trailers ? { 'x-amz-trailer': Object.keys(trailers).join(',') } : {}),
        ...opts.headers,
      },
    });
    return { headers, framed: frame(seedSignatureOf(headers), headers['x-amz-date']) };
  }

  /** Runs `fn`, counting the jobs opened on the shared pool and the bytes posted to its threads. */
  async function posted<T>(fn: () => Promise<T>): Promise<{ result: T; jobs: number; bytes: number }> {
    const pool = sharedHashPool();
    const post = pool.post;
    let jobs = 0;
    let bytes = 0;
    pool.post = function (this: HashPool, ...args: Parameters<HashPool['post']>) {
      if (args[1].t === 'open') jobs++;
      if (args[1].t === 'data') bytes += args[1].len;
      post.apply(this, args);
    };
    try {
      return { result: await fn(), jobs, bytes };
    } finally {
      pool.post = post;
    }
  }

  it('a large signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) is stored with the MD5 ETag', async () => {
    const r = await signedChunkedPut('signed-chunked');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.etag, `"${bodyMd5}"`);
    const got = await server.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'signed-chunked' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  });

  it('a changed byte in a chunk of a large signed aws-chunked body is SignatureDoesNotMatch and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const r = await signedChunkedPut('signed-chunked-bad', {
      tamper: (framed) => {
        const i = 40; // a chunk in the middle
        framed[i] = Buffer.from(framed[i]);
        framed[i][framed[i].length - 3] ^= 1; // its last data byte
      },
    });
    assert.equal(r.status, 403, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'SignatureDoesNotMatch');
    await assertNothingStored('signed-chunked-bad', blobs);
  });

  it('a large signed aws-chunked body with a signed CRC32 trailer and Content-MD5 is hashed in one job, its bytes posted to the thread once', async () => {
    const md5 = createHash('md5').update(body).digest('base64');
    const { result: r, jobs, bytes } = await posted(() => signedChunkedPut('signed-trailer', { trailers: { 'x-amz-checksum-crc32': crc32Base64(body) }, headers: { 'content-md5': md5 } }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.etag, `"${bodyMd5}"`);
    assert.equal(r.headers['x-amz-checksum-crc32'], crc32Base64(body));
    assert.equal(jobs, 1, 'one job for the chunk hashes and the digests');
    assert.equal(bytes, SIZE, 'each byte crossed to the hashing thread once');
    const got = await server.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'signed-trailer', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, crc32Base64(body));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  });

  it('a wrong chunk signature in the middle of a large signed aws-chunked body is SignatureDoesNotMatch and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const r = await signedChunkedPut('signed-chunked-bad-sig', {
      trailers: { 'x-amz-checksum-crc32': crc32Base64(body) },
      tamper: (framed) => {
        const i = 50;
        framed[i] = Buffer.from(framed[i].toString('latin1').replace(/chunk-signature=[0-9a-f]{64}/, `chunk-signature=${'2'.repeat(64)}`), 'latin1');
      },
    });
    assert.equal(r.status, 403, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'SignatureDoesNotMatch');
    await assertNothingStored('signed-chunked-bad-sig', blobs);
  });

  it('a wrong (correctly signed) trailing CRC32 on a large signed aws-chunked body is BadDigest and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const r = await signedChunkedPut('signed-trailer-bad-crc', { trailers: { 'x-amz-checksum-crc32': crc32Base64(Buffer.from('x')) } });
    assert.equal(r.status, 400, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'BadDigest');
    await assertNothingStored('signed-trailer-bad-crc', blobs);
  });

  it('a wrong Content-MD5 on a large signed aws-chunked body is BadDigest and stores nothing', async () => {
    const blobs = await blobFiles(server);
    const wrong = createHash('md5').update('something else').digest('base64');
    const r = await signedChunkedPut('signed-chunked-bad-md5', { headers: { 'content-md5': wrong } });
    assert.equal(r.status, 400, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'BadDigest');
    await assertNothingStored('signed-chunked-bad-md5', blobs);
  });

  it('a large body cut off mid-stream leaves nothing', async () => {
    const blobs = await blobFiles(server);
    const { req, response } = await openPut('cut-off');
    response.catch(() => undefined);
    req.write(body.subarray(0, 3 * MiB));
    await sleep(200);
    req.destroy();
    for (let i = 0; i < 50 && (await tmpFiles(server)).length > 0; i++) await sleep(100);
    await assertNothingStored('cut-off', blobs);
  });

  it('a hashing thread that dies mid-body fails the PUT with 500 InternalError and stores nothing', { timeout: 60_000 }, async () => {
    const blobs = await blobFiles(server);
    const { req, response } = await openPut('thread-died');
    req.write(body.subarray(0, 3 * MiB));
    const pool = sharedHashPool();
    for (let i = 0; i < 100 && pool.threadCount === 0; i++) await sleep(50);
    await sleep(200);
    await Promise.all(pool.workers.map((w) => w.terminate()));
    req.end(body.subarray(3 * MiB));
    const r = await response;
    assert.equal(r.status, 500, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'InternalError');
    await assertNothingStored('thread-died', blobs);
    // The next large PUT gets a fresh thread.
    const again = await raw(server, { method: 'PUT', path: `/${bucket}/after-crash`, body, payloadHash: 'UNSIGNED-PAYLOAD' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.etag, `"${bodyMd5}"`);
  });

  it('a hashing thread that dies mid signed aws-chunked body (one job for chunks and digests) fails the PUT with 500 InternalError and stores nothing', { timeout: 60_000 }, async () => {
    const blobs = await blobFiles(server);
    const { headers, framed } = await signedChunked('signed-thread-died', { trailers: { 'x-amz-checksum-crc32': crc32Base64(body) } });
    const { req, response } = openRequest('signed-thread-died', headers);
    const half = Math.floor(framed.length / 2);
    for (const piece of framed.slice(0, half)) req.write(piece);
    const pool = sharedHashPool();
    for (let i = 0; i < 100 && pool.threadCount === 0; i++) await sleep(50);
    await sleep(200);
    await Promise.all(pool.workers.map((w) => w.terminate()));
    for (const piece of framed.slice(half)) req.write(piece);
    req.end();
    const r = await response;
    assert.equal(r.status, 500, r.text);
    assert.equal(xmlField(r.text, 'Code'), 'InternalError');
    await assertNothingStored('signed-thread-died', blobs);
    const again = await signedChunkedPut('signed-after-crash');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.etag, `"${bodyMd5}"`);
  });

  it('closing the server stops its hashing threads', async () => {
    const pool = sharedHashPool();
    const r = await raw(server, { method: 'PUT', path: `/${bucket}/before-close`, body, payloadHash: 'UNSIGNED-PAYLOAD' });
    assert.equal(r.status, 200, r.text);
    assert.ok(pool.threadCount >= 1);
    await server.close();
    assert.equal(pool.threadCount, 0);
  });
});

it('skep serve exits promptly on SIGTERM after hashing large bodies on its threads', { timeout: 120_000 }, async () => {
  const dir = await tempDir('hashing-serve');
  const proc = await serveProcess(dir.path);
  try {
    const s3 = proc.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'serve-hashing' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'serve-hashing', Key: 'large', Body: body }));
    assert.equal(put.ETag, `"${bodyMd5}"`);
    const started = Date.now();
    await proc.stop();
    assert.equal(proc.child.exitCode, 0, proc.output());
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms to stop`);
  } finally {
    if (proc.child.exitCode === null) await proc.kill9();
    await dir.remove();
  }
});
