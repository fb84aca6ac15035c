import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ROOT_KEY, captureLog, startTestServer, useS3Server } from './helpers/server.js';
import { outcome } from './helpers/tokens.js';
import { postPolicyFields } from './helpers/post-form.js';
import { blobFiles, queryString, requestHead, sendOnSocket, settledBlobFiles, signedHeaders, sleep, tmpFiles, type RawRequest } from './helpers/raw-s3.js';

// What clients that misbehave or race leave behind: aborted uploads, concurrent writers to one
// key, and the blob files on disk that must match what the metadata references.

const ctx = useS3Server('rob');
const { newBucket } = ctx;

async function assertAbsent(bucket: string, key: string): Promise<void> {
  const err = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => assert.fail(`${key} must not exist`),
    (e: unknown) => e as S3ServiceException,
  );
  assert.equal(err.$metadata.httpStatusCode, 404);
}

/** Polls until the blob folder holds exactly `expected` (and tmp/ is empty), or fails after ~3 s. */
async function settleBlobs(expected: string[]): Promise<void> {
  let files: string[] = [];
  let tmp: string[] = [];
  for (let i = 0; i < 30; i++) {
    files = await blobFiles(ctx.server);
    tmp = await tmpFiles(ctx.server);
    if (tmp.length === 0 && JSON.stringify(files) === JSON.stringify(expected)) return;
    await sleep(100);
  }
  assert.deepEqual(tmp, [], 'no temp files left');
  assert.deepEqual(files, expected, 'blob files');
}

/** Polls until the blob folder holds `before` plus exactly `added` new files. */
async function settleNewBlobs(before: string[], added: number): Promise<void> {
  let files: string[] = [];
  for (let i = 0; i < 30; i++) {
    files = await blobFiles(ctx.server);
    if (files.length === before.length + added && before.every((f) => files.includes(f))) return;
    await sleep(100);
  }
  assert.equal(files.length, before.length + added, 'blob files');
}

/** Sends `request` with `sent` of its body, then cuts the connection. */
function cutRequest(request: { method: string; path: string; headers: Record<string, string> }, sent: Buffer): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: ctx.server.port, ...request, agent: false });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.write(sent, () => {
      // Give the server time to start writing the blob, then vanish.
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 150);
    });
  });
}

/** Starts a signed upload, sends `sent` of the declared bytes, then cuts the connection. */
async function abortedUpload(r: RawRequest & { declaredLength: number; sent: Buffer }): Promise<void> {
  const headers = await signedHeaders(ctx.server, { ...r, payloadHash: r.payloadHash ?? 'UNSIGNED-PAYLOAD' });
  await cutRequest({ method: r.method, path: r.path + queryString(r.query), headers: { ...headers, 'content-length': String(r.declaredLength) } }, r.sent);
}

describe('aborted uploads', () => {
  test('a PutObject cut off mid-body leaves no object and no blob file', async () => {
    const bucket = await newBucket('abort');
    const before = await settledBlobFiles(ctx.server);
    await abortedUpload({ method: 'PUT', path: `/${bucket}/partial`, declaredLength: 4 * 1024 * 1024, sent: randomBytes(1024 * 1024) });
    await assertAbsent(bucket, 'partial');
    await settleBlobs(before);
  });

  test('an aborted overwrite keeps the old object and its one blob', async () => {
    const bucket = await newBucket('abortover');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'the original' }));
    const before = await settledBlobFiles(ctx.server);
    await abortedUpload({ method: 'PUT', path: `/${bucket}/k`, declaredLength: 2 * 1024 * 1024, sent: randomBytes(512 * 1024) });
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'the original');
    await settleBlobs(before);
  });

  test('an UploadPart cut off mid-body leaves no part and no blob file', async () => {
    const bucket = await newBucket('abortpart');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const before = await settledBlobFiles(ctx.server);
    await abortedUpload({ method: 'PUT', path: `/${bucket}/mp`, query: { partNumber: '1', uploadId: UploadId! }, declaredLength: 6 * 1024 * 1024, sent: randomBytes(1024 * 1024) });
    const parts = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId }));
    assert.equal(parts.Parts, undefined);
    await settleBlobs(before);
  });

  test('a POST form upload cut off mid-file leaves no object, no blob and no temp file', async () => {
    const bucket = await newBucket('abortform');
    const before = await settledBlobFiles(ctx.server);
    const boundary = '----skep-form-boundary';
    let head = '';
    for (const [name, value] of Object.entries(postPolicyFields({ bucket, key: 'posted', credentials: ROOT_KEY }))) {
      head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    }
    head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(8 * 1024 * 1024) };
    // Three times: each one cut short used to leave its temp file behind, open.
    for (let i = 0; i < 3; i++) {
      await cutRequest({ method: 'POST', path: `/${bucket}`, headers }, Buffer.concat([Buffer.from(head), randomBytes(2 * 1024 * 1024)]));
    }
    await assertAbsent(bucket, 'posted');
    await settleBlobs(before);
  });

  test('an SDK upload aborted mid-body (AbortController) stores nothing', async () => {
    const bucket = await newBucket('abortsdk');
    const before = await settledBlobFiles(ctx.server);
    let sent = 0;
    // Sends 1 MiB of the declared 4 MiB, then stalls until the client gives up.
    const body = new Readable({
      read() {
        if (sent < 4) {
          sent++;
          this.push(randomBytes(256 * 1024));
        }
      },
    });
    const controller = new AbortController();
    const put = ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk-partial', Body: body, ContentLength: 4 * 1024 * 1024 }), { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(put, (err: Error) => err.name === 'AbortError');
    body.destroy();
    await assertAbsent(bucket, 'sdk-partial');
    await settleBlobs(before);
  });
});

