import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { issue } from './helpers/tokens.js';
import { send, signedHeaders } from './helpers/raw-s3.js';
import { bearerToken, call, isProblem, problemText, rootBearer } from './helpers/api.js';

// Usage per token: requests and bytes in/out of each token over a range of days, for callers
// with the billing permission; a token's temporary credentials count as the token.

let server: TestServer;
before(async () => {
  server = await startTestServer();
  await server.client().send(new CreateBucketCommand({ Bucket: 'usage-tokens' }));
});
after(() => server.stop());

test('each token with its requests and bytes, temporary credentials counted as their token; billing access required', async () => {
  const p = server.bootstrap.projectId;
  const a = await issue(server, { permission: 'object-rw', name: 'uploader' });
  const b = await issue(server, { permission: 'object-ro', name: 'reader' });
  await a.s3.send(new PutObjectCommand({ Bucket: 'usage-tokens', Key: 'k', Body: 'x'.repeat(1000) }));
  const got = await b.s3.send(new GetObjectCommand({ Bucket: 'usage-tokens', Key: 'k' }));
  await got.Body!.transformToString();
  const temp = await call(server, 'POST', `/projects/${p}/tokens/${a.token.id}/temporary-credentials`, { as: { bearer: a.credentials.bearerToken }, json: {} });
  const { accessKeyId, secretAccessKey, sessionToken } = temp.body.credentials;
  const session = server.client({ credentials: { accessKeyId, secretAccessKey, sessionToken }, maxAttempts: 1 });
  await session.send(new PutObjectCommand({ Bucket: 'usage-tokens', Key: 'k2', Body: 'y'.repeat(500) }));

  const r = await call(server, 'GET', `/projects/${p}/usage/tokens`, { as: rootBearer(server) });
  assert.equal(r.status, 200, r.text);
  const byId = new Map<string, any>(r.body.tokens.map((t: any) => [t.tokenId, t]));
  const ua = byId.get(a.token.id);
  assert.equal(ua.name, 'uploader');
  assert.equal(ua.requests.write, 2, 'its own PUT and its temporary credentials\' PUT');
  // Both PUT bodies, and the '{}' of the REST call that made the temporary credentials.
  assert.equal(ua.bytesIn, 1502);
  assert.equal(ua.requests.other, 1);
  const ub = byId.get(b.token.id);
  assert.equal(ub.name, 'reader');
  assert.equal(ub.requests.read, 1);
  assert.equal(ub.bytesOut, 1000);
  assert.ok(r.body.from <= r.body.to);

  const noBilling = await bearerToken(server, { permission: 'admin-rw', billing: false });
  const refused = await call(server, 'GET', `/projects/${p}/usage/tokens`, { as: noBilling.as });
  assert.ok(isProblem(refused, 403, 'forbidden'), problemText(refused));
  const bad = await call(server, 'GET', `/projects/${p}/usage/tokens?from=2024-13-01`, { as: rootBearer(server) });
  assert.ok(isProblem(bad, 400, 'validation', 'from'), problemText(bad));
});

test('bytes in are the body bytes received: not a length a body-less request claims, refused or not; a chunked body\'s bytes', async () => {
  const p = server.bootstrap.projectId;
  const c = await issue(server, { permission: 'object-rw', name: 'claimer' });
  const creds = { accessKeyId: c.credentials.accessKeyId, secretAccessKey: c.credentials.secretAccessKey };
  await c.s3.send(new PutObjectCommand({ Bucket: 'usage-tokens', Key: 'claimed', Body: 'z'.repeat(100) }));
  const totalIn = async () => {
    const r = await call(server, 'GET', `/projects/${p}/usage/tokens`, { as: rootBearer(server) });
    assert.equal(r.status, 200, r.text);
    return new Map<string, number>(r.body.tokens.map((t: any) => [t.tokenId, t.bytesIn]));
  };
  const before = await totalIn();
  const claim = { 'x-amz-decoded-content-length': '5000000000000000' };
  // Signed, answered; and anonymous, refused: each claims petabytes it never sent.
  const get = await signedHeaders(server, { method: 'GET', path: '/usage-tokens/claimed', headers: claim, sign: creds });
  assert.equal((await send(server, 'GET', '/usage-tokens/claimed', get)).status, 200);
  assert.equal((await send(server, 'GET', '/usage-tokens/claimed', { host: `127.0.0.1:${server.port}`, ...claim })).status, 403);
  // A body sent without a Content-Length (HTTP chunked) is data received all the same.
  const put = await signedHeaders(server, { method: 'PUT', path: '/usage-tokens/chunked', payloadHash: 'UNSIGNED-PAYLOAD', sign: creds });
  assert.equal((await send(server, 'PUT', '/usage-tokens/chunked', put, [Buffer.alloc(700, 1), Buffer.alloc(300, 2)])).status, 200);
  const after = await totalIn();
  assert.equal(after.get(c.token.id), (before.get(c.token.id) ?? 0) + 1000);
  assert.equal(after.get('') ?? 0, before.get('') ?? 0, 'the anonymous request received no body');
});
