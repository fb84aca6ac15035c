import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CreateBucketCommand, GetObjectCommand, PutBucketCorsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from './helpers/server.js';
import { IN_CI } from './helpers/clients.js';
import { issue, type Issued } from './helpers/tokens.js';
import { postPolicyFields } from './helpers/post-form.js';

// A real browser (Debian's Chromium through playwright-core) on a page served by a second loopback
// server — another origin — uploading to skep: a presigned PUT with a Content-Type header (so the
// browser sends a CORS preflight first), a form POST signed with a POST policy, and a GET whose
// body and exposed ETag the page may read only if the CORS headers allow it.

const CHROMIUM = process.env.SKEP_CHROMIUM ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or npm run test:setup)`;
const skip = missing && !IN_CI ? missing : false;

let server: TestServer;
let pageServer: Server;
let pageOrigin: string;
let browser: Browser;
let page: Page;
let writer: Issued;
const BUCKET = 'webapp-uploads';
const seen: string[] = [];

describe('CORS from a page on another origin, in Chromium', { skip, timeout: 120_000 }, () => {
  before(async () => {
    if (missing) throw new Error(`${missing} — required in CI`);
    server = await startTestServer();
    pageServer = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>uploader</title><h1>uploader</h1>');
    });
    await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', () => r()));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutBucketCorsCommand({
      Bucket: BUCKET,
      CORSConfiguration: {
        CORSRules: [{ AllowedOrigins: [pageOrigin], AllowedMethods: ['GET', 'PUT', 'POST'], AllowedHeaders: ['content-type'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 60 }],
      },
    }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'hello.txt', Body: 'hello browser' }));
    writer = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    page.on('request', (r) => {
      if (r.url().startsWith(server.url)) seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(pageOrigin);
  });
  after(async () => {
    await browser?.close();
    await new Promise<void>((r) => (pageServer ? pageServer.close(() => r()) : r()));
    await server?.stop();
  });

  test('a presigned PUT with Content-Type: the browser preflights, skep allows it, the upload lands', async () => {
    const url = await getSignedUrl(writer.s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'from-browser.txt', ContentType: 'text/plain' }), { expiresIn: 300 });
    const result = await page.evaluate(async (u) => {
      const res = await fetch(u, { method: 'PUT', body: 'uploaded from a page', headers: { 'Content-Type': 'text/plain' } });
      return { status: res.status, etag: res.headers.get('etag') };
    }, url);
    assert.equal(result.status, 200);
    assert.match(result.etag ?? '', /^"[0-9a-f]{32}"$/, 'ETag is exposed to the page');
    const got = await server.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-browser.txt' }));
    assert.equal(await got.Body!.transformToString(), 'uploaded from a page');
    assert.equal(got.ContentType, 'text/plain');
    // The preflight is not exposed as a request event in every Chromium build; ask skep directly as well.
    const preflight = await fetch(`${server.url}/${BUCKET}/from-browser.txt`, {
      method: 'OPTIONS',
      headers: { Origin: pageOrigin, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), pageOrigin);
    assert.equal(preflight.headers.get('access-control-max-age'), '60');
  });

  test('a header the rules do not allow fails the preflight, and nothing is stored', async () => {
    const url = await getSignedUrl(writer.s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'refused.txt' }), { expiresIn: 300 });
    const outcome = await page.evaluate(async (u) => {
      try {
        await fetch(u, { method: 'PUT', body: 'x', headers: { 'X-Not-Allowed': '1' } });
        return 'sent';
      } catch (err) {
        return String(err);
      }
    }, url);
    assert.match(outcome, /TypeError/);
    const stored = await server.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'refused.txt' })).then(() => true, () => false);
    assert.equal(stored, false);
  });

  test('a form POST signed with a POST policy uploads from the page, and the page reads the reply', async () => {
    const fields = postPolicyFields({ bucket: BUCKET, key: 'forms/${filename}', credentials: writer.credentials, fields: { success_action_status: '201' }, conditions: [['starts-with', '$key', 'forms/']] });
    // The key condition is on the submitted value (with ${filename}), not the substituted key.
    const result = await page.evaluate(async ({ url, fields }) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('file', new Blob(['posted by a browser form'], { type: 'text/plain' }), 'note.txt');
      const res = await fetch(url, { method: 'POST', body: form });
      return { status: res.status, body: await res.text() };
    }, { url: `${server.url}/${BUCKET}`, fields });
    assert.equal(result.status, 201, result.body);
    assert.match(result.body, /<Key>forms\/note\.txt<\/Key>/);
    const got = await server.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'forms/note.txt' }));
    assert.equal(await got.Body!.transformToString(), 'posted by a browser form');
  });

  test('a form POST fills ${filename} with the file name the browser sent, in UTF-8', async () => {
    const fields = postPolicyFields({ bucket: BUCKET, key: 'forms/${filename}', credentials: writer.credentials, conditions: [['starts-with', '$key', 'forms/']] });
    const name = 'café 日本語 ✓.txt';
    const status = await page.evaluate(async ({ url, fields, name }) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('file', new Blob(['named in UTF-8'], { type: 'text/plain' }), name);
      return (await fetch(url, { method: 'POST', body: form })).status;
    }, { url: `${server.url}/${BUCKET}`, fields, name });
    assert.equal(status, 204);
    const got = await server.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: `forms/${name}` }));
    assert.equal(await got.Body!.transformToString(), 'named in UTF-8');
  });

  test('an HTML object opened on the console\'s origin runs no script; on its bucket\'s own host it does', async () => {
    // Path style on the server's address shares an origin with /console and /api/v1: a page there
    // could read a signed-in operator's CSRF token and act as them. A key that may only write
    // this bucket must not be able to plant one.
    const html = '<!doctype html><title>page</title><script>document.title = "script ran"</script>';
    await writer.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'page.html', ContentType: 'text/html', Body: html }));
    const tab = await browser.newPage();
    try {
      await tab.goto(await getSignedUrl(writer.s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'page.html' }), { expiresIn: 300 }));
      assert.equal(await tab.locator('title').textContent(), 'page');
      assert.equal(await tab.title(), 'page', 'the script did not run');
      // Virtual-hosted style (<bucket>.s3.localhost, which Chromium resolves to this machine) is an origin of its own.
      const vhost = server.client({ endpoint: `http://s3.localhost:${server.port}`, forcePathStyle: false, credentials: writer.credentials });
      const own = await getSignedUrl(vhost, new GetObjectCommand({ Bucket: BUCKET, Key: 'page.html' }), { expiresIn: 300 });
      assert.ok(own.startsWith(`http://${BUCKET}.s3.localhost:`), own);
      await tab.goto(own);
      assert.equal(await tab.title(), 'script ran');
      // The sandbox does not stop a download: a shared link that asks for an attachment still saves the file.
      const attachment = await getSignedUrl(writer.s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'page.html', ResponseContentDisposition: 'attachment; filename="page.html"' }), { expiresIn: 300 });
      const [download] = await Promise.all([tab.waitForEvent('download'), tab.goto(attachment).catch(() => undefined)]);
      assert.equal(download.suggestedFilename(), 'page.html');
      assert.equal(await download.failure(), null);
    } finally {
      await tab.close();
    }
  });

  test('a presigned GET is readable by the page; another origin gets no CORS headers', async () => {
    const url = await getSignedUrl(writer.s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }), { expiresIn: 300 });
    const text = await page.evaluate(async (u) => (await fetch(u)).text(), url);
    assert.equal(text, 'hello browser');
    const other = await fetch(url, { headers: { Origin: 'http://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.ok(seen.some((r) => r.startsWith('GET /webapp-uploads/hello.txt')), `requests seen: ${seen.join(', ')}`);
  });
});