describe('pipelined requests', () => {
  test('requests sent on one connection before any answer are applied in order: a GET sees the PUT before it, a later PUT wins', async () => {
    const bucket = await newBucket('pipeline');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    const path = `/${bucket}/k`;
    const big = Buffer.alloc(3 * 1024 * 1024, 'A');
    const head = async (method: string, body?: Buffer, last = false) => {
      const headers = await signedHeaders(ctx.server, { method, path, body, payloadHash: body ? 'UNSIGNED-PAYLOAD' : undefined });
      if (body) headers['content-length'] = String(body.length);
      if (last) headers.connection = 'close';
      return Buffer.from(requestHead(method, path, headers));
    };
    // All written at once: PUT v2, GET, PUT 3 MiB of A, PUT B, GET (the last closes).
    const wire = Buffer.concat([
      await head('PUT', Buffer.from('v2')), Buffer.from('v2'),
      await head('GET'),
      await head('PUT', big), big,
      await head('PUT', Buffer.from('B')), Buffer.from('B'),
      await head('GET', undefined, true),
    ]);
    const answer = await sendOnSocket(ctx.server, wire);
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200', '200', '200']);
    const bodies = answer.split(/HTTP\/1\.1 \d{3}[^]*?\r\n\r\n/).slice(1);
    assert.equal(bodies[1], 'v2', 'the GET after PUT v2 reads v2');
    assert.equal(bodies[4], 'B', 'the GET after PUT B reads B');
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'B', 'the PUT sent last is the one kept');
  });
});

describe('request targets', () => {
  test('an absolute-form target (GET http://host/bucket/key) is served as its path', async () => {
    const bucket = await newBucket('absform');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/k', Body: 'absolute' }));
    const path = `/${bucket}/dir/k`;
    const headers = await signedHeaders(ctx.server, { method: 'GET', path });
    const answer = await sendOnSocket(ctx.server, requestHead('GET', `http://127.0.0.1:${ctx.server.port}${path}`, { ...headers, connection: 'close' }));
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.ok(answer.endsWith('\r\n\r\nabsolute'), answer.slice(0, 300));
  });

  test('an absolute-form target is routed by its path for Expect: 100-continue too (the REST API answers it at once)', async () => {
    const body = '{}';
    const head = requestHead('POST', `http://127.0.0.1:${ctx.server.port}/api/v1/projects`, {
      host: `127.0.0.1:${ctx.server.port}`, 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue', connection: 'close',
    });
    const answer = await sendOnSocket(ctx.server, head + body);
    assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n/, answer.slice(0, 200));
    assert.match(answer, /HTTP\/1\.1 401 /, 'then the REST API refuses the unauthenticated call');
  });
});

