// test-engines: postgres ceph
// Three nodes on PostgreSQL and Ceph when things go wrong: a node killed with SIGKILL in the
// middle of uploads, a read on one node while another overwrites the key, a node stopped with
// SIGTERM while it serves. Blob collection runs with short timings here (a release grace of 2 s,
// a pending lifetime of 3 s, a pass every half second) so its effects show within a test.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { readObject, md5Hex } from './helpers/s3.js';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { cephClient, engine } from './helpers/engines.js';
import { outcome, waitFor } from './helpers/tokens.js';
import { slowPut } from './helpers/partial-transfers.js';
import { parseS3BlobUrl } from '../src/storage/blob/s3-blob-store.js';
import { openPostgresStore } from '../src/storage/metadata/postgres-store.js';

const available = engine('postgres', 'ceph');
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Objects and unfinished multipart uploads in the cluster's backend bucket. */
async function backend(cluster: Cluster): Promise<{ refs: string[]; uploads: number }> {
  const bucket = parseS3BlobUrl(cluster.storage.blobs)!.bucket;
  const admin = cephClient();
  try {
    const refs: string[] = [];
    let token: string | undefined;
    do {
      const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) refs.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return { refs: refs.sort(), uploads: uploads.Uploads?.length ?? 0 };
  } finally {
    admin.destroy();
  }
}

/** The blob refs the metadata refers to (objects and parts). */
async function referenced(cluster: Cluster): Promise<string[]> {
  const meta = await openPostgresStore(cluster.storage.metadataUrl!, { nodeId: 'test-observer', poolSize: 1 });
  try {
    return [...(await meta.referencedBlobRefs())].sort();
  } finally {
    await meta.close();
  }
}

