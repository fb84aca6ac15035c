import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { basename } from 'node:path';
import { describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { useS3Server } from './helpers/server.js';
import { blobFiles, signedHeaders, sleep } from './helpers/raw-s3.js';
import { waitFor } from './helpers/tokens.js';

// Reads hold the blobs they stream: a multipart object is read part by part, each part's blob
// opened only when the read reaches it, so an overwrite or delete of the key that commits
// meanwhile must not remove those blobs before the read has finished with them. Once the read
// closes (finished, failed or abandoned by the client), the replaced blobs are removed.

const MiB = 1024 * 1024;
const PART = 5 * MiB;

const ctx = useS3Server('pin');
const { newBucket } = ctx;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A 3 x 5 MiB object made with the multipart API; returns its bytes. */
async function multipartObject(bucket: string, key: string): Promise<Buffer> {
  const parts = [randomBytes(PART), randomBytes(PART), randomBytes(PART)];
  const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const done = [];
  for (let i = 0; i < parts.length; i++) {
    const { ETag } = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: parts[i] }));
    done.push({ ETag, PartNumber: i + 1 });
  }
  await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }));
  return Buffer.concat(parts);
}

/** The blob refs the key's current row points at. */
async function refsOf(bucket: string, key: string): Promise<string[]> {
  const b = await ctx.server.objects.requireBucket(ctx.server.bootstrap.projectId, bucket);
  const row = await ctx.server.meta.getObject(b.id, key);
  assert.ok(row, `${key} exists`);
  return row.blobs.map((x) => x.ref);
}

async function onDisk(refs: string[]): Promise<string[]> {
  const files = new Set((await blobFiles(ctx.server)).map((f) => basename(f)));
  return refs.filter((r) => files.has(r));
}

interface SlowGet {
  req: ClientRequest;
  res: IncomingMessage;
  /** Bytes read so far (the first chunk, until rest() is called). */
  received: Buffer[];
  /** Resumes reading and resolves with the whole body; rejects if the response is cut off. */
  rest(): Promise<Buffer>;
}

/** Starts a signed GET, reads its first chunk and then stops reading (the server's stream stalls). */
async function slowGet(bucket: string, key: string): Promise<SlowGet> {
  const path = `/${bucket}/${key}`;
  const headers = await signedHeaders(ctx.server, { method: 'GET', path });
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: ctx.server.port, method: 'GET', path, headers, agent: false }, (res) => {
      const received: Buffer[] = [];
      const ended = new Promise<Buffer>((ok, fail) => {
        res.on('end', () => ok(Buffer.concat(received)));
        res.on('aborted', () => fail(new Error('response aborted')));
        res.on('error', fail);
      });
      ended.catch(() => undefined);
      res.once('data', (chunk: Buffer) => {
        received.push(chunk);
        res.pause();
        res.on('data', (c: Buffer) => received.push(c));
        resolve({ req, res, received, rest: () => (res.resume(), ended) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GetObject of a multipart object during a concurrent overwrite and delete', () => {
  test('a slow GET returns the full original bytes while the key is overwritten and then deleted', async () => {
    const bucket = await newBucket('slow');
    const original = await multipartObject(bucket, 'obj');
    const oldRefs = await refsOf(bucket, 'obj');

    const get = await slowGet(bucket, 'obj');
    assert.equal(get.res.statusCode, 200);
    assert.equal(Number(get.res.headers['content-length']), original.length);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'replacement' }));
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'obj' }));
    await sleep(100); // time for an immediate release to reach the disk
    const keptWhileReading = await onDisk(oldRefs);

    const body = await get.rest();
    assert.equal(body.length, original.length);
    assert.equal(sha256(body), sha256(original));
    assert.deepEqual(keptWhileReading, oldRefs, 'the blobs the GET still needed were kept');
    // Once the read has closed, the replaced blobs go.
    await waitFor('the replaced blobs to be removed', async () => (await onDisk(oldRefs)).length === 0);
  });

  test('a lease taken before an overwrite still reads the old bytes (a GET between its lookup and its body)', async () => {
    const bucket = await newBucket('lease');
    const original = await multipartObject(bucket, 'obj');
    const oldRefs = await refsOf(bucket, 'obj');
    const b = await ctx.server.objects.requireBucket(ctx.server.bootstrap.projectId, bucket);
    const lease = await ctx.server.objects.leaseObject(b, 'obj');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'replacement' }));
    await sleep(50);
    const chunks: Buffer[] = [];
    for await (const c of lease.open()) chunks.push(c as Buffer);
    assert.equal(sha256(Buffer.concat(chunks)), sha256(original));
    assert.deepEqual(await onDisk(oldRefs), oldRefs, 'still held by the lease');
    lease.release();
    lease.release(); // a second release changes nothing
    await waitFor('the replaced blobs to be removed', async () => (await onDisk(oldRefs)).length === 0);
  });
});

describe('pins are let go however a read ends', () => {
  test('a client that disconnects mid-GET: the replaced blobs are removed', async () => {
    const bucket = await newBucket('gone');
    await multipartObject(bucket, 'obj');
    const oldRefs = await refsOf(bucket, 'obj');
    const get = await slowGet(bucket, 'obj');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'replacement' }));
    get.req.destroy();
    await waitFor('the replaced blobs to be removed', async () => (await onDisk(oldRefs)).length === 0);
  });

  test('a GET that fails mid-stream (a part\'s blob lost): the other blobs are removed on delete', async () => {
    const bucket = await newBucket('fail');
    await multipartObject(bucket, 'obj');
    const refs = await refsOf(bucket, 'obj');
    const get = await slowGet(bucket, 'obj');
    await ctx.server.blobs.delete(refs[1]); // the second part vanishes under the read
    await assert.rejects(get.rest(), 'the response is cut off');
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'obj' }));
    await waitFor('the object\'s blobs to be removed', async () => (await onDisk(refs)).length === 0);
  });
});
