import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from './helpers/server.js';
import { fetchOutcome, isDenied, outcome, waitFor } from './helpers/tokens.js';
import { call, isProblem, problemText, rootBearer } from './helpers/api.js';
import { availability, baseEnv, run, systemExecutable, tempDir } from './helpers/clients.js';

// Network conditions (allowed CIDRs, IPv4 and IPv6, on S3 and REST, the client address taken
// from X-Forwarded-For only behind a configured trusted proxy) and per-token request-rate limits
// (S3: 503 SlowDown with Retry-After; REST: 429 with Retry-After).

const BUCKET = 'net-data';
let server: TestServer;
let proxied: TestServer;
const p = () => server.bootstrap.projectId;

async function createToken(s: TestServer, body: Record<string, unknown>) {
  const r = await call(s, 'POST', `/projects/${s.bootstrap.projectId}/tokens`, { as: rootBearer(s), json: { name: `t-${Math.random().toString(36).slice(2, 8)}`, permission: 'object-rw', bucketScope: null, ...body } });
  assert.equal(r.status, 201, r.text);
  return r.body as { token: { id: string }; credentials: { accessKeyId: string; secretAccessKey: string; bearerToken: string } };
}

before(async () => {
  server = await startTestServer();
  // A server behind a reverse proxy at 127.0.0.1: X-Forwarded-For names the client.
  proxied = await startTestServer({ trustedProxies: ['127.0.0.1'] });
  for (const s of [server, proxied]) {
    await s.client().send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'v' }));
  }
});
after(async () => {
  await server.stop();
  await proxied.stop();
});

