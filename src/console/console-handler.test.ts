import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createConsoleHandler, isConsoleRequest, resolveConsoleRequest, wantsConsoleRedirect } from './console-handler.js';

// The console's static file handler against a fake build folder, through real HTTP requests
// (raw paths, so traversal attempts reach the handler as sent).

let dir: string;
let root: string;
let server: Server;
let port: number;
const INDEX = '<!doctype html><html><body><div id="root"></div><script src="/console/assets/app-abc123.js"></script></body></html>';
const APP_JS = `console.log(${JSON.stringify('x'.repeat(4000))});`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skep-console-'));
  root = join(dir, 'console-app');
  await mkdir(join(root, 'assets'), { recursive: true });
  await writeFile(join(root, 'index.html'), INDEX);
  await writeFile(join(root, 'assets', 'app-abc123.js'), APP_JS);
  await writeFile(join(root, 'assets', 'app-abc123.css'), 'body{margin:0}');
  await writeFile(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(dir, 'secret.txt'), 'outside the console folder');
  const handle = createConsoleHandler({ root });
  server = createServer((req, res) => {
    if (isConsoleRequest(req, ['s3.localhost'])) {
      handle(req, res).catch(() => res.destroy());
    } else {
      res.writeHead(418).end('s3');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /console redirects to /console/, which serves index.html uncached with a CSP', async () => {
  const r = await get('/console');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, '/console/');
  const idx = await get('/console/');
  assert.equal(idx.status, 200);
  assert.equal(idx.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(idx.headers['cache-control'], 'no-cache');
  assert.match(String(idx.headers['content-security-policy']), /default-src 'self'/);
  assert.equal(idx.headers['x-frame-options'], 'DENY');
  assert.equal(idx.body.toString(), INDEX);
});

test('client-side routes fall back to index.html, bucket names with dots included', async () => {
  for (const path of ['/console/signin', '/console/projects/p1/buckets', '/console/projects/p1/buckets/my.bucket.name?prefix=a%2F', '/console/projects/p1/tokens/new']) {
    const r = await get(path, { accept: 'text/html' });
    assert.equal(r.status, 200, path);
    assert.equal(r.body.toString(), INDEX, path);
  }
});

test('hashed assets get their content type and a long immutable cache', async () => {
  const js = await get('/console/assets/app-abc123.js');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(js.body.toString(), APP_JS);
  const css = await get('/console/assets/app-abc123.css');
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  const svg = await get('/console/favicon.svg');
  assert.equal(svg.headers['content-type'], 'image/svg+xml');
  assert.equal(svg.headers['cache-control'], 'public, max-age=3600');
});

test('a missing asset is 404, never index.html', async () => {
  const r = await get('/console/assets/app-old999.js');
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal((await get('/console/robots.txt')).status, 404);
});

test('paths that leave the folder are refused', async () => {
  for (const path of [
    '/console/../secret.txt',
    '/console/..%2fsecret.txt',
    '/console/%2e%2e/secret.txt',
    '/console/%2e%2e%2fsecret.txt',
    '/console/assets/..%2f..%2fsecret.txt',
    '/console/..%5csecret.txt',
    '/console/%00index.html',
  ]) {
    const r = await get(path);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.ok(!r.body.toString().includes('outside the console folder'), path);
  }
  // And in the pure resolver, a path that resolves outside never becomes a file reply.
  const reply = await resolveConsoleRequest(root, '/console/assets/../../secret.txt');
  assert.notEqual(reply.kind, 'file');
  assert.equal((await get('/console/%E0%A4%A')).status, 400);
});

test('HEAD answers headers only; other methods, and requests with S3 credentials, are S3’s', async () => {
  const head = await get('/console/assets/app-abc123.js', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(APP_JS)));
  assert.equal(head.body.length, 0);
  for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await get('/console/', {}, method)).status, 418, method);
  assert.equal((await get('/console', { authorization: 'AWS4-HMAC-SHA256 Credential=x' }, 'HEAD')).status, 418);
  for (const query of ['X-Amz-Signature=abc', 'X-Amz-Credential=x', 'AWSAccessKeyId=x&Expires=1', 'Signature=x']) {
    assert.equal((await get(`/console/key.txt?${query}`)).status, 418, query);
  }
  assert.equal((await get('/console/projects?tab=tokens')).status, 200, 'an ordinary query stays the console’s');
});

test('gzip when accepted, and 304 for a matching ETag', async () => {
  const gz = await get('/console/assets/app-abc123.js', { 'accept-encoding': 'gzip, br' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gz.body).toString(), APP_JS);
  assert.ok(gz.body.length < Buffer.byteLength(APP_JS));
  const etag = String(gz.headers.etag);
  const again = await get('/console/assets/app-abc123.js', { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
});

test('a browser opening / is sent to the console; S3 requests at / are not', async () => {
  const browser = await get('/', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
  assert.equal(browser.status, 302);
  assert.equal(browser.headers.location, '/console/');
  assert.equal((await get('/', { accept: 'text/html', authorization: 'AWS4-HMAC-SHA256 Credential=x' })).status, 418);
  assert.equal((await get('/?X-Amz-Signature=abc', { accept: 'text/html' })).status, 418);
  assert.equal((await get('/', { accept: '*/*' })).status, 418);
  assert.equal((await get('/', { accept: 'text/html' }, 'PUT')).status, 418);
  assert.equal((await get('/bucket/key', { accept: 'text/html' })).status, 418);
});

test('on a virtual-hosted bucket host, /console/... is an object key (S3), not the console', async () => {
  assert.equal((await get('/console/index.html', { host: 'photos.s3.localhost' })).status, 418);
  assert.equal((await get('/', { host: 'photos.s3.localhost', accept: 'text/html' })).status, 418);
  assert.equal((await get('/console/', { host: 's3.localhost' })).status, 200);
  assert.equal(wantsConsoleRedirect({ method: 'GET', url: '/', headers: { accept: 'text/html' } } as IncomingMessage), true);
});

test('an unbuilt console says how to build it', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'skep-console-empty-'));
  try {
    const reply = await resolveConsoleRequest(empty, '/console/');
    assert.equal(reply.kind, 'error');
    assert.equal(reply.kind === 'error' && reply.status, 503);
    assert.match(reply.kind === 'error' ? reply.message : '', /npm run build/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
