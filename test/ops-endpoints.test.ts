// /healthz, /readyz and /metrics on the embedded configuration, and a graceful drain: what a
// load balancer and Prometheus see of a node (the cluster tests see them on PostgreSQL and Ceph).

import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { captureLog, startTestServer, type TestServer } from './helpers/server.js';
import { outcome, waitFor } from './helpers/tokens.js';
import { readThenHangUp, slowPut } from './helpers/partial-transfers.js';
import { requestHead, seedSignatureOf, send, signedChunkedBody, signedHeaders } from './helpers/raw-s3.js';
import { createOpsHandler } from '../src/ops/ops-handler.js';
import { Metrics } from '../src/ops/metrics.js';

const MiB = 1024 * 1024;

describe('operations endpoints', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('/healthz and /readyz answer with the node id; /readyz names a backend that does not answer', async () => {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get('cache-control'), 'no-store');
    const nodeId = server.services.nodeId;
    assert.deepEqual(await health.json(), { status: 'ok', nodeId });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', nodeId, metadata: 'ok', blobs: 'ok' });
    assert.equal((await fetch(`${server.url}/readyz`, { method: 'HEAD' })).status, 200);

    // The blob folder gone (a lost mount): not ready, and which backend is at fault.
    const blobs = join(server.dataDir, 'blobs');
    await rename(blobs, `${blobs}.away`);
    try {
      const down = await fetch(`${server.url}/readyz`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as Record<string, string>;
      assert.equal(body.status, 'not ready');
      assert.equal(body.metadata, 'ok');
      assert.match(body.blobs, /^unreachable: /);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'alive all the same');
    } finally {
      await rename(`${blobs}.away`, blobs);
    }
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });

  test('/metrics: Prometheus text with requests by operation and status, latency and bytes', async () => {
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-metrics' }));
    await s3.send(new PutObjectCommand({ Bucket: 'ops-metrics', Key: 'k', Body: randomBytes(2048) }));
    await s3.send(new GetObjectCommand({ Bucket: 'ops-metrics', Key: 'k' })).then((r) => r.Body!.transformToByteArray());
    await outcome(s3.send(new GetObjectCommand({ Bucket: 'ops-metrics', Key: 'nope' })));
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const pattern of [
      /# TYPE skep_requests_total counter/,
      /skep_requests_total\{api="s3",operation="PutObject",status="200"\} 1\b/,
      /skep_requests_total\{api="s3",operation="GetObject",status="200"\} 1\b/,
      /skep_requests_total\{api="s3",operation="GetObject",status="404"\} 1\b/,
      /skep_requests_total\{api="ops",operation="GET",status="200"\} \d+/,
      /# TYPE skep_request_duration_seconds histogram/,
      /skep_request_duration_seconds_count\{api="s3",operation="PutObject"\} 1\b/,
      /skep_received_bytes_total\{api="s3"\} 2048\b/,
      /skep_sent_bytes_total\{api="s3"\} \d{4,}/,
      /skep_backend_errors_total\{backend="metadata"\} 0\b/,
      /skep_node_info\{node_id="[^"]+",version="\d+\.\d+\.\d+",metadata="sqlite",blobs="folder"\} 1/,
      /skep_nodejs_eventloop_lag_seconds \d/,
    ]) {
      assert.match(text, pattern);
    }
  });

  test('/metrics counts the body bytes a response sends: none for a HEAD or a 304, the object for a GET', async () => {
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-bytes' }));
    const put = await s3.send(new PutObjectCommand({ Bucket: 'ops-bytes', Key: 'k', Body: randomBytes(3000) }));
    const sent = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^skep_sent_bytes_total\{api="s3"\} (\d+)$/m.exec(text)?.[1]);
    };
    const before = await sent();
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'ops-bytes', Key: 'k' }))).ContentLength, 3000);
    const notModified = await outcome(s3.send(new GetObjectCommand({ Bucket: 'ops-bytes', Key: 'k', IfNoneMatch: put.ETag })));
    assert.deepEqual([notModified.ok, notModified.status], [false, 304]);
    assert.equal(await sent(), before, 'a HEAD and a 304 send no body');
    await s3.send(new GetObjectCommand({ Bucket: 'ops-bytes', Key: 'k' })).then((r) => r.Body!.transformToByteArray());
    assert.equal(await sent(), before + 3000);

    // A download the client stops after 1 MiB counts what was handed over, not the 48 MiB announced.
    await s3.send(new PutObjectCommand({ Bucket: 'ops-bytes', Key: 'big', Body: randomBytes(48 * MiB) }));
    const beforeCut = await sent();
    await readThenHangUp(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'ops-bytes', Key: 'big' }), { expiresIn: 600 }), MiB);
    await waitFor('the cut download to be counted', async () => (await sent()) > beforeCut);
    const counted = (await sent()) - beforeCut;
    assert.ok(counted >= MiB && counted < 24 * MiB, `counted ${counted} bytes`);
  });

  test('/metrics counts the body bytes a request delivered, not a length its headers claim; an abandoned request is a 499', async () => {
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-received' }));
    const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0);
    const received = () => metric(/^skep_received_bytes_total\{api="s3"\} (\S+)$/m);
    const opsReceived = () => metric(/^skep_received_bytes_total\{api="ops"\} (\S+)$/m);
    const before = await received();
    // Claimed lengths on body-less requests, answered or refused: nothing was received. Infinity
    // used to throw from the metrics in a 'close' listener, which ended the process.
    for (const claim of ['Infinity', '1e309', '1e300', '5000000000000000']) {
      assert.equal((await send(server, 'GET', '/healthz', { 'x-amz-decoded-content-length': claim })).status, 200);
      assert.equal((await send(server, 'GET', '/ops-received/k', { 'x-amz-decoded-content-length': claim })).status, 403);
    }
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal(await received(), before);
    assert.equal(await opsReceived(), 0);

    // A body without a Content-Length (HTTP chunked) counts its bytes; an aws-chunked one its
    // decoded bytes, without the framing and chunk signatures.
    const chunked = await signedHeaders(server, { method: 'PUT', path: '/ops-received/chunked', payloadHash: 'UNSIGNED-PAYLOAD' });
    assert.equal((await send(server, 'PUT', '/ops-received/chunked', chunked, [randomBytes(3000), randomBytes(2000)])).status, 200);
    assert.equal(await received(), before + 5000);
    const pieces = [randomBytes(64 * 1024), randomBytes(1000)];
    const framed = await signedHeaders(server, {
      method: 'PUT',
      path: '/ops-received/framed',
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(65536 + 1000) },
    });
    const body = signedChunkedBody(pieces, seedSignatureOf(framed), framed['x-amz-date']);
    assert.equal((await send(server, 'PUT', '/ops-received/framed', framed, body)).status, 200);
    assert.equal(await received(), before + 5000 + 66536);

    // An upload the client abandons: 499 (client closed request), not the 200 a response not yet
    // answered has by default, and the bytes that did arrive.
    const abandoned = () => metric(/^skep_requests_total\{api="s3",operation="PutObject",status="499"\} (\d+)$/m);
    const cut = await signedHeaders(server, { method: 'PUT', path: '/ops-received/cut', payloadHash: 'UNSIGNED-PAYLOAD' });
    cut['content-length'] = String(4 * MiB);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(requestHead('PUT', '/ops-received/cut', cut));
        socket.write(randomBytes(256 * 1024), () => setTimeout(() => (socket.destroy(), resolve()), 200));
      });
      socket.on('error', reject);
    });
    await waitFor('the abandoned upload to be counted', async () => (await abandoned()) === 1);
    const partial = (await received()) - (before + 5000 + 66536);
    assert.ok(partial > 0 && partial <= 256 * 1024, `counted ${partial} bytes`);
  });

  test('/metrics counts the bytes the operations endpoints and the REST API send, whose handlers give their headers to writeHead', async () => {
    const sentBy = async (api: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(new RegExp(`^skep_sent_bytes_total\\{api="${api}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const ops = await sentBy('ops');
    const health = await (await fetch(`${server.url}/healthz`)).text();
    // Also counted by then: the /metrics read before, itself counted as its connection closed.
    assert.ok((await sentBy('ops')) >= ops + Buffer.byteLength(health));
    const api = await sentBy('api');
    const reply = await fetch(`${server.url}/api/v1/projects/${server.bootstrap.projectId}/buckets`, { headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}` } });
    assert.equal(reply.status, 200);
    const text = await reply.text();
    assert.equal(await sentBy('api'), api + Buffer.byteLength(text));
  });

  test('a signed request, or one with a query, for /metrics is S3\'s: a bucket of that name', async () => {
    const s3 = server.client();
    const signed = await outcome(s3.send(new ListObjectsV2Command({ Bucket: 'metrics' })));
    assert.deepEqual([signed.ok, !signed.ok && signed.code], [false, 'NoSuchBucket']);
    await s3.send(new CreateBucketCommand({ Bucket: 'metrics' }));
    assert.equal((await outcome(s3.send(new ListObjectsV2Command({ Bucket: 'metrics' })))).ok, true);
    const queried = await fetch(`${server.url}/metrics?list-type=2`);
    assert.equal(queried.status, 403, 'anonymous S3 listing, not the metrics');
    assert.match(await queried.text(), /<Code>AccessDenied<\/Code>/);
  });

  test('a request whose client went away before its answer is logged with the 499 it is counted with', async () => {
    const log = captureLog('debug');
    const own = await startTestServer({}, { log: log.logger });
    try {
      await own.client().send(new CreateBucketCommand({ Bucket: 'ops-gone' }));
      const headers = await signedHeaders(own, { method: 'PUT', path: '/ops-gone/k', payloadHash: 'UNSIGNED-PAYLOAD' });
      headers['content-length'] = String(MiB);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(own.port, '127.0.0.1', () => {
          socket.write(requestHead('PUT', '/ops-gone/k', headers));
          socket.write(randomBytes(64 * 1024), () => setTimeout(() => (socket.destroy(), resolve()), 100));
        });
        socket.on('error', reject);
      });
      const logged = () => log.lines.filter((l) => l.msg === 'request' && l.op === 'PutObject');
      await waitFor('the abandoned upload to be logged', async () => logged().length === 1);
      assert.equal(logged()[0]!.status, 499);
      assert.match(await (await fetch(`${own.url}/metrics`)).text(), /^skep_requests_total\{api="s3",operation="PutObject",status="499"\} 1$/m);
    } finally {
      await own.stop();
    }
  });

  test('a byte count that is not a finite number is not added to the metrics (prom-client would throw)', async () => {
    const metrics = new Metrics();
    metrics.started('s3');
    metrics.observe({ api: 's3', operation: 'PutObject', status: 200, seconds: 0.01, bytesIn: Infinity, bytesOut: Number.NaN });
    const { body } = await metrics.render();
    assert.match(body, /^skep_requests_total\{api="s3",operation="PutObject",status="200"\} 1$/m);
    assert.doesNotMatch(body, /^skep_(received|sent)_bytes_total\{/m);
  });

  test('/readyz says draining once the node stops', async () => {
    const handler = createOpsHandler({ nodeId: 'n', metrics: new Metrics(), draining: () => true, checks: { metadata: async () => undefined, blobs: async () => undefined } });
    const { createServer } = await import('node:http');
    const srv = createServer((req, res) => void handler(req, res)).listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    try {
      const r = await fetch(`http://127.0.0.1:${(srv.address() as { port: number }).port}/readyz`);
      assert.equal(r.status, 503);
      assert.deepEqual(await r.json(), { status: 'draining', nodeId: 'n', metadata: 'ok', blobs: 'ok' });
    } finally {
      srv.close();
    }
  });
});