describe('allowed networks', () => {
  test('a token limited to other networks is refused on S3 (headers and presigned) and REST, and the refusal is audited', async () => {
    const t = await createToken(server, { allowedNetworks: ['10.0.0.0/8', '2001:db8::/32'] });
    const s3 = server.client({ credentials: t.credentials, maxAttempts: 1 });
    const o = await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })));
    assert.ok(isDenied(o), JSON.stringify(o));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), { expiresIn: 60 });
    assert.ok(isDenied(await fetchOutcome(await fetch(url))));
    const rest = await call(server, 'GET', `/projects/${p()}/buckets`, { as: { bearer: t.credentials.bearerToken } });
    assert.ok(isProblem(rest, 403, 'forbidden'), problemText(rest));
    assert.match(rest.body.detail, /127\.0\.0\.1/);
    // X-Forwarded-For from a client that is not a trusted proxy changes nothing.
    const spoofed = await call(server, 'GET', `/projects/${p()}/buckets`, { as: { bearer: t.credentials.bearerToken }, headers: { 'x-forwarded-for': '10.1.2.3' } });
    assert.ok(isProblem(spoofed, 403, 'forbidden'), problemText(spoofed));
    await waitFor('the audit event', async () =>
      (await server.services.audit.list({ tokenId: t.token.id, actions: ['auth.network-denied'], limit: 10 })).some((e) => e.source === '127.0.0.1'),
    );
  });

  test('a token limited to the client\'s network works', async () => {
    const t = await createToken(server, { allowedNetworks: ['127.0.0.0/8'] });
    const s3 = server.client({ credentials: t.credentials, maxAttempts: 1 });
    assert.ok((await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })))).ok);
    const rest = await call(server, 'GET', `/projects/${p()}/buckets`, { as: { bearer: t.credentials.bearerToken } });
    assert.equal(rest.status, 200, rest.text);
  });

  test('behind a trusted proxy, the forwarded address decides, IPv6 included', async () => {
    const t = await createToken(proxied, { allowedNetworks: ['2001:db8::/32', '198.51.100.7'] });
    const as = { bearer: t.credentials.bearerToken };
    const path = `/projects/${proxied.bootstrap.projectId}/buckets`;
    for (const [forwarded, allowed] of [['2001:db8::5', true], ['2001:db9::1', false], ['198.51.100.7', true], ['198.51.100.8', false], ['[2001:db8::9]:443', true]] as const) {
      const r = await call(proxied, 'GET', path, { as, headers: { 'x-forwarded-for': forwarded } });
      assert.equal(r.status, allowed ? 200 : 403, `${forwarded}: ${problemText(r)}`);
    }
    // S3 through the same proxy: the SDK adds the header the proxy would.
    const s3 = proxied.client({ credentials: t.credentials, maxAttempts: 1 });
    let forwardedFor = '2001:db8::77';
    s3.middlewareStack.add((next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-forwarded-for'] = forwardedFor;
      return next(args);
    }, { step: 'build', name: 'proxy' });
    assert.ok((await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })))).ok);
    forwardedFor = '203.0.113.1';
    assert.ok(isDenied(await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })))));
  });

  test('an invalid network is a 400 naming allowedNetworks, and nothing is created', async () => {
    const before = (await server.tokens.list(p())).length;
    for (const bad of [['10.0.0.0/33'], ['not-an-ip'], ['2001:db8::/129'], [], ['10.0.0.0/8', '300.1.1.1']]) {
      const r = await call(server, 'POST', `/projects/${p()}/tokens`, { as: rootBearer(server), json: { name: 'bad-net', permission: 'object-ro', bucketScope: null, allowedNetworks: bad } });
      assert.ok(isProblem(r, 400, 'validation', 'allowedNetworks'), `${JSON.stringify(bad)}: ${problemText(r)}`);
    }
    assert.equal((await server.tokens.list(p())).length, before);
  });

  test('a prefix length other than 1-3 digits is a 400 (not /0, not 24, not a crash), and the server stays up', async () => {
    // Number() read "" as 0 (every address), "0x18" as 24, "1e1" as 10, and "-0" as a negative
    // zero that node's BlockList asserts on, aborting the process.
    for (const bad of ['10.9.9.9/-0', '10.9.9.9/', '10.0.0.0/0x18', '10.0.0.0/1e1', '10.0.0.0/8/8', '2001:db8::/-0']) {
      const r = await call(server, 'POST', `/projects/${p()}/tokens`, { as: rootBearer(server), json: { name: 'bad-prefix', permission: 'object-ro', bucketScope: null, allowedNetworks: [bad] } });
      assert.ok(isProblem(r, 400, 'validation', 'allowedNetworks'), `${bad}: ${problemText(r)}`);
    }
    assert.ok((await outcome(server.client({ maxAttempts: 1 }).send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok, 'the server answers');
  });

  test('a token that kept an empty prefix length from before ("10.9.9.9/", once read as /0) is usable from nowhere', async () => {
    const t = await createToken(server, { allowedNetworks: ['10.9.9.9/32'] });
    await server.services.meta.updateToken(t.token.id, { allowedNetworks: ['10.9.9.9/'] });
    const o = await outcome(server.client({ credentials: t.credentials, maxAttempts: 1 }).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })));
    assert.ok(isDenied(o), JSON.stringify(o));
    const rest = await call(server, 'GET', `/projects/${p()}/buckets`, { as: { bearer: t.credentials.bearerToken } });
    assert.ok(isProblem(rest, 403, 'forbidden'), problemText(rest));
  });

  test('a caller limited to networks hands out tokens only within them', async () => {
    const limited = await createToken(server, { permission: 'admin-rw', allowedNetworks: ['127.0.0.0/8'] });
    const as = { bearer: limited.credentials.bearerToken };
    const inside = await call(server, 'POST', `/projects/${p()}/tokens`, { as, json: { name: 'inside', permission: 'object-ro', bucketScope: null, allowedNetworks: ['127.0.0.1'] } });
    assert.equal(inside.status, 201, inside.text);
    for (const nets of [null, ['10.0.0.0/8'], ['0.0.0.0/0']]) {
      const r = await call(server, 'POST', `/projects/${p()}/tokens`, { as, json: { name: 'escape', permission: 'object-ro', bucketScope: null, allowedNetworks: nets } });
      assert.ok(isProblem(r, 403, 'forbidden'), `${JSON.stringify(nets)}: ${problemText(r)}`);
    }
  });
});