describe('a blob missing from the blob store', () => {
  // Only a damaged data folder (or backend bucket) gets here; the client must still get an answer
  // it can read, not a connection cut before any status line.
  test("a GET of an object whose blob is gone answers 500 InternalError in XML without the object's headers, and other objects still read", async () => {
    const bucket = await newBucket('lost-blob');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: 'still here' }));
    const before = await settledBlobFiles(ctx.server);
    const body = randomBytes(300 * 1024); // above the inline limit: a blob of its own
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'gone', Body: body }));
    const added = (await settledBlobFiles(ctx.server)).filter((f) => !before.includes(f) && !f.startsWith('inline/'));
    assert.equal(added.length, 1, 'one blob file for the large object');
    // A file of the folder, or an object of the backend bucket (blobFiles names refs there).
    if (ctx.server.storage?.blobs) await ctx.server.blobs.delete(added[0]);
    else await unlink(join(ctx.server.dataDir, 'blobs', added[0]));
    for (const range of [undefined, 'bytes=100-199']) {
      const err = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'gone', Range: range })).then(
        () => assert.fail('the GET must fail'),
        (e: unknown) => e as S3ServiceException,
      );
      assert.equal(err.$metadata.httpStatusCode, 500, String(range));
      assert.equal(err.name, 'InternalError');
      assert.equal(err.$response?.headers['etag'], undefined, 'the object\'s headers are not sent with the error');
    }
    const kept = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'kept' }));
    assert.equal(await kept.Body!.transformToString(), 'still here');
    // Deleted, the object no longer refers to the missing blob: later tests count settled blobs.
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'gone' }));
  });
});

describe('concurrent writers', () => {
  test('concurrent PUTs of different bodies to one key: the final GET is exactly one of them', async () => {
    const bucket = await newBucket('race');
    const bodies = Array.from({ length: 8 }, () => randomBytes(300 * 1024 + Math.floor(Math.random() * 1000)));
    const hashes = bodies.map((b) => createHash('sha256').update(b).digest('hex'));
    const before = await settledBlobFiles(ctx.server);
    const results = await Promise.all(bodies.map((Body) => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'contended', Body }))));
    assert.equal(results.length, 8);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'contended' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    const hash = createHash('sha256').update(bytes).digest('hex');
    const winner = hashes.indexOf(hash);
    assert.ok(winner >= 0, 'the stored bytes are one of the bodies, intact');
    assert.equal(got.ETag, `"${createHash('md5').update(bodies[winner]).digest('hex')}"`, 'ETag matches the bytes');
    assert.equal(got.ContentLength, bodies[winner].length);
    // The losers' blobs were released: one blob for the one object.
    await settleNewBlobs(before, 1);
  });

  test('reads during concurrent overwrites always see a whole version', async () => {
    const bucket = await newBucket('readers');
    const versions = Array.from({ length: 6 }, (_, i) => Buffer.alloc(200 * 1024, 65 + i));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: versions[0] }));
    const writers = versions.slice(1).map((Body) => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body })));
    const readers = Array.from({ length: 10 }, async () => {
      const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      assert.equal(bytes.length, 200 * 1024);
      assert.ok(bytes.every((b) => b === bytes[0]), 'one version, not a mix');
    });
    await Promise.all([...writers, ...readers]);
  });

  test('overwrite and delete release blob files', async () => {
    const bucket = await newBucket('release');
    // (On the distributed configuration, replaced blobs wait for the collector: settled counts.)
    const before = await settledBlobFiles(ctx.server);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'two' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'three' }));
    const during = await settledBlobFiles(ctx.server);
    assert.equal(during.length, before.length + 1, 'one blob for one object');
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
    await settleBlobs(before);
  });

  test('two concurrent CompleteMultipartUpload calls: one commits, both answer with its result, the object is whole', async () => {
    const bucket = await newBucket('complete');
    await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = randomBytes(1234);
    const p1 = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, Body: part2 }));
    const complete = () =>
      ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));
    // The one that loses the race names the same parts: it is answered as the winner was.
    const results = await Promise.all([complete(), complete()]);
    assert.deepEqual(results.map((r) => [r.ETag, r.VersionId]), [0, 1].map(() => [results[0].ETag, results[0].VersionId]));
    const versions = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.deepEqual(versions.Versions?.map((v) => v.VersionId), [results[0].VersionId], 'one version committed');
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([part1, part2])));
  });
});

