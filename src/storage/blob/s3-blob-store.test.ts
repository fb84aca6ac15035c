// test-engines: ceph
// The S3 blob backend against a real Ceph cluster's gateway (started once for the test run): the
// BlobStore contract, then what is particular to an S3 backend: large bodies go up as multipart
// uploads, a put cut short leaves no unfinished upload, the collector's partial delete removes
// one left by a crash, and requests that fail on the way are retried (a proxy between the store
// and the gateway cuts connections on purpose).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { cephClient, cephSettings, engine, freshCephBucket } from '../../../test/helpers/engines.js';
import type { BlobStore } from './blob-store.js';
import { blobStoreContract, chunked, readAll } from './contract.js';
import { openS3BlobStore, parseS3BlobUrl } from './s3-blob-store.js';

const MiB = 1024 * 1024;
const available = engine('ceph');
const admin = available.skip ? null : cephClient();
after(() => admin?.destroy());

/** Every object and unfinished multipart upload in the backend bucket. */
async function backendContents(bucket: string): Promise<string[]> {
  const s3 = admin!;
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push(`object ${o.Key}`);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) out.push(`upload ${u.Key} ${u.UploadId}`);
  return out.sort();
}

async function openOn(bucket: string, over: { endpoint?: string; prefix?: string } = {}): Promise<BlobStore> {
  const c = cephSettings();
  return openS3BlobStore({
    bucket,
    prefix: over.prefix,
    endpoint: over.endpoint ?? c.endpoint,
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    partSize: 5 * MiB,
  });
}

if (available.skip) {
  test('S3 blob backend on Ceph', { skip: available.skip }, () => undefined);
} else {
  blobStoreContract(
    'S3 (Ceph RGW)',
    async () => {
      available.require();
      const bucket = await freshCephBucket();
      return { store: await openOn(bucket, { prefix: 'blobs/' }), leftovers: () => backendContents(bucket) };
    },
    { largeBytes: 12 * MiB },
  );
}

/**
 * A TCP proxy in front of the gateway. cutNext(n, bytes): the next `n` times `bytes` more bytes of
 * the gateway's answers have gone through (on whichever connection), the connection carrying them
 * is cut there: what a flaky network or a restarting gateway does.
 */
async function faultyProxy(target: string): Promise<{ endpoint: string; cutNext(n: number, afterBytes: number): void; cut: number; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  let pending = 0;
  let cutAfter = 0;
  let budget = 0;
  const sockets = new Set<net.Socket>();
  const state = {
    cut: 0,
    endpoint: '',
    cutNext(n: number, afterBytes: number) {
      pending = n;
      cutAfter = afterBytes;
      budget = afterBytes;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      if (pending > 0 && d.length > budget) {
        client.write(d.subarray(0, budget));
        state.cut++;
        pending--;
        budget = cutAfter;
        client.destroy();
        upstream.destroy();
        return;
      }
      if (pending > 0) budget -= d.length;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return state;
}

describe('S3 blob backend specifics', { skip: available.skip }, () => {
  test('s3://bucket/prefix URLs', () => {
    assert.deepEqual(parseS3BlobUrl('s3://b'), { bucket: 'b', prefix: '' });
    assert.deepEqual(parseS3BlobUrl('s3://b/'), { bucket: 'b', prefix: '' });
    assert.deepEqual(parseS3BlobUrl('s3://b/skep'), { bucket: 'b', prefix: 'skep/' });
    assert.deepEqual(parseS3BlobUrl('S3://b/a/b/'), { bucket: 'b', prefix: 'a/b/' });
    assert.equal(parseS3BlobUrl('/var/lib/skep'), null);
  });

  test('a missing backend bucket stops start-up with a clear error', async () => {
    available.require();
    await assert.rejects(openOn('no-such-bucket-for-skep'), /blob backend bucket no-such-bucket-for-skep .* not reachable/);
  });

  test('bodies longer than one part go up as a multipart upload; short ones as one PUT', async () => {
    available.require();
    const bucket = await freshCephBucket();
    const store = await openOn(bucket);
    try {
      const big = await store.put(Readable.from(chunked(randomBytes(11 * MiB))));
      const small = await store.put(Readable.from([randomBytes(5 * MiB)]));
      const etag = async (ref: string) => (await admin!.send(new HeadObjectCommand({ Bucket: bucket, Key: ref }))).ETag ?? '';
      assert.match(await etag(big.ref), /-3"$/, '11 MiB in 5 MiB parts: a 3-part upload');
      assert.doesNotMatch(await etag(small.ref), /-/, 'exactly one part: a plain PUT');
    } finally {
      await store.close();
    }
  });

  test('the partial delete removes an unfinished multipart upload a crash left', async () => {
    available.require();
    const bucket = await freshCephBucket();
    const store = await openOn(bucket);
    try {
      const ref = store.newRef();
      // What a node killed in the middle of a large put leaves: an upload with some parts.
      const { UploadId } = await admin!.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: ref }));
      await admin!.send(new UploadPartCommand({ Bucket: bucket, Key: ref, UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }));
      // Another blob's upload (a longer ref with the same start) is not touched.
      const other = `${ref.slice(0, 31)}${ref[31] === '0' ? '1' : '0'}`;
      const keep = await admin!.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: other }));
      assert.equal((await backendContents(bucket)).length, 2);
      await store.delete(ref);
      assert.equal((await backendContents(bucket)).length, 2, 'a plain delete does not look for uploads');
      await store.delete(ref, { partial: true });
      assert.deepEqual(await backendContents(bucket), [`upload ${other} ${keep.UploadId}`]);
    } finally {
      await store.close();
    }
  });

  test('a read cut midway resumes where it stopped; a put whose connection drops is sent again', async () => {
    available.require();
    const bucket = await freshCephBucket();
    const proxy = await faultyProxy(cephSettings().endpoint);
    const store = await openOn(bucket, { endpoint: proxy.endpoint });
    try {
      const data = randomBytes(3 * MiB);
      const { ref } = await store.put(Readable.from([data]));
      proxy.cutNext(2, 1024 * 1024);
      assert.ok((await readAll(store.get(ref))).equals(data), 'every byte, in order, after two cuts');
      assert.equal(proxy.cut, 2);
      proxy.cutNext(1, 100);
      const big = randomBytes(12 * MiB);
      const second = await store.put(Readable.from(chunked(big)));
      assert.equal(proxy.cut, 3);
      assert.ok((await readAll(store.get(second.ref))).equals(big));
      await admin!.send(new DeleteObjectCommand({ Bucket: bucket, Key: second.ref }));
      await assert.rejects(readAll(store.get(second.ref)), { code: 'ENOENT' });
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
