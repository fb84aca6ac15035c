// test-engines: postgres
// Storage quotas under concurrent writes: however many writes are in flight, on one node or
// several sharing PostgreSQL, the bucket and the project never store more than their quota. Each
// write is charged in the transaction that commits it, so the writes past the quota are refused
// (403 QuotaExceeded) and store nothing, while as many as fit are accepted.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestServer, ROOT_KEY, TEST_MASTER_KEY, type TestServer } from './helpers/server.js';
import { engine, freshDatabase } from './helpers/engines.js';
import { outcome } from './helpers/tokens.js';
import { adminSession, call, rootBearer, type As } from './helpers/api.js';

const postgres = engine('postgres');
const KB = 100_000;

/** The nodes writes go through (one embedded server, or two sharing PostgreSQL and a blob store). */
interface Nodes {
  first: TestServer;
  clients: S3Client[];
  stop(): Promise<void>;
}

async function embedded(): Promise<Nodes> {
  const server = await startTestServer();
  return { first: server, clients: [server.client({ maxAttempts: 1 })], stop: () => server.stop() };
}

/** Two nodes on one fresh PostgreSQL database, their blobs in a bucket of a third (embedded) server. */
async function twoNodes(): Promise<Nodes> {
  postgres.require();
  const blobServer = await startTestServer();
  await blobServer.client().send(new CreateBucketCommand({ Bucket: 'blobs' }));
  const metadataUrl = await freshDatabase();
  const node = (nodeId: string) =>
    startTestServer({
      storage: { metadataUrl, metadataPoolSize: 6, blobs: 's3://blobs', s3: { endpoint: blobServer.url, ...ROOT_KEY }, nodeId },
      masterKey: TEST_MASTER_KEY,
    });
  // One after the other: the first bootstraps the shared database.
  const a = await node('node-a');
  const b = await node('node-b');
  return {
    first: a,
    clients: [a.client({ maxAttempts: 1 }), b.client({ maxAttempts: 1 })],
    async stop() {
      await a.stop();
      await b.stop();
      await blobServer.stop();
    },
  };
}

