import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { utimes } from 'node:fs/promises';
import { basename, join } from 'node:path';
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
import type { BlobReferenceSnapshot } from '../src/storage/metadata/metadata-store.js';
import { INLINE_FILE } from '../src/storage/blob/inline-blob-store.js';
import { sqliteDriver } from '../src/storage/metadata/sqlite-driver.js';
import { blobFiles } from './helpers/raw-s3.js';
import { waitFor } from './helpers/tokens.js';

// The orphan sweep (ObjectService.sweepOrphans): it removes blobs that no committed row
// references (what a crash between writing a blob and committing it leaves behind), and nothing
// else: not an object's blobs, not the parts of an upload in progress, not a blob a read holds,
// not a blob younger than the minimum age.

const ctx = useS3Server('sweep');
const { newBucket } = ctx;

/** A blob written straight to the blob store and never committed: an orphan. */
async function plantOrphan(size = 1000): Promise<string> {
  const { ref } = await ctx.server.blobs.put(Readable.from([randomBytes(size)]));
  return ref;
}

async function isOnDisk(ref: string): Promise<boolean> {
  return (await blobFiles(ctx.server)).some((f) => basename(f) === ref);
}

/** Makes blobs look written `ms` ago (what the sweep's minimum age looks at): a file's mtime, an inline blob's time. */
async function age(files: string[], ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  const root = join(ctx.server.dataDir, 'blobs');
  const inline = new (sqliteDriver())(join(root, INLINE_FILE));
  try {
    inline.pragma('busy_timeout = 5000');
    const stamp = inline.prepare('update blobs set created_at = ? where ref = ?');
    for (const f of files) {
      if (f.startsWith('inline/')) assert.equal(stamp.run(when.getTime(), basename(f)).changes, 1);
      else await utimes(join(root, f), when, when);
    }
  } finally {
    inline.close();
  }
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

  test('over many objects, in small batches, while PUTs commit: only the orphans go, never a live blob', async () => {
    const HOUR = 60 * 60 * 1000;
    const bucket = await newBucket('many');
    const bodies = new Map<string, Buffer>();
    const put = async (key: string) => {
      // Small bodies are kept inline, larger ones as files: the sweep covers both.
      const body = randomBytes(bodies.size % 3 === 0 ? 40 * 1024 : 64 + Math.floor(Math.random() * 64));
      await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      bodies.set(key, body);
    };
    for (let i = 0; i < 60; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => put(`old/${i + j}`)));
    const orphans: string[] = [];
    for (let i = 0; i < 25; i++) orphans.push(await plantOrphan(i % 2 === 0 ? 40 * 1024 : 1000));
    // Everything so far was written two hours ago; what the PUTs below write is new.
    const old = await blobFiles(ctx.server);
    assert.ok(old.some((f) => f.startsWith('inline/')) && old.some((f) => !f.startsWith('inline/')), 'blobs both inline and in files');
    await age(old, 2 * HOUR);

    // The sweep asks about small batches and never for every ref at once.
    const meta = ctx.server.meta;
    const batches: number[] = [];
    const snapshot = meta.snapshotBlobReferences.bind(meta);
    const everyRef = meta.referencedBlobRefs;
    meta.snapshotBlobReferences = async (): Promise<BlobReferenceSnapshot> => {
      const s = await snapshot();
      return { referenced: (refs) => (batches.push(refs.length), s.referenced(refs)), close: () => s.close() };
    };
    meta.referencedBlobRefs = () => Promise.reject(new Error('the sweep read every ref into memory'));
    let removed: number;
    try {
      // New objects and overwrites of old ones commit while the sweep runs.
      let sweeping = true;
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; sweeping || i < 5; i++) await put(i % 2 === 0 ? `new/${w}/${i}` : `old/${(w * 7 + i) % 60}`);
      });
      removed = await ctx.server.objects.sweepOrphans(HOUR, { batch: 7 }).finally(() => (sweeping = false));
      await Promise.all(writers);
    } finally {
      meta.snapshotBlobReferences = snapshot;
      meta.referencedBlobRefs = everyRef;
    }

    assert.equal(removed, orphans.length);
    assert.ok(batches.length >= Math.ceil(orphans.length / 7), `${batches.length} batches`);
    assert.ok(batches.every((n) => n <= 7), `batches of ${batches.join(', ')}`);
    for (const ref of orphans) assert.equal(await isOnDisk(ref), false, `orphan ${ref} is gone`);
    for (const [key, body] of bodies) assert.ok((await read(bucket, key)).equals(body), `${key} reads back`);
    // What is left on disk is exactly what the rows refer to.
    assert.deepEqual((await blobFiles(ctx.server)).map((f) => basename(f)).sort(), [...(await meta.referencedBlobRefs())].sort());
  });
});
