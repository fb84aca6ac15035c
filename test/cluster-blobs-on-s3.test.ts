// test-engines: ceph
// One node on the embedded metadata store (SQLite) with its blobs in an S3 service (Ceph's
// gateway): the blob ledger is kept, releases are immediate (no other node reads), and what a
// crash leaves in the bucket is collected without listing it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { cephClient, cephSettings, engine, freshCephBucket } from './helpers/engines.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { md5Hex, readObject } from './helpers/s3.js';

const available = engine('ceph');

describe('SQLite metadata with blobs on Ceph', { skip: available.skip }, () => {
  let server: TestServer;
  let backendBucket: string;
  const admin = available.skip ? null : cephClient();
  const inBackend = async (ref: string) =>
    admin!.send(new HeadObjectCommand({ Bucket: backendBucket, Key: ref })).then(
      () => true,
      () => false,
    );

  before(async () => {
    available.require();
    backendBucket = await freshCephBucket();
    const c = cephSettings();
    server = await startTestServer({
      storage: {
        blobs: `s3://${backendBucket}`,
        s3: { endpoint: c.endpoint, accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
        gc: { pendingTtlMs: 200 },
      },
    });
  });
  after(async () => {
    admin?.destroy();
    await server?.stop();
  });

  test('objects live in the backend bucket; an overwrite and a delete release their blobs at once', async () => {
    assert.equal(server.services.blobLedger, true);
    assert.deepEqual(server.services.backends, { metadata: 'sqlite', blobs: 's3' });
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'pics' }));
    const first = randomBytes(20_000);
    await s3.send(new PutObjectCommand({ Bucket: 'pics', Key: 'k', Body: first }));
    const b = await server.objects.requireBucket(server.bootstrap.projectId, 'pics');
    const [ref1] = (await server.meta.getObject(b.id, 'k'))!.blobs.map((x) => x.ref);
    assert.ok(await inBackend(ref1));
    assert.equal(md5Hex(await readObject(s3, 'pics', 'k')), md5Hex(first));
    await s3.send(new PutObjectCommand({ Bucket: 'pics', Key: 'k', Body: 'second' }));
    const [ref2] = (await server.meta.getObject(b.id, 'k'))!.blobs.map((x) => x.ref);
    assert.equal(await inBackend(ref1), false, 'the replaced blob is gone from the bucket');
    await s3.send(new DeleteObjectCommand({ Bucket: 'pics', Key: 'k' }));
    assert.equal(await inBackend(ref2), false);
    assert.deepEqual(await server.meta.dueBlobs('released', new Date(Date.now() + 60_000), 10), [], 'the ledger forgot them');
  });

  test('what a crash left (a pending blob, an unfinished multipart upload) is collected by its record', async () => {
    // A write whose process died: recorded as pending, bytes in the bucket, never committed.
    const ref = server.blobs.newRef();
    await server.meta.recordPendingBlobs([ref], new Date(Date.now() - 1000));
    await server.blobs.put(Readable.from([randomBytes(1000)]), ref);
    const { UploadId } = await admin!.send(new CreateMultipartUploadCommand({ Bucket: backendBucket, Key: ref }));
    await admin!.send(new UploadPartCommand({ Bucket: backendBucket, Key: ref, UploadId, PartNumber: 1, Body: randomBytes(1000) }));
    assert.ok(await inBackend(ref));
    assert.equal(await server.objects.collectBlobs(), 1);
    assert.equal(await inBackend(ref), false);
    const uploads = await admin!.send(new ListMultipartUploadsCommand({ Bucket: backendBucket, Prefix: ref }));
    assert.equal(uploads.Uploads?.length ?? 0, 0, 'its unfinished upload was aborted');
    const tombstone = await server.meta.dueBlobs('collected', new Date(Date.now() + 60_000), 10);
    assert.deepEqual(tombstone.map((e) => e.ref), [ref], 'a tombstone refuses a late commit of it');
  });
});