for (const [name, start] of [
  ['one node, embedded SQLite', embedded],
  ['two nodes sharing PostgreSQL', twoNodes],
] as const) {
  describe(`storage quotas hold under concurrent writes (${name})`, { skip: start === twoNodes && postgres.skip }, () => {
    let nodes: Nodes;
    const projectId = () => nodes.first.bootstrap.projectId;
    /** The client for the i-th write: writes alternate between the nodes. */
    const s3 = (i: number) => nodes.clients[i % nodes.clients.length];

    before(async () => {
      nodes = await start();
    });
    after(() => nodes?.stop());

    async function putQuota(path: string, quota: { maxBytes: number | null; maxObjects: number | null } | null, as: As = rootBearer(nodes.first)) {
      const r = await call(nodes.first, 'PUT', path, { as, json: quota ?? { maxBytes: null, maxObjects: null } });
      assert.equal(r.status, 200, r.text);
    }
    const bucketQuota = (bucket: string, quota: { maxBytes: number | null; maxObjects: number | null }) =>
      putQuota(`/projects/${projectId()}/buckets/${bucket}/quota`, quota);

    async function newBucket(bucket: string): Promise<void> {
      await s3(0).send(new CreateBucketCommand({ Bucket: bucket }));
    }

    /** Runs the writes all at once; returns how many were accepted, after checking every refusal is QuotaExceeded. */
    async function accepted(writes: Promise<unknown>[]): Promise<number> {
      const outcomes = await Promise.all(writes.map((w) => outcome(w)));
      for (const o of outcomes) if (!o.ok) assert.deepEqual([o.status, o.code], [403, 'QuotaExceeded'], o.message);
      return outcomes.filter((o) => o.ok).length;
    }

    async function stored(bucket: string): Promise<{ bytes: number; objects: number }> {
      const listed = await s3(0).send(new ListObjectsV2Command({ Bucket: bucket }));
      const contents = listed.Contents ?? [];
      return { bytes: contents.reduce((n, o) => n + (o.Size ?? 0), 0), objects: contents.length };
    }

    test('a bucket quota in bytes: 24 PUTs of 100 KB at once against 1,000,000 bytes store exactly 10', async () => {
      const bucket = 'concurrent-bytes';
      await newBucket(bucket);
      await bucketQuota(bucket, { maxBytes: 10 * KB, maxObjects: null });
      const n = await accepted(Array.from({ length: 24 }, (_, i) => s3(i).send(new PutObjectCommand({ Bucket: bucket, Key: `k${i}`, Body: randomBytes(KB) }))));
      assert.equal(n, 10);
      assert.deepEqual(await stored(bucket), { bytes: 10 * KB, objects: 10 });
      const q = await call(nodes.first, 'GET', `/projects/${projectId()}/buckets/${bucket}/quota`, { as: rootBearer(nodes.first) });
      assert.deepEqual(q.body.used, { bytes: 10 * KB, objects: 10 }, 'the counters hold what is stored');
    });

    test('a bucket quota in objects: 24 PUTs at once against 5 objects store exactly 5; overwrites still pass', async () => {
      const bucket = 'concurrent-objects';
      await newBucket(bucket);
      await bucketQuota(bucket, { maxBytes: null, maxObjects: 5 });
      const n = await accepted(Array.from({ length: 24 }, (_, i) => s3(i).send(new PutObjectCommand({ Bucket: bucket, Key: `k${i}`, Body: `body ${i}` }))));
      assert.equal(n, 5);
      const keys = ((await s3(0).send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!);
      assert.equal(keys.length, 5);
      // Full, the bucket still takes overwrites of what it holds (they add no object), all at once.
      assert.equal(await accepted(keys.map((key, i) => s3(i).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'overwritten' })))), 5);
      assert.equal((await stored(bucket)).objects, 5);
    });

    test('a versioned bucket: 16 PUTs of one key at once against 5 objects keep exactly 5 versions', async () => {
      const bucket = 'concurrent-versions';
      await newBucket(bucket);
      await s3(0).send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      await bucketQuota(bucket, { maxBytes: null, maxObjects: 5 });
      const n = await accepted(Array.from({ length: 16 }, (_, i) => s3(i).send(new PutObjectCommand({ Bucket: bucket, Key: 'same', Body: `version ${i}` }))));
      assert.equal(n, 5);
      const versions = await s3(0).send(new ListObjectVersionsCommand({ Bucket: bucket }));
      assert.equal(versions.Versions?.length, 5);
    });

    test('CompleteMultipartUpload: 6 completions at once against 300,000 bytes complete 3 and keep the other uploads', async () => {
      const bucket = 'concurrent-multipart';
      await newBucket(bucket);
      await bucketQuota(bucket, { maxBytes: 3 * KB, maxObjects: null });
      const uploads = [];
      for (let i = 0; i < 6; i++) {
        const key = `m${i}`;
        const { UploadId } = await s3(i).send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        const { ETag } = await s3(i).send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(KB) }));
        uploads.push({ key, UploadId, ETag });
      }
      const n = await accepted(
        uploads.map((u, i) =>
          s3(i).send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: u.ETag }] } })),
        ),
      );
      assert.equal(n, 3);
      assert.deepEqual(await stored(bucket), { bytes: 3 * KB, objects: 3 });
      const left = await s3(0).send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.equal(left.Uploads?.length, 3, 'a refused completion keeps its upload');
    });

    test('a project quota: 16 PUTs of 100 KB at once into two buckets with 500,000 bytes of room store exactly 5', async () => {
      const buckets = ['concurrent-project-1', 'concurrent-project-2'];
      for (const b of buckets) await newBucket(b);
      const project = await call(nodes.first, 'GET', `/projects/${projectId()}/quota`, { as: rootBearer(nodes.first) });
      assert.equal(project.status, 200, project.text);
      const before = project.body.used as { bytes: number; objects: number };
      // A project's settings are its owners' (a console session).
      const owner: As = { session: await adminSession(nodes.first) };
      await putQuota(`/projects/${projectId()}/quota`, { maxBytes: before.bytes + 5 * KB, maxObjects: null }, owner);
      try {
        const n = await accepted(Array.from({ length: 16 }, (_, i) => s3(i).send(new PutObjectCommand({ Bucket: buckets[i % 2], Key: `k${i}`, Body: randomBytes(KB) }))));
        assert.equal(n, 5);
        const added = (await stored(buckets[0])).bytes + (await stored(buckets[1])).bytes;
        assert.equal(added, 5 * KB);
      } finally {
        await putQuota(`/projects/${projectId()}/quota`, null, owner);
      }
    });
  });
}
