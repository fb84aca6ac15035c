import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from './helpers/server.js';
import { DAY_MS, fetchOutcome, issue, outcome, shiftServerAndClients, skep, waitFor, type Outcome } from './helpers/tokens.js';
import type { TokenView } from '../src/credentials/token-service.js';

// Revocation, expiry, rotation and disabling take effect on the very next request, while clients
// keep working: through the SDK, presigned URLs and bearer tokens, by the TokenService and by the
// `skep` CLI running beside the server on the same data folder.

let server: TestServer;
let root: S3Client;
const BUCKET = 'lifecycle';

before(async () => {
  // No timed last-used flush during the tests (they flush when they mean to): the test that counts
  // writes per request must not see the periodic batch land in the middle of its requests.
  server = await startTestServer({ useFlushIntervalMs: 3_600_000 });
  root = server.client({ maxAttempts: 1 });
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'read-me', Body: 'hello' }));
});
after(() => server.stop());

function shiftTime(ms: number, clients: S3Client[]): void {
  shiftServerAndClients(server, ms, clients);
}

/** A short-lived presigned GET of the fixture object. */
function presignedGet(client: S3Client): Promise<string> {
  return getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'read-me' }), { expiresIn: 604800 });
}

async function get(client: S3Client): Promise<Outcome> {
  return outcome(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'read-me' })).then(async (r) => (await r.Body!.transformToString(), r)));
}

interface Attempt {
  i: number;
  kind: 'get' | 'put';
  key: string;
  start: number;
  end: number;
  o: Outcome;
}

/**
 * Sends requests one after another, as fast as possible (alternating GetObject and PutObject),
 * calls `cutOff` once `warmUp` requests have succeeded, and keeps going until `tail` requests
 * have started after `cutOff` resolved. `cutOff` resolves to the moment (performance.now()) the
 * change was complete: the revoke call returned, or the CLI process exited.
 */
async function hammer(client: S3Client, tag: string, cutOff: () => Promise<number>, warmUp = 20, tail = 40): Promise<{ attempts: Attempt[]; doneAt: number; calledAt: number }> {
  const attempts: Attempt[] = [];
  let calledAt = Infinity;
  let doneAt = Infinity;
  let change: Promise<void> | undefined;
  for (let i = 0; ; i++) {
    if (!change && attempts.filter((a) => a.o.ok).length >= warmUp) {
      calledAt = performance.now();
      change = cutOff().then((t) => void (doneAt = t));
    }
    if (attempts.filter((a) => a.start > doneAt).length >= tail) break;
    if (i > 100_000) throw new Error('the cut-off never completed');
    const kind = i % 2 === 0 ? 'get' : 'put';
    const key = `${tag}-${i}`;
    const start = performance.now();
    const o =
      kind === 'get'
        ? await get(client)
        : await outcome(client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `written by ${tag}` })));
    attempts.push({ i, kind, key, start, end: performance.now(), o });
  }
  await change;
  return { attempts, doneAt, calledAt };
}

/**
 * No request that started after the change succeeded, and none of its writes landed. Each failed
 * with `expectedCode` and `expectedStatus` (ExpiredToken is a 400, the others 403).
 */
async function assertCutOff(run: { attempts: Attempt[]; doneAt: number; calledAt: number }, expectedCode: string, expectedStatus = 403): Promise<void> {
  const afterwards = run.attempts.filter((a) => a.start > run.doneAt);
  assert.ok(afterwards.length >= 40);
  const succeeded = afterwards.filter((a) => a.o.ok);
  assert.deepEqual(succeeded.map((a) => `${a.kind} #${a.i}`), [], 'requests that started after the change must fail');
  for (const a of afterwards) {
    assert.ok(!a.o.ok && a.o.code === expectedCode && a.o.status === expectedStatus, `#${a.i}: ${JSON.stringify(a.o)}`);
  }
  // Everything that ended before the change began had worked.
  const before = run.attempts.filter((a) => a.end < run.calledAt);
  assert.ok(before.length >= 20 && before.every((a) => a.o.ok), 'requests before the change succeed');
  // A write that was refused stored nothing. Asked of the store, not over S3: the server's clock
  // may have been moved, and a signed check could fail for that reason and prove nothing.
  const bucket = await server.meta.getBucket(server.bootstrap.projectId, BUCKET);
  assert.ok(bucket);
  for (const a of afterwards.filter((x) => x.kind === 'put')) {
    assert.equal(await server.meta.getObject(bucket.id, a.key), null, `${a.key} must not exist`);
  }
}

