// A blob backend (an S3 service) that stops answering. A second skep is the backend, reached
// through a TCP proxy in this file that can stop forwarding: it accepts and never answers, as a
// hung gateway does. Requests must end with an S3 error clients retry (503 ServiceUnavailable)
// within the configured timeouts, not hang until the connection is cut; and a blob the backend
// stored after skep gave up on it must not stay behind.

import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { ROOT_KEY, startTestServer, type TestServer } from './helpers/server.js';
import { sleep } from './helpers/raw-s3.js';
import { call, isProblem, problemText, rootBearer } from './helpers/api.js';
import type { ServerConfig } from '../src/config.js';

/** 'pass' forwards both ways; 'hang' forwards nothing; 'mute' forwards requests but no answers. */
type Mode = 'pass' | 'hang' | 'mute';

interface Proxy {
  url: string;
  mode: Mode;
  close(): Promise<void>;
}

async function startProxy(target: URL): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const proxy: Proxy = { url: '', mode: 'pass', close: async () => undefined };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // Bytes are dropped, not paused, so a connection the backend's client keeps alive hangs too.
    client.on('data', (d: Buffer) => void (proxy.mode !== 'hang' && upstream.write(d)));
    upstream.on('data', (d: Buffer) => void (proxy.mode === 'pass' && client.write(d)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  proxy.url = `http://127.0.0.1:${port}`;
  proxy.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return proxy;
}

const BLOBS = 'outage-blobs';

describe('a blob backend that stops answering', () => {
  let backend: TestServer;
  let proxy: Proxy;
  const fronts: TestServer[] = [];

  /** A skep whose blobs are in the backend (under a prefix of its own), through the proxy. */
  async function front(s3: { stallTimeoutMs: number }, overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
    const server = await startTestServer({
      storage: {
        blobs: `s3://${BLOBS}/front-${fronts.length}/`,
        s3: { endpoint: proxy.url, ...ROOT_KEY, maxAttempts: 2, connectTimeoutMs: 500, ...s3 },
        gc: { pendingTtlMs: 1000 },
      },
      collectIntervalMs: 200,
      ...overrides,
    });
    fronts.push(server);
    await server.client().send(new CreateBucketCommand({ Bucket: 'data' }));
    return server;
  }

  /** The status and code of a request, and how long it took. */
  async function timed(fn: () => Promise<unknown>): Promise<{ status?: number; code?: string; ms: number }> {
    const started = Date.now();
    try {
      await fn();
      return { status: 200, ms: Date.now() - started };
    } catch (err) {
      const e = err as S3ServiceException;
      return { status: e.$metadata?.httpStatusCode, code: e.name, ms: Date.now() - started };
    }
  }

  async function backendKeys(server: TestServer): Promise<string[]> {
    const prefix = `front-${fronts.indexOf(server)}/`;
    const page = await backend.client().send(new ListObjectsV2Command({ Bucket: BLOBS, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => o.Key!);
  }

  before(async () => {
    backend = await startTestServer();
    await backend.client().send(new CreateBucketCommand({ Bucket: BLOBS }));
    proxy = await startProxy(new URL(backend.url));
  });
  after(async () => {
    for (const f of fronts) await f.stop();
    await proxy?.close();
    await backend?.stop();
  });

  test('PUT and GET answer 503 ServiceUnavailable once the backend has stalled past its timeout', async () => {
    proxy.mode = 'pass';
    const server = await front({ stallTimeoutMs: 500 });
    const s3 = server.client({ maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'before', Body: 'stored before the outage' }));
    proxy.mode = 'hang';
    try {
      const put = await timed(() => s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'during', Body: 'x'.repeat(10) })));
      assert.deepEqual([put.status, put.code], [503, 'ServiceUnavailable']);
      assert.ok(put.ms < 5_000, `the PUT took ${put.ms} ms`);
      const get = await timed(() => s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'before' })));
      assert.deepEqual([get.status, get.code], [503, 'ServiceUnavailable']);
      assert.ok(get.ms < 5_000, `the GET took ${get.ms} ms`);
    } finally {
      proxy.mode = 'pass';
    }
    const back = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'before' }));
    assert.equal(await back.Body!.transformToString(), 'stored before the outage');
  });

  test('the REST API answers a stalled backend with 503 unavailable, not 500 internal', async () => {
    proxy.mode = 'pass';
    const server = await front({ stallTimeoutMs: 500 });
    const objects = `/projects/${server.bootstrap.projectId}/buckets/data/objects/content`;
    const stored = await call(server, 'PUT', `${objects}?key=rest-before`, { as: rootBearer(server), raw: 'stored before the outage' });
    assert.equal(stored.status, 200, problemText(stored));
    proxy.mode = 'hang';
    try {
      const put = await call(server, 'PUT', `${objects}?key=rest-during`, { as: rootBearer(server), raw: 'x'.repeat(10) });
      assert.ok(isProblem(put, 503, 'unavailable'), problemText(put));
      const get = await call(server, 'GET', `${objects}?key=rest-before`, { as: rootBearer(server) });
      assert.ok(isProblem(get, 503, 'unavailable'), problemText(get));
    } finally {
      proxy.mode = 'pass';
    }
  });

  test("a request still unanswered at the server's idle timeout gets 503 ServiceUnavailable, not a cut connection", async () => {
    proxy.mode = 'pass';
    const server = await front({ stallTimeoutMs: 30_000 }, { idleTimeoutMs: 1000 });
    const s3 = server.client({ maxAttempts: 1 });
    proxy.mode = 'hang';
    try {
      const put = await timed(() => s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'idle', Body: 'y'.repeat(10) })));
      assert.deepEqual([put.status, put.code], [503, 'ServiceUnavailable']);
      assert.ok(put.ms < 10_000, `the PUT took ${put.ms} ms`);
    } finally {
      proxy.mode = 'pass';
    }
  });

  test('a blob the backend stored after skep gave up on its upload is collected', async () => {
    proxy.mode = 'pass';
    const server = await front({ stallTimeoutMs: 500 });
    const s3 = server.client({ maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'kept', Body: 'a blob still referred to' }));
    const kept = await backendKeys(server);
    // The backend stores the upload, but its answer never arrives: the put fails on a timeout.
    proxy.mode = 'mute';
    try {
      const put = await timed(() => s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'lost', Body: 'z'.repeat(10) })));
      assert.deepEqual([put.status, put.code], [503, 'ServiceUnavailable']);
    } finally {
      proxy.mode = 'pass';
    }
    assert.ok((await backendKeys(server)).length > kept.length, 'the backend stored the blob of the failed upload');
    // Its pending record outlives the failure (1 s here), and the collector then deletes it.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await backendKeys(server)).length > kept.length) await sleep(200);
    assert.deepEqual(await backendKeys(server), kept);
  });
});
