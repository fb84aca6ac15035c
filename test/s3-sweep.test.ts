import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { useS3Server } from './helpers/server.js';
import { blobFiles } from './helpers/raw-s3.js';
import { waitFor } from './helpers/tokens.js';

// The orphan sweep (ObjectService.sweepOrphans): it removes blobs that no committed row
// references (what a crash between writing a blob and committing it leaves behind), and nothing
// else: not an object's blobs, not the parts of an upload in progress, not a blob a read holds,
// not a blob younger than the minimum age.

const ctx = useS3Server('sweep');
const { newBucket } = ctx;

/** A blob written straight to the blob store and never committed: an orphan. */
async function plantOrphan(): Promise<string> {
  const { ref } = await ctx.server.blobs.put(Readable.from([randomBytes(1000)]));
  return ref;
}

async function isOnDisk(ref: string): Promise<boolean> {
  return (await blobFiles(ctx.server)).some((f) => basename(f) === ref);
}

async function read(bucket: string, key: string): Promise<Buffer> {
  const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

describe('sweepOrphans', () => {
  test('removes only the unreferenced blob; the object and an upload in progress keep theirs', async () => {
    const bucket = await newBucket('only');
    const body = randomBytes(4096);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: body }));
    const part = randomBytes(1234);
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'in-progress' }));
    const { ETag } = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'in-progress', UploadId, PartNumber: 1, Body: part }));
    const orphan = await plantOrphan();
    const before = await blobFiles(ctx.server);
    assert.ok(await isOnDisk(orphan));

    assert.equal(await ctx.server.objects.sweepOrphans(0), 1);

    assert.equal(await isOnDisk(orphan), false, 'the orphan is gone');
    assert.deepEqual(await blobFiles(ctx.server), before.filter((f) => basename(f) !== orphan), 'nothing else was removed');
    assert.ok((await read(bucket, 'kept')).equals(body), 'the object still reads');
    // The part survived: the upload completes with it.
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'in-progress', UploadId, MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] } }));
    assert.ok((await read(bucket, 'in-progress')).equals(part));
    assert.equal(await ctx.server.objects.sweepOrphans(0), 0, 'a second sweep finds nothing');
  });

  test('a blob younger than the minimum age is left for a later sweep', async () => {
    const orphan = await plantOrphan();
    assert.equal(await ctx.server.objects.sweepOrphans(60 * 60 * 1000), 0);
    assert.ok(await isOnDisk(orphan));
    assert.equal(await ctx.server.objects.sweepOrphans(0), 1);
    assert.equal(await isOnDisk(orphan), false);
  });

  test('a replaced blob that a read still holds is not swept; it goes when the read lets go', async () => {
    const bucket = await newBucket('pinned');
    const body = randomBytes(4096);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: body }));
    const b = await ctx.server.objects.requireBucket(ctx.server.bootstrap.projectId, bucket);
    const lease = await ctx.server.objects.leaseObject(b, 'k');
    const [ref] = lease.row.blobs.map((x) => x.ref);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'new' }));

    assert.equal(await ctx.server.objects.sweepOrphans(0), 0, 'unreferenced, but held by the lease');
    assert.ok(await isOnDisk(ref));
    const chunks: Buffer[] = [];
    for await (const c of lease.open()) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(body));
    lease.release();
    // The deferred release removes it once the lease and the stream have both let go.
    await waitFor('the released blob to be removed', async () => !(await isOnDisk(ref)));
  });
});