describe('revocation', () => {
  test('revoking through the TokenService stops a client mid-stream: no request started afterwards succeeds', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET] });
    const url = await presignedGet(t.s3);
    assert.equal((await fetch(url)).status, 200);
    const run = await hammer(t.s3, 'svc-revoke', async () => {
      await server.tokens.revoke(t.token.id, { actor: 'test' });
      return performance.now();
    });
    await assertCutOff(run, 'InvalidAccessKeyId');
    // A presigned URL made before the revoke fails afterwards.
    const res = await fetchOutcome(await fetch(url));
    assert.equal(res.ok, false);
    assert.ok(!res.ok && res.status === 403 && res.code === 'InvalidAccessKeyId', JSON.stringify(res));
    assert.equal((await server.tokens.show(t.token.id)).status, 'revoked');
    // Revoked is final: it cannot be re-enabled or rotated.
    await assert.rejects(server.tokens.enable(t.token.id, { actor: 'test' }), /revoked/);
    await assert.rejects(server.tokens.rotate(t.token.id, { actor: 'test' }), /revoked/);
    await assert.rejects(server.tokens.authenticateBearer(t.credentials.bearerToken), /revoked/);
  });

  test('revoking with `skep token revoke` while the server runs stops the client at once', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET] });
    const url = await presignedGet(t.s3);
    let cli: Awaited<ReturnType<typeof skep>> | undefined;
    const run = await hammer(t.s3, 'cli-revoke', async () => {
      cli = await skep(['token', 'revoke', t.token.id, '--data', server.dataDir, '--json']);
      return cli.exitedAt;
    });
    assert.equal(cli!.code, 0, cli!.stderr);
    assert.equal((JSON.parse(cli!.stdout) as TokenView).status, 'revoked');
    await assertCutOff(run, 'InvalidAccessKeyId');
    const res = await fetchOutcome(await fetch(url));
    assert.ok(!res.ok && res.status === 403 && res.code === 'InvalidAccessKeyId', JSON.stringify(res));
    // The server's view agrees, and the audit log has the CLI as the actor.
    assert.equal((await server.tokens.show(t.token.id)).status, 'revoked');
    const audit = await server.services.audit.list({ tokenId: t.token.id, limit: 50 });
    assert.ok(audit.some((r) => r.action === 'token.revoked' && r.actor === `cli:${userInfo().username}`));
  });

  test('disabling stops a client mid-stream; enabling brings it back', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET] });
    const url = await presignedGet(t.s3);
    const run = await hammer(t.s3, 'disable', async () => {
      await server.tokens.disable(t.token.id, { actor: 'test' });
      return performance.now();
    });
    await assertCutOff(run, 'InvalidAccessKeyId');
    const res = await fetchOutcome(await fetch(url));
    assert.ok(!res.ok && res.code === 'InvalidAccessKeyId', JSON.stringify(res));
    assert.equal((await server.tokens.show(t.token.id)).status, 'disabled');
    await assert.rejects(server.tokens.authenticateBearer(t.credentials.bearerToken), /disabled/);

    // Enabled again, through the CLI: the same key pair, presigned URL and bearer token work again.
    const cli = await skep(['token', 'enable', t.token.id, '--data', server.dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /status:\s+active/);
    assert.ok((await get(t.s3)).ok);
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await server.tokens.authenticateBearer(t.credentials.bearerToken)).tokenId, t.token.id);

    // And disabled by the CLI, enabled by the service.
    assert.equal((await skep(['token', 'disable', t.token.id, '--data', server.dataDir])).code, 0);
    const denied = await get(t.s3);
    assert.ok(!denied.ok && denied.code === 'InvalidAccessKeyId');
    await server.tokens.enable(t.token.id, { actor: 'test' });
    assert.ok((await get(t.s3)).ok);
    const actions = (await server.services.audit.list({ tokenId: t.token.id, limit: 50 })).map((r) => r.action);
    assert.deepEqual(actions.filter((a) => a.startsWith('token.')).reverse(), ['token.created', 'token.disabled', 'token.enabled', 'token.disabled', 'token.enabled']);
  });

  test('a bearer token on the REST API stops at revoke: no request started afterwards succeeds', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    const url = `${server.url}/api/v1/projects/${server.bootstrap.projectId}/buckets`;
    const headers = { authorization: `Bearer ${t.credentials.bearerToken}` };
    const attempts: { start: number; status: number }[] = [];
    let doneAt = Infinity;
    let change: Promise<void> | undefined;
    while (attempts.filter((a) => a.start > doneAt).length < 30) {
      if (!change && attempts.length === 15) {
        change = server.tokens.revoke(t.token.id, { actor: 'test' }).then(() => void (doneAt = performance.now()));
      }
      const start = performance.now();
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      attempts.push({ start, status: res.status });
    }
    await change;
    assert.ok(attempts.slice(0, 15).every((a) => a.status === 200), JSON.stringify(attempts.slice(0, 15)));
    const afterwards = attempts.filter((a) => a.start > doneAt);
    assert.deepEqual([...new Set(afterwards.map((a) => a.status))], [401]);
  });

  test('a wrong secret for a revoked key is still SignatureDoesNotMatch: the state is told to the key holder only', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    await server.tokens.revoke(t.token.id, { actor: 'test' });
    const impostor = server.client({ credentials: { accessKeyId: t.credentials.accessKeyId, secretAccessKey: 'x'.repeat(40) }, maxAttempts: 1 });
    const o = await get(impostor);
    assert.ok(!o.ok && o.code === 'SignatureDoesNotMatch', JSON.stringify(o));
  });
});

