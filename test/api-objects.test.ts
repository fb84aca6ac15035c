import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { captureLog, startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, userSession, type As, type Session } from './helpers/api.js';

// Objects through the REST API: list pages, streamed upload and download, delete, presigned URLs
// (signed by the caller's own token, so revoking it kills them), each decided by authorize().

describe('REST API: objects', () => {
  let server: TestServer;
  let p: string;
  let admin: Session;
  const root = () => rootBearer(server);
  const objects = (bucket: string) => `/projects/${p}/buckets/${bucket}/objects`;
  const content = (bucket: string, key: string) => `${objects(bucket)}/content?key=${encodeURIComponent(key)}`;

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    admin = await adminSession(server);
    for (const name of ['docs', 'other', 'listing']) {
      assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name } })).status, 201);
    }
    const s3 = server.client();
    const keys = ['a.txt', 'b/1.txt', 'b/2.txt', 'b/c/3.txt', 'c.txt', 'd/4.txt', 'e.txt'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'listing', Key, Body: Key }));
  });
  after(() => server.stop());

  test('upload, then download: bytes, Content-Type kept, ETag, Content-Disposition attachment', async () => {
    const body = 'héllo, wörld\n';
    const put = await call(server, 'PUT', content('docs', 'notes/héllo wörld.txt'), { as: root(), raw: body, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    assert.equal(put.status, 200, problemText(put));
    const md5 = createHash('md5').update(body).digest('hex');
    assert.deepEqual(put.body, { key: 'notes/héllo wörld.txt', size: Buffer.byteLength(body), etag: md5 });
    const get = await call(server, 'GET', content('docs', 'notes/héllo wörld.txt'), { as: root() });
    assert.equal(get.status, 200);
    assert.equal(get.text, body);
    assert.equal(get.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(get.headers.get('etag'), `"${md5}"`);
    assert.equal(get.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(get.headers.get('content-disposition'), `attachment; filename="h_llo w_rld.txt"; filename*=UTF-8''h%C3%A9llo%20w%C3%B6rld.txt`);
    // The object is an ordinary S3 object.
    const head = await server.client().send(new HeadObjectCommand({ Bucket: 'docs', Key: 'notes/héllo wörld.txt' }));
    assert.equal(head.ContentType, 'text/plain; charset=utf-8');
    assert.equal(head.ETag, `"${md5}"`);
  });

  test('empty objects, and binary without a Content-Type', async () => {
    assert.equal((await call(server, 'PUT', content('docs', 'empty'), { as: root(), raw: '' })).body.size, 0);
    const got = await call(server, 'GET', content('docs', 'empty'), { as: root() });
    assert.equal(got.status, 200);
    assert.equal(got.text, '');
    const bytes = randomBytes(1000);
    const res = await fetch(`${server.url}/api/v1${content('docs', 'bin')}`, { method: 'PUT', headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}` }, body: bytes });
    assert.equal(res.status, 200);
    const back = await fetch(`${server.url}/api/v1${content('docs', 'bin')}`, { headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}` } });
    assert.equal(back.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes);
  });

  test('HEAD of a download: its headers, and no body stream left open holding a file and a pin', async () => {
    const bytes = randomBytes(200_000);
    assert.equal((await call(server, 'PUT', content('docs', 'headed'), { as: root(), raw: bytes })).status, 200);
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    for (let i = 0; i < 40; i++) {
      const head = await call(server, 'HEAD', content('docs', 'headed'), { as: root() });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '200000');
      assert.equal(head.headers.get('etag'), `"${createHash('md5').update(bytes).digest('hex')}"`);
    }
    // A leaked body would hold one file per HEAD; a few may come and go with the connection pool.
    assert.ok(openFiles() - before < 10, `open files ${before} -> ${openFiles()}`);
  });

  test('HEAD of small downloads never ends the server: the headers alone, and the server answers afterwards', async () => {
    for (const size of [1, 2, 5, 100, 16 * 1024]) {
      const bytes = randomBytes(size);
      const key = `small-${size}`;
      assert.equal((await call(server, 'PUT', content('docs', key), { as: root(), raw: bytes })).status, 200);
      for (let i = 0; i < 10; i++) {
        const head = await call(server, 'HEAD', content('docs', key), { as: root() });
        assert.equal(head.status, 200, `${size}`);
        assert.equal(head.headers.get('content-length'), String(size));
        assert.equal(head.text, '');
      }
      // An error thrown by a cancelled stream surfaces on a later tick.
      await sleep(20);
      const got = await fetch(`${server.url}/api/v1${content('docs', key)}`, { headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}` } });
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
    }
    assert.equal((await call(server, 'GET', '/openapi.json')).status, 200);
  });

  test('a large upload is streamed to the blob store while it arrives (no buffering), and streams back', async () => {
    const chunk = randomBytes(1024 * 1024);
    const total = 24;
    const md5 = createHash('md5');
    const tmpDir = join(server.dataDir, 'blobs', 'tmp');
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${server.url}/api/v1${content('docs', 'big.bin')}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}`, 'content-type': 'application/x-big' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      (async () => {
        for (let i = 0; i < total / 2; i++) {
          md5.update(chunk);
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        // Half the body is sent and the request is still open: the bytes must already be on disk.
        let onDisk = 0;
        for (let tries = 0; tries < 100 && onDisk < 4 * 1024 * 1024; tries++) {
          await sleep(20);
          onDisk = readdirSync(tmpDir).reduce((n, f) => n + statSync(join(tmpDir, f)).size, 0);
        }
        assert.ok(onDisk >= 4 * 1024 * 1024, `only ${onDisk} bytes reached the blob store before the body ended`);
        for (let i = total / 2; i < total; i++) {
          md5.update(chunk);
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(reject);
    });
    const r = await reply;
    assert.equal(r.status, 200, r.body);
    const etag = md5.digest('hex');
    assert.deepEqual(JSON.parse(r.body), { key: 'big.bin', size: total * chunk.length, etag });
    const res = await fetch(`${server.url}/api/v1${content('docs', 'big.bin')}`, { headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}` } });
    const back = createHash('md5');
    let size = 0;
    for await (const piece of Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream)) {
      back.update(piece as Buffer);
      size += (piece as Buffer).length;
    }
    assert.equal(size, total * chunk.length);
    assert.equal(back.digest('hex'), etag);
  });

  test('a body shorter than its Content-Length stores nothing', async () => {
    const status = await new Promise<number>((resolve) => {
      const req = httpRequest(`${server.url}/api/v1${content('docs', 'short.bin')}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${server.bootstrap.issued!.bearerToken}`, 'content-length': '100' },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', () => resolve(-1));
      req.write('only a few bytes');
      setTimeout(() => req.destroy(), 200);
    });
    assert.notEqual(status, 200);
    await sleep(100);
    assert.ok(isProblem(await call(server, 'GET', content('docs', 'short.bin'), { as: root() }), 404, 'not-found'));
  });

  test('list: one page, with delimiter prefixes, and paging by cursor visits each key once', async () => {
    const all = await call(server, 'GET', objects('listing'), { as: root() });
    assert.equal(all.status, 200, problemText(all));
    assert.equal(all.body.items.length, 7);
    assert.deepEqual(Object.keys(all.body.items[0]).sort(), ['etag', 'key', 'lastModified', 'size']);
    assert.equal(all.body.items[0].etag, createHash('md5').update('a.txt').digest('hex'));
    assert.equal(all.body.nextCursor, null);

    const top = await call(server, 'GET', `${objects('listing')}?delimiter=/`, { as: root() });
    assert.deepEqual(top.body.items.map((o: { key: string }) => o.key), ['a.txt', 'c.txt', 'e.txt']);
    assert.deepEqual(top.body.prefixes, ['b/', 'd/']);

    const inB = await call(server, 'GET', `${objects('listing')}?prefix=b/&delimiter=/`, { as: root() });
    assert.deepEqual(inB.body.items.map((o: { key: string }) => o.key), ['b/1.txt', 'b/2.txt']);
    assert.deepEqual(inB.body.prefixes, ['b/c/']);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `?delimiter=/&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await call(server, 'GET', `${objects('listing')}${q}`, { as: root() });
      assert.equal(page.status, 200, problemText(page));
      seen.push(...page.body.items.map((o: { key: string }) => o.key), ...page.body.prefixes);
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    assert.deepEqual(seen.sort(), ['a.txt', 'b/', 'c.txt', 'd/', 'e.txt']);
    assert.equal(pages, 3);
  });

  test('list: query validation names the parameter', async () => {
    for (const [q, field] of [['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=abc', 'limit'], ['cursor=%%%', 'cursor'], ['cursor=bad!', 'cursor'], ['tokn=x', 'tokn'], ['prefix=a&Delimiter=/', 'Delimiter']] as const) {
      const r = await call(server, 'GET', `${objects('listing')}?${q}`, { as: root() });
      assert.ok(isProblem(r, 400, 'validation', field), `${q}: ${problemText(r)}`);
    }
  });

  test('key validation: missing, empty and over-long keys are 400 naming key', async () => {
    assert.ok(isProblem(await call(server, 'GET', `${objects('docs')}/content`, { as: root() }), 400, 'validation', 'key'));
    assert.ok(isProblem(await call(server, 'GET', `${objects('docs')}/content?key=`, { as: root() }), 400, 'validation', 'key'));
    assert.ok(isProblem(await call(server, 'GET', `${objects('docs')}/content?Key=a`, { as: root() }), 400, 'validation', 'Key'));
    assert.ok(isProblem(await call(server, 'DELETE', `${objects('docs')}?key=a&version=1`, { as: root() }), 400, 'validation', 'version'));
    assert.ok(isProblem(await call(server, 'PUT', content('docs', 'x'.repeat(1025)), { as: root(), raw: 'x' }), 400, 'validation', 'key'));
    assert.ok(isProblem(await call(server, 'GET', content('docs', 'no such key'), { as: root() }), 404, 'not-found'));
    assert.ok(isProblem(await call(server, 'GET', content('nope', 'k'), { as: root() }), 404, 'not-found'));
  });

  test('a query parameter that is not percent-encoded UTF-8 is 400 naming it, and nothing is stored', async () => {
    for (const bad of ['%E0%A4%A', '%ED%A0%80', '%C0%AF', 'a%', 'a%zz']) {
      const put = await call(server, 'PUT', `${objects('docs')}/content?key=${bad}`, { as: root(), raw: 'x' });
      assert.ok(isProblem(put, 400, 'validation', 'key'), `${bad}: ${problemText(put)}`);
      const get = await call(server, 'GET', `${objects('docs')}/content?key=ok&versionId=${bad}`, { as: root() });
      assert.ok(isProblem(get, 400, 'validation', 'versionId'), `${bad}: ${problemText(get)}`);
    }
    assert.ok(isProblem(await call(server, 'GET', `${objects('docs')}?pre%E0fix=a`, { as: root() }), 400, 'validation', 'pre%E0fix'));
    const listed = await call(server, 'GET', objects('docs'), { as: root() });
    assert.deepEqual(listed.body.items.filter((o: { key: string }) => o.key.includes('%') || /[\ud800-\udfff]/.test(o.key)), []);
    // Well-formed escapes, '+' for a space included, still name their key.
    assert.equal((await call(server, 'PUT', `${objects('docs')}/content?key=%E0%A4%A4+x`, { as: root(), raw: 'x' })).body.key, '\u0924 x');
  });

  test('delete: 204, also for a missing key; the object is gone', async () => {
    await call(server, 'PUT', content('docs', 'gone.txt'), { as: root(), raw: 'x' });
    assert.equal((await call(server, 'DELETE', `${objects('docs')}?key=gone.txt`, { as: root() })).status, 204);
    assert.equal((await call(server, 'DELETE', `${objects('docs')}?key=gone.txt`, { as: root() })).status, 204);
    assert.ok(isProblem(await call(server, 'GET', content('docs', 'gone.txt'), { as: root() }), 404, 'not-found'));
  });

  test('rights by permission level and bucket scope, for bearer tokens and sessions', async () => {
    await call(server, 'PUT', content('docs', 'r.txt'), { as: root(), raw: 'r' });
    const who: [string, As, { read: boolean; write: boolean; del: boolean; list: boolean }][] = [
      ['admin-rw', (await bearerToken(server, { permission: 'admin-rw' })).as, { read: true, write: true, del: true, list: true }],
      ['admin-ro', (await bearerToken(server, { permission: 'admin-ro' })).as, { read: true, write: false, del: false, list: true }],
      ['object-rw', (await bearerToken(server, { permission: 'object-rw' })).as, { read: true, write: true, del: true, list: true }],
      ['object-ro', (await bearerToken(server, { permission: 'object-ro' })).as, { read: true, write: false, del: false, list: true }],
      ['object-rw other bucket', (await bearerToken(server, { permission: 'object-rw', bucketScope: ['other'] })).as, { read: false, write: false, del: false, list: false }],
      ['owner', { session: admin }, { read: true, write: true, del: true, list: true }],
      ['member', { session: await userSession(server, { projectId: p, role: 'member' }) }, { read: true, write: true, del: true, list: true }],
    ];
    for (const [name, as, may] of who) {
      const read = await call(server, 'GET', content('docs', 'r.txt'), { as });
      assert.equal(read.status, may.read ? 200 : 403, `${name} read: ${problemText(read)}`);
      const list = await call(server, 'GET', objects('docs'), { as });
      assert.equal(list.status, may.list ? 200 : 403, `${name} list`);
      const write = await call(server, 'PUT', content('docs', `w-${name}`), { as, raw: 'w' });
      assert.equal(write.status, may.write ? 200 : 403, `${name} write: ${problemText(write)}`);
      const del = await call(server, 'DELETE', `${objects('docs')}?key=${encodeURIComponent(`w-${name}`)}`, { as });
      assert.equal(del.status, may.del ? 204 : 403, `${name} delete`);
      if (!may.read) assert.ok(isProblem(read, 403, 'forbidden'));
    }
  });

  test('session writes need the CSRF header; reads do not', async () => {
    const noCsrf = await call(server, 'PUT', content('docs', 'csrf.txt'), { as: { session: admin, csrf: false }, raw: 'x' });
    assert.ok(isProblem(noCsrf, 403, 'csrf'), problemText(noCsrf));
    assert.ok(isProblem(await call(server, 'DELETE', `${objects('docs')}?key=r.txt`, { as: { session: admin, csrf: false } }), 403, 'csrf'));
    assert.equal((await call(server, 'GET', objects('docs'), { as: { session: admin, csrf: false } })).status, 200);
  });
});

describe('REST API: presigned URLs', () => {
  let server: TestServer;
  let p: string;
  const presign = (as: As, bucket: string, body: unknown) => call(server, 'POST', `/projects/${p}/buckets/${bucket}/presign`, { as, json: body });

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    for (const name of ['media', 'private']) await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name } });
    await server.client().send(new PutObjectCommand({ Bucket: 'media', Key: 'dir/cat photo.jpg', Body: 'meow' }));
  });
  after(() => server.stop());

  test('a bearer token’s GET and PUT URLs work with fetch, and stop working when the token is revoked', async () => {
    const t = await bearerToken(server, { permission: 'object-rw' });
    const get = await presign(t.as, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 300 });
    assert.equal(get.status, 200, problemText(get));
    assert.deepEqual(Object.keys(get.body).sort(), ['expiresAt', 'method', 'url']);
    assert.equal(get.body.method, 'GET');
    assert.ok(get.body.url.startsWith(`${server.url}/media/dir/cat%20photo.jpg?`), get.body.url);
    assert.match(get.body.url, new RegExp(`X-Amz-Credential=${t.credentials.accessKeyId}%2F`));
    assert.ok(Math.abs(Date.parse(get.body.expiresAt) - (Date.now() + 300_000)) < 10_000);
    // To the millisecond when the URL stops working: its X-Amz-Date (whole seconds) plus X-Amz-Expires.
    const signedAt = /X-Amz-Date=(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(get.body.url)!.slice(1).map(Number);
    assert.equal(Date.parse(get.body.expiresAt), Date.UTC(signedAt[0]!, signedAt[1]! - 1, signedAt[2], signedAt[3], signedAt[4], signedAt[5]) + 300_000);
    const fetched = await fetch(get.body.url);
    assert.equal(fetched.status, 200);
    assert.equal(await fetched.text(), 'meow');

    const put = await presign(t.as, 'media', { key: 'uploads/new.txt', method: 'PUT', expiresIn: 300 });
    assert.equal((await fetch(put.body.url, { method: 'PUT', body: 'uploaded' })).status, 200);
    const back = await server.client().send(new GetObjectCommand({ Bucket: 'media', Key: 'uploads/new.txt' }));
    assert.equal(await back.Body!.transformToString(), 'uploaded');

    await server.tokens.revoke(t.token.id, { actor: 'test' });
    const after = await fetch(get.body.url);
    assert.equal(after.status, 403);
    assert.match(await after.text(), /InvalidAccessKeyId/);
    assert.equal((await fetch(put.body.url, { method: 'PUT', body: 'again' })).status, 403);
  });

  test('rights: GET needs ReadObject, PUT WriteObject, in scope', async () => {
    const ro = await bearerToken(server, { permission: 'object-ro' });
    assert.equal((await presign(ro.as, 'media', { key: 'k', method: 'GET', expiresIn: 60 })).status, 200);
    assert.ok(isProblem(await presign(ro.as, 'media', { key: 'k', method: 'PUT', expiresIn: 60 }), 403, 'forbidden'));
    const scoped = await bearerToken(server, { permission: 'object-rw', bucketScope: ['media'] });
    assert.ok(isProblem(await presign(scoped.as, 'private', { key: 'k', method: 'GET', expiresIn: 60 }), 403, 'forbidden'));
    assert.ok(isProblem(await presign(rootBearer(server), 'nope', { key: 'k', method: 'GET', expiresIn: 60 }), 404, 'not-found'));
  });

  test('validation: expiresIn 1..604800, method GET|PUT, unknown fields, key required', async () => {
    const as = rootBearer(server);
    assert.ok(isProblem(await presign(as, 'media', { key: 'k', method: 'GET', expiresIn: 0 }), 400, 'validation', 'expiresIn'));
    assert.ok(isProblem(await presign(as, 'media', { key: 'k', method: 'GET', expiresIn: 604801 }), 400, 'validation', 'expiresIn'));
    assert.ok(isProblem(await presign(as, 'media', { key: 'k', method: 'GET', expiresIn: '60' }), 400, 'validation', 'expiresIn'));
    assert.ok(isProblem(await presign(as, 'media', { key: 'k', method: 'DELETE', expiresIn: 60 }), 400, 'validation', 'method'));
    assert.ok(isProblem(await presign(as, 'media', { key: 'k', method: 'GET', expiresIn: 60, acl: 'public' }), 400, 'validation', 'acl'));
    assert.ok(isProblem(await presign(as, 'media', { method: 'GET', expiresIn: 60 }), 400, 'validation', 'key'));
    const dflt = await presign(as, 'media', { key: 'k', method: 'GET' });
    assert.equal(dflt.status, 200);
    assert.match(dflt.body.url, /X-Amz-Expires=3600&/);
  });

  test('a URL expires; expiresAt is capped by the signing token’s own expiry', async () => {
    const t = await bearerToken(server, { permission: 'object-ro', expiresInDays: 1 });
    const r = await presign(t.as, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 604800 });
    assert.equal(r.status, 200);
    assert.equal(r.body.expiresAt, t.token.expiresAt);
    const short = await presign(t.as, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 1 });
    await sleep(2100);
    const res = await fetch(short.body.url);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /expired/);
  });

  test('console sessions sign with a per-user console token (reused; its level from the role); revoking it kills the URLs', async () => {
    const owner = await adminSession(server);
    const a = await presign({ session: owner }, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 600 });
    assert.equal(a.status, 200, problemText(a));
    assert.equal(await (await fetch(a.body.url)).text(), 'meow');
    const b = await presign({ session: owner }, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 600 });
    const consoleTokens = (await server.tokens.list(p)).filter((t) => t.name === 'console:admin@localhost');
    assert.equal(consoleTokens.length, 1, 'one console token, reused');
    const ct = consoleTokens[0];
    assert.equal(ct.createdBy, `user:${owner.email}`);
    assert.equal(ct.permission, 'admin-rw');
    assert.equal(ct.bucketScope, null);
    assert.ok(Math.abs(Date.parse(ct.expiresAt!) - (Date.now() + 7 * 86_400_000)) < 60_000);
    assert.match(b.body.url, new RegExp(`X-Amz-Credential=${ct.accessKeyId}%2F`));

    const member = await userSession(server, { projectId: p, role: 'member' });
    const m = await presign({ session: member, csrf: true }, 'media', { key: 'from-member.txt', method: 'PUT', expiresIn: 600 });
    assert.equal(m.status, 200, problemText(m));
    assert.equal((await fetch(m.body.url, { method: 'PUT', body: 'hi' })).status, 200);
    const memberToken = (await server.tokens.list(p)).find((t) => t.name === `console:${member.email}`)!;
    assert.equal(memberToken.permission, 'object-rw');

    await server.tokens.revoke(ct.id, { actor: 'test' });
    assert.equal((await fetch(a.body.url)).status, 403);
    const c = await presign({ session: owner }, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 600 });
    assert.equal(await (await fetch(c.body.url)).text(), 'meow', 'a new console token is made');
    assert.equal((await server.tokens.list(p)).filter((t) => t.name === 'console:admin@localhost').length, 2);
  });

  test('a member’s share links end when the member leaves the project, and a changed role’s when the role changes', async () => {
    const owner = await adminSession(server);
    const consoleToken = async (email: string) => (await server.tokens.list(p)).filter((t) => t.name === `console:${email}`);
    const member = await userSession(server, { projectId: p, role: 'member' });
    const get = await presign({ session: member }, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 3600 });
    const put = await presign({ session: member }, 'media', { key: 'from-leaver.txt', method: 'PUT', expiresIn: 3600 });
    assert.equal((await fetch(get.body.url)).status, 200, problemText(get));
    const removed = await call(server, 'DELETE', `/projects/${p}/members/${member.userId}`, { as: { session: owner } });
    assert.equal(removed.status, 204, problemText(removed));
    assert.equal((await fetch(get.body.url)).status, 403);
    assert.equal((await fetch(put.body.url, { method: 'PUT', body: 'after leaving' })).status, 403);
    const [left] = await consoleToken(member.email);
    assert.equal(left.status, 'revoked');

    // An owner demoted to member keeps no admin-level links; the next share is signed at the new level.
    const demoted = await userSession(server, { projectId: p, role: 'owner' });
    const asOwner = await presign({ session: demoted }, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 3600 });
    assert.equal((await fetch(asOwner.body.url)).status, 200);
    const changed = await call(server, 'PATCH', `/projects/${p}/members/${demoted.userId}`, { as: { session: owner }, json: { role: 'member' } });
    assert.equal(changed.status, 200, problemText(changed));
    assert.equal((await fetch(asOwner.body.url)).status, 403);
    const asMember = await presign({ session: demoted }, 'media', { key: 'dir/cat photo.jpg', method: 'GET', expiresIn: 3600 });
    assert.equal(await (await fetch(asMember.body.url)).text(), 'meow');
    const levels = (await consoleToken(demoted.email)).map((t) => [t.permission, t.status]).sort();
    assert.deepEqual(levels, [['admin-rw', 'revoked'], ['object-rw', 'active']]);

    const audit = await server.services.audit.list({ projectId: p, actions: ['token.revoked'], limit: 10 });
    const revokedBy = (tokenId: string) => audit.filter((a) => a.tokenId === tokenId).map((a) => [a.actor, a.detail]);
    assert.deepEqual(revokedBy(left.id), [['user:admin@localhost', `${member.email} left the project`]]);
    const adminLevel = (await consoleToken(demoted.email)).find((t) => t.permission === 'admin-rw')!;
    assert.deepEqual(revokedBy(adminLevel.id), [['user:admin@localhost', `${demoted.email}'s role changed: owner -> member`]]);
  });

  test('the console token is replaced when it has a day or less left', async () => {
    const owner = await adminSession(server);
    const first = await presign({ session: owner }, 'media', { key: 'k', method: 'GET', expiresIn: 60 });
    assert.equal(first.status, 200);
    const count = () => server.tokens.list(p).then((l) => l.filter((t) => t.name === 'console:admin@localhost' && t.status !== 'revoked').length);
    const before = await count();
    server.shiftClock(6 * 86_400_000 + 3600_000);
    try {
      const fresh = await signInAgain(server);
      const next = await presign({ session: fresh }, 'media', { key: 'k', method: 'GET', expiresIn: 60 });
      assert.equal(next.status, 200, problemText(next));
      assert.equal(await count(), before + 1);
    } finally {
      server.shiftClock(-(6 * 86_400_000 + 3600_000));
    }
  });
});

