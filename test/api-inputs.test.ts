// test-engines: postgres
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { engine, freshDatabase } from './helpers/engines.js';
import { startTestServer, TEST_MASTER_KEY, type TestServer } from './helpers/server.js';
import { adminSession, call, isProblem, problemText, rootBearer, type Session } from './helpers/api.js';

// What the REST API takes as input: JSON bodies of at most 1 MiB, refused as they arrive (an
// object upload has no such limit), and text without NUL (PostgreSQL text cannot hold it), each
// refused with a problem naming the body or the field. Text is checked on the embedded store and
// on PostgreSQL, where a NUL reaching a query was a 500.

const MIB = 1024 * 1024;

interface Early {
  status: number;
  body: string;
  /** Body bytes the client had handed over when the reply came. */
  sent: number;
}

function drainedOrClosed(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/**
 * POSTs up to `total` bytes of a JSON string value in 64 KiB chunks, stopping at the reply: with
 * `announce`, the Content-Length says the total; without, the body is chunked.
 */
function postLarge(server: TestServer, path: string, total: number, announce: boolean): Promise<Early> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(announce ? { 'content-length': String(total) } : {}) },
    });
    let sent = 0;
    let replied = false;
    req.on('response', (res: IncomingMessage) => {
      replied = true;
      const at = sent;
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, sent: at });
        req.destroy();
      });
    });
    // The server may close the connection as it answers, while this is still writing.
    req.on('error', (err) => {
      if (!replied) reject(err);
    });
    (async () => {
      const chunk = Buffer.alloc(64 * 1024, 'a');
      req.write('{"email":"');
      sent += 10;
      while (!replied && sent + chunk.length < total) {
        sent += chunk.length;
        if (!req.write(chunk)) await drainedOrClosed(req);
      }
      if (!replied) req.end();
    })().catch(() => {});
  });
}

describe('REST API: JSON bodies are at most 1 MiB', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const tooLarge = (r: { status: number; body: string }) => {
    assert.equal(r.status, 413, r.body);
    const p = JSON.parse(r.body) as { type: string; field: string };
    assert.equal(p.type, '/api/v1/problems/body-too-large');
    assert.equal(p.field, 'body');
  };

  test('anonymous sign-in: a Content-Length beyond the limit is refused before the body is read', async () => {
    const r = await postLarge(server, '/session', 200 * MIB, true);
    tooLarge(r);
    assert.ok(r.sent < 16 * MIB, `the reply came after ${r.sent} bytes`);
  });

  test('anonymous sign-in: a chunked body is cut off once it passes the limit, not read whole', async () => {
    const r = await postLarge(server, '/session', 64 * MIB, false);
    tooLarge(r);
    assert.ok(r.sent < 16 * MIB, `the reply came after ${r.sent} bytes`);
  });

  test('a signed-in JSON route is limited too; a body under the limit is read and validated', async () => {
    const path = `/projects/${server.bootstrap.projectId}/tokens`;
    const big = await call(server, 'POST', path, { as: rootBearer(server), json: { name: 'x', description: 'd'.repeat(MIB + 1), permission: 'object-ro', bucketScope: null } });
    assert.ok(isProblem(big, 413, 'body-too-large', 'body'), problemText(big));
    const under = await call(server, 'POST', path, { as: rootBearer(server), json: { name: 'x', description: 'd'.repeat(MIB - 1000), permission: 'object-ro', bucketScope: null } });
    assert.ok(isProblem(under, 400, 'validation', 'description'), problemText(under));
  });

  test('a chunked body under the limit is read as usual', async () => {
    const parts = [Buffer.from('{"email":"nobody@example.com",'), Buffer.from('"password":"password-wrong"}')];
    const r = await call(server, 'POST', '/session', { raw: Readable.from(parts) as unknown as RequestInit['body'], headers: { 'content-type': 'application/json' } });
    assert.ok(isProblem(r, 401, 'unauthenticated'), problemText(r));
  });

  test('a GET sent with a chunked body is answered as usual (its body is not read)', async () => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${server.url}/api/v1/projects/${server.bootstrap.projectId}/buckets`, {
        method: 'GET',
        headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}`, 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('{"ignored":true}');
    });
    assert.equal(reply.status, 200, reply.body);
  });

  test('an object upload is not JSON and has no such limit', async () => {
    const p = server.bootstrap.projectId;
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'uploads' } })).status, 201);
    const bytes = Buffer.alloc(3 * MIB, 7);
    const put = await call(server, 'PUT', `/projects/${p}/buckets/uploads/objects/content?key=big`, { as: rootBearer(server), raw: bytes });
    assert.equal(put.status, 200, problemText(put));
    assert.equal(put.body.size, bytes.length);
  });
});

