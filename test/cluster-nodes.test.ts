// test-engines: postgres ceph
// Three skep nodes on loopback, each its own process and data folder, sharing PostgreSQL (the
// metadata) and Ceph (the blobs): what one node does, the others see on their very next request.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListBucketsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { readObject, md5Hex } from './helpers/s3.js';
import { engine } from './helpers/engines.js';
import { call, signIn, type Session } from './helpers/api.js';
import { outcome, waitFor } from './helpers/tokens.js';

const available = engine('postgres', 'ceph');
const MiB = 1024 * 1024;

describe('a cluster of three nodes', { skip: available.skip }, () => {
  let cluster: Cluster;
  let s3: S3Client[];
  let n = 0;
  const bucketName = (tag: string) => `cluster-${tag}-${process.pid}-${++n}`;

  before(async () => {
    available.require();
    cluster = await startCluster(3);
    s3 = cluster.nodes.map((node) => node.client());
  });
  after(() => cluster?.stop());

  test('started at once on an empty database: migrated and bootstrapped once, every node ready', async () => {
    const bootstrapped = cluster.nodes.filter((node) => /Created the default project/.test(node.stdout()));
    assert.equal(bootstrapped.length, 1, 'one node bootstrapped');
    const admins = cluster.nodes.filter((node) => /Created the first console user/.test(node.stdout()));
    assert.equal(admins.length, 1, 'one node made the first console user');
    for (const node of cluster.nodes) {
      assert.match(node.stdout(), new RegExp(`node ${node.id}: metadata on postgres, blobs on s3`));
      const ready = await fetch(`${node.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', nodeId: node.id, metadata: 'ok', blobs: 'ok' });
      assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
    }
    const projects = JSON.parse((await cluster.cli(['project', 'list', '--json'])).stdout) as unknown[];
    assert.equal(projects.length, 1, 'one default project');
  });

  test('an object written through node 1 reads back through node 3; a multipart upload can use every node', async () => {
    const bucket = bucketName('rw');
    await s3[0].send(new CreateBucketCommand({ Bucket: bucket }));
    const small = randomBytes(4096);
    await s3[0].send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: small }));
    assert.ok((await readObject(s3[2], bucket, 'small')).equals(small));

    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(123_456)];
    const { UploadId } = await s3[0].send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi' }));
    const done = [];
    for (let i = 0; i < parts.length; i++) {
      // Part i through node i: the upload is one row in PostgreSQL, its parts blobs in Ceph.
      const { ETag } = await s3[i].send(new UploadPartCommand({ Bucket: bucket, Key: 'multi', UploadId, PartNumber: i + 1, Body: parts[i] }));
      done.push({ ETag, PartNumber: i + 1 });
    }
    await s3[1].send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'multi', UploadId, MultipartUpload: { Parts: done } }));
    const whole = Buffer.concat(parts);
    for (const client of s3) assert.equal(md5Hex(await readObject(client, bucket, 'multi')), md5Hex(whole));
    const listed = await s3[2].send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['multi', 'small']);
  });

  test('a token revoked through node 1 is refused by nodes 2 and 3 on their next request; disable and rotation too', async () => {
    const admin = await adminSession(cluster);
    const projectId = (await call(cluster.nodes[0], 'GET', '/projects', { as: { session: admin } })).body.items[0].id as string;
    const created = await call(cluster.nodes[0], 'POST', `/projects/${projectId}/tokens`, {
      as: { session: admin },
      json: { name: 'cluster', permission: 'object-rw', bucketScope: null, expiresInDays: 7 },
    });
    assert.equal(created.status, 201, created.text);
    const { accessKeyId, secretAccessKey, bearerToken } = created.body.credentials;
    const tokenId = created.body.token.id as string;
    const clients = cluster.nodes.map((node) => node.client({ accessKeyId, secretAccessKey }));
    const list = (c: S3Client) => outcome(c.send(new ListBucketsCommand({})));
    for (const c of clients) assert.equal((await list(c)).ok, true, 'works on every node');

    const action = async (what: string) => {
      const r = await call(cluster.nodes[0], 'POST', `/projects/${projectId}/tokens/${tokenId}/${what}`, { as: { session: admin } });
      assert.equal(r.status, 200, r.text);
      return r;
    };
    const refused = async (c: S3Client) => {
      const o = await list(c);
      assert.ok(!o.ok && o.status === 403 && o.code === 'InvalidAccessKeyId', JSON.stringify(o));
    };
    await action('disable');
    for (const c of clients.slice(1)) await refused(c);
    await action('enable');
    for (const c of clients.slice(1)) assert.equal((await list(c)).ok, true);

    // Rotation through node 2: node 3 takes the new secret at once, and the old one during the grace.
    const rotated = await call(cluster.nodes[1], 'POST', `/projects/${projectId}/tokens/${tokenId}/rotate`, { as: { session: admin }, json: { graceDays: 1 } });
    assert.equal(rotated.status, 200, rotated.text);
    const fresh = cluster.nodes[2].client({ accessKeyId, secretAccessKey: rotated.body.credentials.secretAccessKey });
    assert.equal((await list(fresh)).ok, true, 'the new secret works on another node at once');
    assert.equal((await list(clients[2])).ok, true, 'the old one during its grace');
    await call(cluster.nodes[0], 'POST', `/projects/${projectId}/tokens/${tokenId}/confirm-rotation`, { as: { session: admin } });
    const old = await list(clients[2]);
    assert.ok(!old.ok && old.code === 'SignatureDoesNotMatch', `confirmed on node 1: the old secret stops on node 3 (${JSON.stringify(old)})`);
    assert.equal((await call(cluster.nodes[2], 'GET', `/projects/${projectId}`, { as: { bearer: bearerToken } })).status, 401, 'and the old bearer token');

    const newBearer = rotated.body.credentials.bearerToken as string;
    assert.equal((await call(cluster.nodes[2], 'GET', `/projects/${projectId}`, { as: { bearer: newBearer } })).status, 200);
    await action('revoke');
    await refused(fresh);
    await refused(cluster.nodes[1].client({ accessKeyId, secretAccessKey: rotated.body.credentials.secretAccessKey }));
    const bearer = await call(cluster.nodes[2], 'GET', `/projects/${projectId}`, { as: { bearer: newBearer } });
    assert.equal(bearer.status, 401, 'the bearer token is refused on node 3 as well');
  });

  test('a console session made on one node works on the others; signing out on one ends it everywhere', async () => {
    const admin = await adminSession(cluster);
    for (const node of cluster.nodes) {
      const r = await call(node, 'GET', '/session', { as: { session: admin } });
      assert.equal(r.status, 200, `${node.id}: ${r.text}`);
    }
    const out = await call(cluster.nodes[2], 'DELETE', '/session', { as: { session: admin } });
    assert.equal(out.status, 204, out.text);
    for (const node of cluster.nodes) assert.equal((await call(node, 'GET', '/session', { as: { session: admin } })).status, 401);
  });

  test('races between nodes end in the S3 error their order calls for, never a 500', async () => {
    const statuses = new Map<string, number>();
    const note = (what: string, o: Awaited<ReturnType<typeof outcome>>) => {
      const key = `${what}: ${o.ok ? o.status : o.code}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      assert.notEqual(o.status, 500, `${what} answered 500`);
    };
    for (let round = 0; round < 8; round++) {
      // A bucket delete on node 1 against an object write on node 2.
      const bucket = bucketName('race');
      await s3[0].send(new CreateBucketCommand({ Bucket: bucket }));
      const [del, put] = await Promise.all([
        outcome(s3[0].send(new DeleteBucketCommand({ Bucket: bucket }))),
        outcome(s3[1].send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: randomBytes(2000) }))),
      ]);
      note('DeleteBucket', del);
      note('PutObject', put);
      assert.ok(del.ok ? !put.ok && put.code === 'NoSuchBucket' : !del.ok && del.code === 'BucketNotEmpty' && put.ok, JSON.stringify([del, put]));

      // A part upload on node 3 against an abort on node 1.
      const keep = bucketName('race-mpu');
      await s3[0].send(new CreateBucketCommand({ Bucket: keep }));
      const { UploadId } = await s3[0].send(new CreateMultipartUploadCommand({ Bucket: keep, Key: 'k' }));
      const [part, abort] = await Promise.all([
        outcome(s3[2].send(new UploadPartCommand({ Bucket: keep, Key: 'k', UploadId, PartNumber: 1, Body: randomBytes(100_000) }))),
        outcome(s3[0].send(new AbortMultipartUploadCommand({ Bucket: keep, Key: 'k', UploadId }))),
      ]);
      note('UploadPart', part);
      note('AbortMultipartUpload', abort);
      assert.ok(abort.ok && (part.ok || part.code === 'NoSuchUpload'), JSON.stringify([part, abort]));

      // Two nodes completing one upload: one commits, and the other (naming the same parts) is
      // answered with its result.
      const up = await s3[0].send(new CreateMultipartUploadCommand({ Bucket: keep, Key: 'done' }));
      const p1 = await s3[0].send(new UploadPartCommand({ Bucket: keep, Key: 'done', UploadId: up.UploadId, PartNumber: 1, Body: 'only part' }));
      const complete = (c: S3Client) =>
        c.send(new CompleteMultipartUploadCommand({ Bucket: keep, Key: 'done', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } }));
      const completes = await Promise.all([complete(s3[1]), complete(s3[2])]);
      completes.forEach((o) => note('CompleteMultipartUpload', { ok: true, status: o.$metadata.httpStatusCode ?? 0 }));
      assert.equal(completes[0].ETag, completes[1].ETag);
      assert.equal((await readObject(s3[0], keep, 'done')).toString(), 'only part');

      // Overwrites of one key through all three nodes: each succeeds, the last word is one of them.
      const bodies = [0, 1, 2].map((i) => Buffer.alloc(50_000, 65 + i));
      const puts = await Promise.all(bodies.map((Body, i) => outcome(s3[i].send(new PutObjectCommand({ Bucket: keep, Key: 'hot', Body })))));
      puts.forEach((o) => note('PutObject (overwrite)', o));
      assert.ok(puts.every((o) => o.ok));
      const final = await readObject(s3[round % 3], keep, 'hot');
      assert.ok(bodies.some((b) => b.equals(final)), 'one whole version');
    }
    // Over the rounds, each race usually ends both ways; whatever the order, never a 500.
    assert.ok([...statuses.keys()].length >= 5, JSON.stringify([...statuses]));
  });

  test('failed sign-ins count on every node: the limit holds whichever node a client tries', async () => {
    const email = `guesser-${process.pid}@example.com`;
    for (let i = 0; i < 5; i++) {
      const r = await call(cluster.nodes[i % 3], 'POST', '/session', { json: { email, password: `wrong-${i}` } });
      assert.equal(r.status, 401, r.text);
    }
    for (const node of cluster.nodes) {
      const r = await call(node, 'POST', '/session', { json: { email, password: 'wrong-again' } });
      assert.equal(r.status, 429, `${node.id}: ${r.text}`);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
  });

  test("a quota holds for writes that take turns between nodes: each node's write is counted before it is answered", async () => {
    const bucket = bucketName('quota');
    await s3[0].send(new CreateBucketCommand({ Bucket: bucket }));
    const admin = await adminSession(cluster);
    const projectId = (await call(cluster.nodes[0], 'GET', '/projects', { as: { session: admin } })).body.items[0].id as string;
    const set = await call(cluster.nodes[0], 'PUT', `/projects/${projectId}/buckets/${bucket}/quota`, { as: { session: admin }, json: { maxBytes: null, maxObjects: 3 } });
    assert.equal(set.status, 200, set.text);
    const put = (i: number, key: string) => outcome(s3[i % 3].send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' })));
    const codes = [];
    for (let i = 0; i < 6; i++) {
      const o = await put(i, `k${i}`);
      codes.push(o.ok ? 'ok' : o.code);
    }
    assert.deepEqual(codes, ['ok', 'ok', 'ok', 'QuotaExceeded', 'QuotaExceeded', 'QuotaExceeded']);
    // A delete through one node frees its place for a write through another at once.
    await s3[1].send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k1' }));
    assert.equal((await put(2, 'again')).ok, true);
    assert.equal((await put(0, 'one-more')).ok, false);
  });

  test("a token's rate limit holds for a burst spread over the nodes", async () => {
    const admin = await adminSession(cluster);
    const projectId = (await call(cluster.nodes[0], 'GET', '/projects', { as: { session: admin } })).body.items[0].id as string;
    const created = await call(cluster.nodes[0], 'POST', `/projects/${projectId}/tokens`, {
      as: { session: admin },
      json: { name: 'rate-burst', permission: 'object-ro', bucketScope: null, expiresInDays: 1, rateLimit: 5 },
    });
    assert.equal(created.status, 201, created.text);
    const { accessKeyId, secretAccessKey } = created.body.credentials;
    const clients = cluster.nodes.map((node) => node.client({ accessKeyId, secretAccessKey }));
    const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => outcome(clients[i % 3].send(new ListBucketsCommand({})))));
    assert.equal(burst.filter((o) => o.ok).length, 5, JSON.stringify(burst.filter((o) => !o.ok)[0]));
  });

  test('usage counted on every node adds up in one report', async () => {
    const bucket = bucketName('usage');
    await s3[0].send(new CreateBucketCommand({ Bucket: bucket }));
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 2; k++) await s3[i].send(new PutObjectCommand({ Bucket: bucket, Key: `n${i}-${k}`, Body: randomBytes(1000) }));
    }
    const admin = await adminSession(cluster);
    const projectId = (await call(cluster.nodes[0], 'GET', '/projects', { as: { session: admin } })).body.items[0].id as string;
    // Each node writes its counters every 5 s, adding to the same rows.
    await waitFor(
      'the three nodes\' writes in the report',
      async () => {
        const r = await call(cluster.nodes[2], 'GET', `/projects/${projectId}/usage?bucket=${bucket}`, { as: { session: admin } });
        const today = r.body.days[r.body.days.length - 1];
        return today.requests.write === 6 && today.bytesIn === 6000;
      },
      20_000,
    );
  });

  test('metrics: requests by operation and status, latency, bytes, backend errors, node info', async () => {
    const bucket = bucketName('metrics');
    await s3[1].send(new CreateBucketCommand({ Bucket: bucket }));
    await s3[1].send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: randomBytes(1000) }));
    await outcome(s3[1].send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' })));
    const res = await fetch(`${cluster.nodes[1].url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /skep_requests_total\{api="s3",operation="PutObject",status="200"\} [1-9]/);
    assert.match(text, /skep_requests_total\{api="s3",operation="GetObject",status="404"\} [1-9]/);
    assert.match(text, /skep_request_duration_seconds_bucket\{le="0\.1",api="s3",operation="PutObject"\} [1-9]/);
    assert.match(text, /skep_received_bytes_total\{api="s3"\} ([1-9]\d{3,})/);
    assert.match(text, /skep_backend_errors_total\{backend="blobs"\} 0/);
    assert.match(text, /skep_node_info\{node_id="node-2",version="[^"]+",metadata="postgres",blobs="s3"\} 1/);
    assert.match(text, /skep_process_resident_memory_bytes \d+/);
    // /metrics signed with a key is S3's: the bucket named "metrics" (which does not exist here).
    const signed = await outcome(s3[1].send(new ListObjectsV2Command({ Bucket: 'metrics' })));
    assert.deepEqual([signed.ok, !signed.ok && signed.code], [false, 'NoSuchBucket']);
  });
});

/** The console's first user, whose one-time password the bootstrapping node printed. */
async function adminSession(cluster: Cluster): Promise<Session> {
  const text = cluster.nodes.map((node) => node.stdout()).join('\n');
  const password = /password: (\S+)/.exec(text)?.[1];
  assert.ok(password, 'a node printed the first console password');
  return signIn(cluster.nodes[0], 'admin@localhost', password);
}