describe('expiry', () => {
  test('a token works until expiresAt and is ExpiredToken after, presigned URLs included', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET], expiresInDays: 1 });
    const expiresAt = new Date(t.token.expiresAt!).getTime();
    assert.ok(Math.abs(expiresAt - (Date.now() + DAY_MS)) < 60_000, 'expires in one day');
    const url = await presignedGet(t.s3);
    const moved: number[] = [];
    const move = (ms: number) => {
      shiftTime(ms, [t.s3]);
      moved.push(ms);
    };
    try {
      move(DAY_MS - 120_000);
      assert.ok((await get(t.s3)).ok, 'works two minutes before expiry');
      assert.equal((await fetch(url)).status, 200);
      assert.equal((await server.tokens.show(t.token.id)).status, 'expiring-soon');

      // Requests keep coming while the clock passes expiresAt: none that starts afterwards succeeds.
      const run = await hammer(t.s3, 'expiry', async () => {
        move(180_000);
        return performance.now();
      });
      await assertCutOff(run, 'ExpiredToken', 400);
      const res = await fetchOutcome(await fetch(url));
      assert.ok(!res.ok && res.code === 'ExpiredToken', JSON.stringify(res));
      assert.equal((await server.tokens.show(t.token.id)).status, 'expired');
      await assert.rejects(server.tokens.authenticateBearer(t.credentials.bearerToken), /expired/);
      // The failure is audited as an expired-token event, naming the token.
      await waitFor('the auth.expired-token event', async () => (await server.services.audit.list({ tokenId: t.token.id, limit: 100 })).some((r) => r.action === 'auth.expired-token'));
    } finally {
      server.shiftClock(-moved.reduce((a, b) => a + b, 0));
    }
  });
});