describe('graceful drain', () => {
  test('requests in flight finish and are stored; new connections are refused; then the stores close', async () => {
    const server = await startTestServer();
    try {
      const s3 = server.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
      const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'drain', Key: 'k' }), { expiresIn: 600 });
      const put = slowPut(url, 2 * 1024 * 1024, { chunk: 64 * 1024, pauseMs: 20 });
      await waitFor('the upload to be under way', async () => put.sent() >= 512 * 1024);
      const drained = server.drain(30_000);
      await new Promise((r) => setTimeout(r, 100));
      await assert.rejects(fetch(`${server.url}/healthz`), 'no new connections');
      assert.equal(await put.done, 200, 'the upload in flight is acknowledged');
      await drained;
      // The object was committed before the stores closed: a new server on the folder has it.
      const again = await startTestServer({ dataDir: server.dataDir });
      try {
        const got = await again.client().send(new GetObjectCommand({ Bucket: 'drain', Key: 'k' }));
        assert.equal((await got.Body!.transformToByteArray()).length, 2 * 1024 * 1024);
      } finally {
        await again.close();
      }
    } finally {
      await server.stop();
    }
  });

  test('a request that outlasts the drain timeout is cut, and the drain ends on time', async () => {
    const server = await startTestServer();
    try {
      const s3 = server.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'drain' }));
      const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'drain', Key: 'slow' }), { expiresIn: 600 });
      const put = slowPut(url, 64 * 1024 * 1024, { chunk: 64 * 1024, pauseMs: 50 });
      await waitFor('the upload to be under way', async () => put.sent() >= 512 * 1024);
      const t0 = Date.now();
      await server.drain(500);
      const took = Date.now() - t0;
      assert.ok(took >= 450 && took < 5000, `drained in ${took} ms`);
      await assert.rejects(put.done, 'the upload was cut');
    } finally {
      await server.stop();
    }
  });
});
