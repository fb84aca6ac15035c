import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Handler } from '../src/s3/s3-handler.js';
import { s3Error } from './helpers/s3.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import {
  blobFiles,
  settledBlobFiles,
  raw,
  seedSignatureOf,
  send,
  signedChunkedBody,
  signedHeaders,
  sleep,
  tmpFiles,
  unsignedChunkedBodyWithTrailer,
  xmlField,
} from './helpers/raw-s3.js';

// Size limits hold whether or not the client declares the body's length: a body sent with
// Transfer-Encoding: chunked, or aws-chunked without x-amz-decoded-content-length, is cut off at
// the limit with EntityTooLarge and nothing is stored. The real S3 pipeline and services serve a
// second listener with small limits (the 5 GiB defaults cannot be exercised in a test).

const MAX_OBJECT = 1000;
const MAX_PART = 2000;

let server: TestServer;
/** The same services behind the S3 handler with small limits, on its own port. */
let limited: TestServer;
let listener: Server;
let s3: S3Client;
let n = 0;
const bucketName = (tag: string) => `lim-${tag}-${process.pid}-${++n}`;

before(async () => {
  server = await startTestServer();
  s3 = server.client();
  const handle = createS3Handler({
    services: server.services,
    credentials: server.tokens,
    region: 'us-east-1',
    baseDomains: ['s3.localhost'],
    defaultProject: () => server.bootstrap.projectId,
    clock: () => new Date(),
    log: server.log,
    limits: { maxObjectSize: MAX_OBJECT, maxPartSize: MAX_PART },
  });
  listener = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  limited = { ...server, port: (listener.address() as AddressInfo).port };
});
after(async () => {
  listener.closeAllConnections();
  await new Promise((resolve) => listener.close(resolve));
  await server.stop();
});

async function newBucket(tag: string): Promise<string> {
  const name = bucketName(tag);
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

async function assertAbsent(bucket: string, key: string): Promise<void> {
  const err = await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
  assert.equal(err.$metadata.httpStatusCode, 404, `${key} must not exist`);
}

/** Nothing new among the blobs, and no temp file left behind. */
async function assertNoBlobLeft(before: string[]): Promise<void> {
  await sleep(50);
  assert.deepEqual(await blobFiles(server), before, 'no blob left behind');
  assert.deepEqual(await tmpFiles(server), [], 'no temp file left behind');
}

function assertEntityTooLarge(res: { status: number; text: string }, max: number): void {
  assert.equal(res.status, 400, res.text);
  assert.equal(xmlField(res.text, 'Code'), 'EntityTooLarge');
  assert.equal(xmlField(res.text, 'MaxSizeAllowed'), String(max));
  assert.ok(xmlField(res.text, 'RequestId'));
}

/** A PUT whose body goes out with Transfer-Encoding: chunked (no Content-Length). */
async function chunkedPut(path: string, pieces: Buffer[], query?: Record<string, string>) {
  const headers = await signedHeaders(limited, { method: 'PUT', path, query, payloadHash: 'UNSIGNED-PAYLOAD' });
  const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
  return send(limited, 'PUT', `${path}${qs}`, { ...headers, 'transfer-encoding': 'chunked' }, pieces);
}

describe('PutObject without a declared length', () => {
  test('Transfer-Encoding: chunked under the limit is stored', async () => {
    const bucket = await newBucket('under');
    const body = randomBytes(MAX_OBJECT);
    const res = await chunkedPut(`/${bucket}/k`, [body.subarray(0, 400), body.subarray(400)]);
    assert.equal(res.status, 200, res.text);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  });

  test('Transfer-Encoding: chunked over the limit is EntityTooLarge and nothing is stored', async () => {
    const bucket = await newBucket('over');
    const before = await settledBlobFiles(server);
    const res = await chunkedPut(`/${bucket}/k`, [randomBytes(600), randomBytes(600), randomBytes(600)]);
    assertEntityTooLarge(res, MAX_OBJECT);
    await assertAbsent(bucket, 'k');
    await assertNoBlobLeft(before);
  });

  // An aws-chunked body's size is declared by x-amz-decoded-content-length, which S3 requires.
  test('aws-chunked without x-amz-decoded-content-length is MissingContentLength (411), signed or not', async () => {
    const bucket = await newBucket('awschunked');
    const before = await settledBlobFiles(server);
    const signed = await signedHeaders(limited, {
      method: 'PUT',
      path: `/${bucket}/k`,
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked' },
    });
    const signedBody = signedChunkedBody([randomBytes(800), randomBytes(800)], seedSignatureOf(signed), signed['x-amz-date']);
    const unsigned = await signedHeaders(limited, {
      method: 'PUT',
      path: `/${bucket}/k`,
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-trailer': 'x-amz-checksum-crc32' },
    });
    const unsignedBody = unsignedChunkedBodyWithTrailer([randomBytes(700), randomBytes(700)], { 'x-amz-checksum-crc32': 'AAAAAA==' });
    for (const [headers, body] of [[signed, signedBody], [unsigned, unsignedBody]] as const) {
      const res = await send(limited, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, body);
      assert.equal(res.status, 411, res.text);
      assert.equal(xmlField(res.text, 'Code'), 'MissingContentLength');
    }
    await assertAbsent(bucket, 'k');
    await assertNoBlobLeft(before);
  });

  test('a declared Content-Length over the limit is refused before the body is read', async () => {
    const bucket = await newBucket('declared');
    const res = await raw(limited, { method: 'PUT', path: `/${bucket}/k`, body: randomBytes(MAX_OBJECT + 1) });
    assertEntityTooLarge(res, MAX_OBJECT);
    assert.equal(xmlField(res.text, 'ProposedSize'), String(MAX_OBJECT + 1));
    await assertAbsent(bucket, 'k');
  });
});

describe('UploadPart without a declared length', () => {
  test('a chunked part over the part limit is EntityTooLarge and the upload has no part', async () => {
    const bucket = await newBucket('part');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const before = await settledBlobFiles(server);
    const res = await chunkedPut(`/${bucket}/mp`, [randomBytes(1500), randomBytes(1500)], { partNumber: '1', uploadId: UploadId! });
    assertEntityTooLarge(res, MAX_PART);
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId }));
    assert.equal(parts.Parts?.length ?? 0, 0);
    await assertNoBlobLeft(before);
    // Within the part limit (which is above the object limit) it is accepted.
    const ok = await chunkedPut(`/${bucket}/mp`, [randomBytes(1500)], { partNumber: '1', uploadId: UploadId! });
    assert.equal(ok.status, 200, ok.text);
  });
});