describe('rotation', () => {
  test('the old secret and bearer token work during the grace period and fail after it; the new ones keep working', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET] });
    const oldUrl = await presignedGet(t.s3);
    const { token, credentials } = await server.tokens.rotate(t.token.id, { actor: 'test' }, 1);
    assert.equal(credentials.accessKeyId, t.credentials.accessKeyId, 'rotation keeps the access key ID');
    assert.notEqual(credentials.secretAccessKey, t.credentials.secretAccessKey);
    assert.notEqual(credentials.bearerToken, t.credentials.bearerToken);
    assert.equal(token.rotationPending, true);
    const fresh = server.client({ credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }, maxAttempts: 1 });
    const old = t.s3;

    assert.ok((await get(old)).ok, 'old secret during grace');
    assert.ok((await get(fresh)).ok, 'new secret during grace');
    assert.equal((await fetch(oldUrl)).status, 200, 'old presigned URL during grace');
    assert.equal((await server.tokens.authenticateBearer(t.credentials.bearerToken)).tokenId, t.token.id);
    assert.equal((await server.tokens.authenticateBearer(credentials.bearerToken)).tokenId, t.token.id);

    // The old secret keeps working right up to the end of the grace period...
    const shift = DAY_MS + 60_000;
    shiftTime(DAY_MS - 120_000, [old, fresh]);
    let moved = DAY_MS - 120_000;
    try {
      assert.ok((await get(old)).ok, 'old secret two minutes before the grace ends');
      // ...and no request that starts after the clock passed the deadline succeeds with it.
      const run = await hammer(old, 'grace-end', async () => {
        shiftTime(shift - moved, [old, fresh]);
        moved = shift;
        return performance.now();
      });
      await assertCutOff(run, 'SignatureDoesNotMatch');
      for (let i = 0; i < 5; i++) assert.ok((await get(fresh)).ok, 'new secret after grace');
      const res = await fetchOutcome(await fetch(oldUrl));
      assert.ok(!res.ok && res.code === 'SignatureDoesNotMatch', `old presigned URL after grace: ${JSON.stringify(res)}`);
      await assert.rejects(server.tokens.authenticateBearer(t.credentials.bearerToken), /not valid/);
      assert.equal((await server.tokens.authenticateBearer(credentials.bearerToken)).tokenId, t.token.id);
      const view = await server.tokens.show(t.token.id);
      assert.equal(view.rotationPending, false);
      assert.equal(view.status, 'active');
    } finally {
      server.shiftClock(-moved);
    }
  });

  test('after confirm-rotation only the new secret works, at once', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET] });
    const oldUrl = await presignedGet(t.s3);
    const { credentials } = await server.tokens.rotate(t.token.id, { actor: 'test' });
    const fresh = server.client({ credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }, maxAttempts: 1 });
    assert.ok((await get(t.s3)).ok);
    const run = await hammer(t.s3, 'confirm', async () => {
      await server.tokens.confirmRotation(t.token.id, { actor: 'test' });
      return performance.now();
    });
    await assertCutOff(run, 'SignatureDoesNotMatch');
    assert.ok((await get(fresh)).ok);
    const res = await fetchOutcome(await fetch(oldUrl));
    assert.ok(!res.ok && res.code === 'SignatureDoesNotMatch', JSON.stringify(res));
    await assert.rejects(server.tokens.authenticateBearer(t.credentials.bearerToken), /not valid/);
    assert.equal((await server.tokens.authenticateBearer(credentials.bearerToken)).tokenId, t.token.id);
    await assert.rejects(server.tokens.confirmRotation(t.token.id, { actor: 'test' }), /No rotation is pending/);
  });

  test('rotate and confirm-rotation through the CLI while the server runs', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    const rotated = await skep(['token', 'rotate', t.token.id, '--grace', '2d', '--data', server.dataDir, '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const out = JSON.parse(rotated.stdout) as { token: TokenView; credentials: { accessKeyId: string; secretAccessKey: string; bearerToken: string } };
    assert.equal(out.token.rotationPending, true);
    assert.ok(Math.abs(new Date(out.token.rotationDeadline!).getTime() - (Date.now() + 2 * DAY_MS)) < 60_000);
    const fresh = server.client({ credentials: { accessKeyId: out.credentials.accessKeyId, secretAccessKey: out.credentials.secretAccessKey }, maxAttempts: 1 });
    assert.ok((await get(t.s3)).ok);
    assert.ok((await get(fresh)).ok);
    const confirmed = await skep(['token', 'confirm-rotation', t.token.id, '--data', server.dataDir, '--json']);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.equal((JSON.parse(confirmed.stdout) as TokenView).rotationPending, false);
    const o = await get(t.s3);
    assert.ok(!o.ok && o.code === 'SignatureDoesNotMatch', JSON.stringify(o));
    assert.ok((await get(fresh)).ok);
  });
});

describe('last used', () => {
  test('last-used-at is buffered: no write per request, one batch on flush', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    await server.tokens.flushUses();
    const meta = server.meta as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const writes: string[] = [];
    const spied = ['touchTokens', 'updateToken', 'appendAudit'] as const;
    const originals = spied.map((name) => meta[name]);
    spied.forEach((name, i) => {
      meta[name] = function (this: unknown, ...args: unknown[]) {
        writes.push(name);
        return originals[i].apply(this, args);
      };
    });
    try {
      const started = Date.now();
      for (let i = 0; i < 50; i++) assert.ok((await outcome(t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
      assert.deepEqual(writes, [], 'successful requests write nothing about the token');
      assert.equal((await server.meta.getToken(t.token.id))!.lastUsedAt, null, 'not yet written');
      await server.tokens.flushUses();
      assert.deepEqual(writes, ['touchTokens'], 'one batched write');
      const stored = (await server.meta.getToken(t.token.id))!.lastUsedAt!;
      assert.ok(stored.getTime() >= started && stored.getTime() <= Date.now(), `lastUsedAt ${stored.toISOString()}`);
      // Another process (the CLI) sees it too.
      const shown = await skep(['token', 'show', t.token.id, '--data', server.dataDir, '--json']);
      assert.equal((JSON.parse(shown.stdout) as TokenView).lastUsedAt, stored.toISOString());
    } finally {
      spied.forEach((name, i) => (meta[name] = originals[i]));
    }
  });

  test('bearer authentication also counts as a use', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    await server.tokens.authenticateBearer(t.credentials.bearerToken);
    await server.tokens.flushUses();
    assert.notEqual((await server.meta.getToken(t.token.id))!.lastUsedAt, null);
  });
});