function signInAgain(server: TestServer): Promise<Session> {
  return adminSession(server);
}

describe('REST API: an upload the client drops', () => {
  test('is logged as a client abort (info), as on S3, not as an internal error', async () => {
    const log = captureLog('info');
    const server = await startTestServer({}, { log: log.logger });
    try {
      const p = server.bootstrap.projectId;
      assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'drops' } })).status, 201);
      const before = log.lines.length;
      await new Promise<void>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          const head = [
            `PUT /api/v1/projects/${p}/buckets/drops/objects/content?key=dropped.bin HTTP/1.1`,
            `Host: 127.0.0.1:${server.port}`,
            `Authorization: Bearer ${(rootBearer(server) as { bearer: string }).bearer}`,
            'Content-Type: application/octet-stream',
            `Content-Length: ${1024 * 1024}`,
          ];
          socket.write(`${head.join('\r\n')}\r\n\r\n`);
          socket.write(Buffer.alloc(64 * 1024, 7), () => setTimeout(() => (socket.destroy(), resolve()), 100));
        });
        socket.on('error', reject);
      });
      const logged = () => log.lines.slice(before).filter((l) => /aborted|error/.test(l.msg));
      for (let i = 0; i < 100 && logged().length === 0; i++) await sleep(20);
      const lines = log.lines.slice(before);
      assert.deepEqual(logged().map((l) => [l.level, l.msg]), [[30, 'api: client aborted the request']], JSON.stringify(lines));
      assert.ok(!lines.some((l) => l.level >= 50), JSON.stringify(lines));
      assert.equal((await call(server, 'GET', `/projects/${p}/buckets/drops/objects`, { as: rootBearer(server) })).body.items.length, 0);
    } finally {
      await server.stop();
    }
  });
});