describe('a connection that goes silent', () => {
  // S3 answers a body that stops arriving with 400 RequestTimeout (SDKs retry it), then closes;
  // an idle keep-alive connection is closed without a word. This server waits half a second.
  test('mid-body: 400 RequestTimeout, the connection closed, nothing stored; idle between requests: closed', async () => {
    const server = await startTestServer({ idleTimeoutMs: 500 });
    try {
      const s3 = server.client({ maxAttempts: 1 });
      const bucket = `rob-stall-${process.pid}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const path = `/${bucket}/stalled`;
      const headers = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
      headers['content-length'] = '1000';
      const answer = await sendOnSocket(server, Buffer.concat([Buffer.from(requestHead('PUT', path, headers)), randomBytes(100)]));
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.match(answer, /<Code>RequestTimeout<\/Code>/);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.equal((await outcome(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stalled' })))).ok, false);
      // A connection that sent nothing (or finished its request) is closed without a response.
      assert.equal(await sendOnSocket(server, ''), '');
    } finally {
      await server.stop();
    }
  });

  test('a stalled PUT, POST form or REST API upload ends its handler: no temp file left open, the request logged and counted', async () => {
    const log = captureLog('debug');
    const server = await startTestServer({ idleTimeoutMs: 300 }, { log: log.logger });
    try {
      const bucket = `rob-stalls-${process.pid}`;
      await server.client().send(new CreateBucketCommand({ Bucket: bucket }));
      const stalled = (head: string, body: Buffer) => sendOnSocket(server, Buffer.concat([Buffer.from(head), body]));
      const path = `/${bucket}/stalled`;
      const put = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
      put['content-length'] = String(1024 * 1024);
      const putAnswer = await stalled(requestHead('PUT', path, put), randomBytes(64 * 1024));
      assert.match(putAnswer, /<Code>RequestTimeout<\/Code>/);
      const boundary = '----skep-stall-boundary';
      let form = '';
      for (const [name, value] of Object.entries(postPolicyFields({ bucket, key: 'posted', credentials: ROOT_KEY }))) {
        form += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      }
      form += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
      const post = { host: `127.0.0.1:${server.port}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(1024 * 1024) };
      assert.match(await stalled(requestHead('POST', `/${bucket}`, post), Buffer.concat([Buffer.from(form), randomBytes(64 * 1024)])), /<Code>RequestTimeout<\/Code>/);
      const api = {
        host: `127.0.0.1:${server.port}`,
        authorization: `Bearer ${server.bootstrap.issued!.bearerToken}`,
        'content-length': '1000',
      };
      await stalled(requestHead('PUT', `/api/v1/projects/${server.bootstrap.projectId}/buckets/${bucket}/objects/content?key=api`, api), randomBytes(100));
      // Each handler saw its body fail: its temp file removed, its request logged and no longer in flight.
      const done = async () => (await tmpFiles(server)).length === 0 && log.lines.filter((l) => l.msg === 'request' && (l.op === 'PutObject' || l.op === 'PostObject')).length === 2;
      for (let i = 0; i < 100 && !(await done()); i++) await sleep(50);
      assert.deepEqual(await tmpFiles(server), []);
      assert.deepEqual(log.lines.filter((l) => l.msg === 'request' && (l.op === 'PutObject' || l.op === 'PostObject')).map((l) => [l.op, l.status]), [['PutObject', 400], ['PostObject', 400]]);
      // The answer the timeout gave and the handler's log line name the same request.
      const answeredId = /<RequestId>([^<]+)<\/RequestId>/.exec(putAnswer)?.[1];
      assert.ok(answeredId && /\r\nx-amz-request-id: (\S+)\r\n/i.exec(putAnswer)?.[1] === answeredId);
      assert.equal(log.lines.find((l) => l.msg === 'request' && l.op === 'PutObject')?.requestId, answeredId);
      assert.deepEqual(log.lines.filter((l) => l.level >= 50), [], 'a body cut by the timeout is the client\'s abort, not a server failure');
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^skep_requests_in_flight\{api="api"\} 0$/m);
      assert.match(metrics, /^skep_requests_in_flight\{api="s3"\} 0$/m);
      // The REST upload was answered nothing (its connection closed): a 499 that sent no bytes, not a 500.
      assert.match(metrics, /^skep_requests_total\{api="api",operation="PUT",status="499"\} 1$/m);
      assert.doesNotMatch(metrics, /^skep_requests_total\{api="api",operation="PUT",status="500"\}/m);
      assert.doesNotMatch(metrics, /^skep_sent_bytes_total\{api="api"\}/m);
    } finally {
      await server.stop();
    }
  });
});