describe('request-rate limits', () => {
  test('S3 answers 503 SlowDown with Retry-After beyond the limit (SDK and curl); other tokens are not affected', async () => {
    const t = await createToken(server, { rateLimit: 5 });
    const s3 = server.client({ credentials: t.credentials, maxAttempts: 1 });
    for (let i = 0; i < 5; i++) assert.ok((await outcome(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok, `request ${i + 1}`);
    try {
      await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      assert.fail('the sixth request went through');
    } catch (err) {
      assert.ok(err instanceof S3ServiceException, String(err));
      assert.equal(err.name, 'SlowDown');
      assert.equal(err.$metadata.httpStatusCode, 503);
      const retryAfter = Number((err.$response?.headers ?? {})['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    }
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), { expiresIn: 60 });
    const curl = systemExecutable('/usr/bin/curl');
    const have = availability('curl', curl, 'apt-get install curl');
    if (!have.skip) {
      const home = await tempDir('rate-curl');
      try {
        const r = await run(have.require(), ['-s', '-i', url], { env: baseEnv(home.path) });
        assert.match(r.stdout, /^HTTP\/1\.1 503/);
        assert.match(r.stdout, /\r\nRetry-After: \d+\r\n/i);
        assert.match(r.stdout, /<Code>SlowDown<\/Code>/);
      } finally {
        await home.remove();
      }
    }
    // The root key has no limit.
    assert.ok((await outcome(server.client({ maxAttempts: 1 }).send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
  });

  test('the REST API answers 429 rate-limited with Retry-After, counting S3 and REST requests together', async () => {
    const t = await createToken(server, { rateLimit: 3 });
    const as = { bearer: t.credentials.bearerToken };
    const s3 = server.client({ credentials: t.credentials, maxAttempts: 1 });
    assert.ok((await outcome(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
    for (let i = 0; i < 2; i++) assert.equal((await call(server, 'GET', `/projects/${p()}/buckets`, { as })).status, 200);
    const limited = await call(server, 'GET', `/projects/${p()}/buckets`, { as });
    assert.ok(isProblem(limited, 429, 'rate-limited'), problemText(limited));
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // A minute later the window has moved on.
    server.shiftClock(61_000);
    try {
      assert.equal((await call(server, 'GET', `/projects/${p()}/buckets`, { as })).status, 200);
    } finally {
      server.shiftClock(-61_000);
    }
  });

  test('an invalid limit is a 400 naming rateLimit; a limited caller cannot hand out a higher one', async () => {
    for (const bad of [0, 100_001, 1.5]) {
      const r = await call(server, 'POST', `/projects/${p()}/tokens`, { as: rootBearer(server), json: { name: 'bad-rate', permission: 'object-ro', bucketScope: null, rateLimit: bad } });
      assert.ok(isProblem(r, 400, 'validation', 'rateLimit'), `${bad}: ${problemText(r)}`);
    }
    const limited = await createToken(server, { permission: 'admin-rw', rateLimit: 100 });
    const as = { bearer: limited.credentials.bearerToken };
    const higher = await call(server, 'POST', `/projects/${p()}/tokens`, { as, json: { name: 'higher', permission: 'object-ro', bucketScope: null, rateLimit: 1000 } });
    assert.ok(isProblem(higher, 403, 'forbidden'), problemText(higher));
    const lower = await call(server, 'POST', `/projects/${p()}/tokens`, { as, json: { name: 'lower', permission: 'object-ro', bucketScope: null, rateLimit: 50 } });
    assert.equal(lower.status, 201, lower.text);
  });

  test('a flood of requests with made-up access keys resets neither a token\'s limit nor a sign-in lockout', async () => {
    // A server of its own: the flood fills the bound on audited failures for a minute.
    const own = await startTestServer();
    try {
      await own.client().send(new CreateBucketCommand({ Bucket: BUCKET }));
      const t = await createToken(own, { rateLimit: 2 });
      const s3 = own.client({ credentials: t.credentials, maxAttempts: 1 });
      const list = async () => {
        const o = await outcome(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })));
        return o.ok ? 'ok' : o.code;
      };
      for (let i = 0; i < 2; i++) assert.equal(await list(), 'ok', `request ${i + 1}`);
      assert.equal(await list(), 'SlowDown');
      await own.services.users.createUser({ email: 'flooded@example.com', password: 'flooded-right-password', createdBy: 'test' });
      const signIn = (password: string) => call(own, 'POST', '/session', { json: { email: 'flooded@example.com', password } });
      for (let i = 0; i < 5; i++) assert.equal((await signIn(`wrong-${i}-password`)).status, 401);
      assert.ok(isProblem(await signIn('flooded-right-password'), 429, 'rate-limited'));

      // More made-up keys than a limiter memory holds (10,000), each failing once.
      const codes = await floodWithMadeUpKeys(own, 10_100);
      assert.deepEqual(codes, { 403: 10_100 });

      assert.equal(await list(), 'SlowDown', 'the token is still over its limit');
      const locked = await signIn('flooded-right-password');
      assert.ok(isProblem(locked, 429, 'rate-limited'), `the sign-in is still locked: ${problemText(locked)}`);
      // Nor do the made-up keys crowd out keys the limits have not seen yet.
      const admin = await call(own, 'POST', '/session', { json: { email: 'admin@localhost', password: own.bootstrap.admin!.password } });
      assert.equal(admin.status, 200, problemText(admin));
      const fresh = await createToken(own, { rateLimit: 2 });
      assert.ok((await outcome(own.client({ credentials: fresh.credentials, maxAttempts: 1 }).send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
    } finally {
      await own.stop();
    }
  });
});

/** `count` S3 requests, each signed (badly) with an access key ID of its own; their statuses counted. */
async function floodWithMadeUpKeys(s: TestServer, count: number): Promise<Record<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const codes: Record<number, number> = {};
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(`${s.url}/${BUCKET}`, { agent, headers: { authorization: `AWS FLOOD${String(i).padStart(11, '0')}:c2lnbmF0dXJl`, date: new Date().toUTCString() } }, (res) => {
        codes[res.statusCode!] = (codes[res.statusCode!] ?? 0) + 1;
        res.resume().on('end', resolve);
      });
      req.on('error', reject).end();
    });
  const worker = async () => {
    while (next < count) await one(next++);
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    agent.destroy();
  }
  return codes;
}