describe('a cluster of three nodes, when things go wrong', { skip: available.skip }, () => {
  let cluster: Cluster;
  let n = 0;
  const newBucket = async (tag: string) => {
    const name = `fail-${tag}-${process.pid}-${++n}`;
    await cluster.nodes[0].client().send(new CreateBucketCommand({ Bucket: name }));
    return name;
  };

  before(async () => {
    available.require();
    cluster = await startCluster(3, {
      env: { SKEP_BLOB_RELEASE_GRACE: '2', SKEP_BLOB_PENDING_TTL: '3', SKEP_BLOB_COLLECT_INTERVAL: '0.5' },
    });
  });
  after(() => cluster?.stop());

  test('kill -9 of a node mid-upload: no acknowledged object is lost, the others keep serving, its leftovers are collected', { timeout: 120_000 }, async () => {
    const bucket = await newBucket('kill');
    const clients = cluster.nodes.map((node) => node.client());
    const victim = 1;

    // Acknowledged writes through every node until told to stop; errors on the survivors count.
    const acknowledged = new Map<string, string>();
    const survivorErrors: string[] = [];
    let writing = true;
    const writers = clients.map(async (c, i) => {
      for (let k = 0; writing; k++) {
        const key = `w-${i}-${k}`;
        const body = randomBytes(16 * 1024 + k);
        try {
          await c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          acknowledged.set(key, md5Hex(body));
        } catch (err) {
          if (i !== victim) survivorErrors.push(`${key}: ${(err as Error).name} ${(err as Error).message}`);
          else await sleep(50);
        }
      }
    });

    // An upload in progress through the victim, one part acknowledged.
    const part1 = randomBytes(5 * MiB);
    const { UploadId } = await clients[victim].send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const p1 = await clients[victim].send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: part1 }));

    // A large PUT streaming into the victim (a multipart upload to Ceph underneath), killed halfway.
    const url = await getSignedUrl(clients[victim], new PutObjectCommand({ Bucket: bucket, Key: 'big' }), { expiresIn: 600 });
    const big = slowPut(url, 40 * MiB, { chunk: 256 * 1024, pauseMs: 10 });
    await waitFor('20 MiB of the large PUT to be sent', async () => big.sent() >= 20 * MiB, 60_000);
    cluster.nodes[victim].child.kill('SIGKILL');
    await assert.rejects(big.done, 'the client of the killed node sees its connection break');
    assert.equal((await cluster.nodes[victim].exited).signal, 'SIGKILL');
    await sleep(1000);
    writing = false;
    await Promise.all(writers);

    assert.deepEqual(survivorErrors, [], 'nodes 1 and 3 served every request');
    assert.ok(acknowledged.size > 20, `${acknowledged.size} writes acknowledged`);
    for (const [key, sum] of acknowledged) {
      assert.equal(md5Hex(await readObject(clients[0], bucket, key)), sum, key);
      assert.equal(md5Hex(await readObject(clients[2], bucket, key)), sum, key);
    }
    const head = await outcome(clients[0].send(new HeadObjectCommand({ Bucket: bucket, Key: 'big' })));
    assert.equal(head.status, 404, 'the interrupted PUT left no object');
    // The acknowledged part survives its node: another node completes the upload with it.
    await clients[2].send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } }));
    assert.ok((await readObject(clients[0], bucket, 'mp')).equals(part1));

    // What the killed node was writing (a multipart upload to Ceph) is collected by the others:
    // the backend ends up holding exactly the blobs the metadata refers to.
    await waitFor(
      'the backend to hold exactly the referenced blobs',
      async () => {
        const [b, r] = await Promise.all([backend(cluster), referenced(cluster)]);
        return b.uploads === 0 && JSON.stringify(b.refs) === JSON.stringify(r);
      },
      30_000,
    );

    // Restarted, the node serves again.
    const again = await cluster.start(victim);
    const c = again.client();
    assert.equal(md5Hex(await readObject(c, bucket, 'w-0-0')), acknowledged.get('w-0-0'));
  });

  test('a GET on one node while another overwrites the key gets every byte of the version it started', { timeout: 120_000 }, async () => {
    const bucket = await newBucket('pins');
    const [a, b] = [cluster.nodes[0].client(), cluster.nodes[2].client()];
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(5 * MiB)];
    const { UploadId } = await b.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
    const done = [];
    for (let i = 0; i < 3; i++) {
      const { ETag } = await b.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: i + 1, Body: parts[i] }));
      done.push({ ETag, PartNumber: i + 1 });
    }
    await b.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: done } }));
    const oldRefs = await referenced(cluster);

    // A slow reader on node 1: it reads a little, then stops reading for a while.
    const url = await getSignedUrl(a, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 600 });
    const received: Buffer[] = [];
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => httpRequest(url, resolve).on('error', reject).end());
    assert.equal(res.statusCode, 200);
    const first = await new Promise<Buffer>((resolve) =>
      res.once('data', (d: Buffer) => {
        res.pause();
        resolve(d);
      }),
    );
    received.push(first);

    // Node 3 overwrites the key; the release grace (2 s) passes several times over, and the
    // collectors of all nodes run every half second meanwhile.
    await b.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'new' }));
    await sleep(6000);
    const during = (await backend(cluster)).refs;
    assert.ok(oldRefs.every((r) => during.includes(r)), 'the old version\'s blobs are still there: the read on node 1 pins them');

    for await (const chunk of res) received.push(chunk as Buffer);
    assert.equal(md5Hex(Buffer.concat(received)), md5Hex(Buffer.concat(parts)), 'every byte of the version the GET started on');
    assert.equal((await readObject(b, bucket, 'k')).toString(), 'new');
    // Once the read is over its pins lapse and the old blobs go.
    await waitFor(
      'the old version\'s blobs to be collected',
      async () => {
        const now = (await backend(cluster)).refs;
        return oldRefs.filter((r) => !now.includes(r)).length >= 3;
      },
      20_000,
    );
  });

  test('SIGTERM drains: the upload in flight is acknowledged and stored, new connections are refused, the node exits 0', { timeout: 120_000 }, async () => {
    const bucket = await newBucket('drain');
    const node = cluster.nodes[2];
    const c = node.client();
    const url = await getSignedUrl(c, new PutObjectCommand({ Bucket: bucket, Key: 'in-flight' }), { expiresIn: 600 });
    const put = slowPut(url, 4 * MiB, { chunk: 128 * 1024, pauseMs: 40 });
    await waitFor('the upload to be under way', async () => put.sent() >= MiB, 30_000);
    node.child.kill('SIGTERM');
    await sleep(300);
    const refused = await fetch(`${node.url}/healthz`).then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(refused, 'refused', 'no new connections while draining');
    assert.equal(await put.done, 200, 'the upload in flight was acknowledged');
    const exit = await node.exited;
    assert.equal(exit.code, 0);
    assert.match(node.stdout(), /skep stopped \(SIGTERM\)/);
    const stored = await readObject(cluster.nodes[0].client(), bucket, 'in-flight');
    assert.equal(stored.length, 4 * MiB, 'and stored, whole');
    await cluster.start(2);
  });
});