const postgres = engine('postgres');

for (const store of ['embedded', 'postgres'] as const) {
  describe(`REST API: text inputs with NUL are 400 validation naming the field (${store} metadata)`, { skip: store === 'postgres' && postgres.skip }, () => {
    let server: TestServer;
    let admin: Session;
    let p: string;
    before(async () => {
      if (store === 'postgres') postgres.require();
      server = await startTestServer(store === 'postgres' ? { storage: { metadataUrl: await freshDatabase(), metadataPoolSize: 4 }, masterKey: TEST_MASTER_KEY } : {});
      admin = await adminSession(server);
      p = server.bootstrap.projectId;
      assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'bkt1' } })).status, 201);
    });
    after(() => server?.stop());

    const nul = encodeURIComponent('a\u0000');
    const cases: [string, string, () => string, unknown, string][] = [
      ['sign-in email', 'POST', () => '/session', { email: 'a\u0000@x', password: 'password-1' }, 'email'],
      ['token name', 'POST', () => `/projects/${p}/tokens`, { name: 'a\u0000b', permission: 'object-ro', bucketScope: null }, 'name'],
      ['token description', 'POST', () => `/projects/${p}/tokens`, { name: 'ok', description: '\u0000', permission: 'object-ro', bucketScope: null }, 'description'],
      ['token bucket scope', 'POST', () => `/projects/${p}/tokens`, { name: 'ok', permission: 'object-ro', bucketScope: ['bkt1/a\u0000'] }, 'bucketScope.0'],
      ['project name', 'POST', () => '/projects', { name: 'p\u0000' }, 'name'],
      ['project rename', 'PATCH', () => `/projects/${p}`, { name: 'p\u0000' }, 'name'],
      ['member email', 'POST', () => `/projects/${p}/members`, { email: 'a\u0000@x', role: 'member' }, 'email'],
      ['objects ?prefix', 'GET', () => `/projects/${p}/buckets/bkt1/objects?prefix=${nul}`, undefined, 'prefix'],
      ['objects ?cursor', 'GET', () => `/projects/${p}/buckets/bkt1/objects?cursor=${nul}`, undefined, 'cursor'],
      ['audit ?actor', 'GET', () => `/projects/${p}/audit?actor=${nul}`, undefined, 'actor'],
      ['usage ?bucket', 'GET', () => `/projects/${p}/usage?bucket=${nul}`, undefined, 'bucket'],
      ['project id', 'GET', () => `/projects/${nul}/buckets`, undefined, 'projectId'],
      ['token id', 'GET', () => `/projects/${p}/tokens/${nul}`, undefined, 'tokenId'],
    ];

    test('each is refused before it reaches the store, and the server goes on answering', async () => {
      for (const [what, method, path, json, field] of cases) {
        const r = await call(server, method, path(), { as: { session: admin }, json });
        assert.ok(isProblem(r, 400, 'validation', field), `${what}: ${problemText(r)}`);
        assert.match(r.body.detail, /NUL/, what);
      }
      const ok = await call(server, 'POST', `/projects/${p}/tokens`, { as: { session: admin }, json: { name: 'fine', permission: 'object-ro', bucketScope: null } });
      assert.equal(ok.status, 201, problemText(ok));
    });
  });
}
