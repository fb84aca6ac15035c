import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { isDenied, outcome, skep, skepJson } from './helpers/tokens.js';
import type { IssuedCredentials, TokenView } from '../src/credentials/token-service.js';

// The operator CLI for prefix scopes, network conditions, rate limits, temporary credentials,
// quotas and usage per token, run as a separate process beside a running server.

let server: TestServer;
let root: S3Client;
const BUCKET = 'cli-creds';
const data = () => ['--data', server.dataDir];

before(async () => {
  server = await startTestServer();
  root = server.client({ maxAttempts: 1 });
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ci/build.log', Body: 'build ok' }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'secret.txt', Body: 'no' }));
});
after(() => server.stop());

test('token create with a prefix, networks and a rate limit; show prints them; bad input names the flag and creates nothing', async () => {
  const p = server.bootstrap.projectId;
  const created = await skepJson<{ token: TokenView; credentials: IssuedCredentials }>([
    'token', 'create', '--project', p, '--name', 'ci', '--permission', 'object-rw', '--bucket', `${BUCKET}/ci/`,
    '--allow-network', '127.0.0.0/8', '--allow-network', '::1', '--rate-limit', '600', ...data(),
  ]);
  assert.deepEqual(created.token.bucketScope, [`${BUCKET}/ci/`]);
  assert.deepEqual(created.token.allowedNetworks, ['127.0.0.0/8', '::1']);
  assert.equal(created.token.rateLimit, 600);
  const s3 = server.client({ credentials: created.credentials, maxAttempts: 1 });
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ci/build.log' }));
  assert.equal(await got.Body!.transformToString(), 'build ok');
  assert.ok(isDenied(await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'secret.txt' })))));
  const shown = await skep(['token', 'show', created.token.id, ...data()]);
  assert.match(shown.stdout, /networks:\s+127\.0\.0\.0\/8, ::1/);
  assert.match(shown.stdout, /rate limit:\s+600 requests a minute/);
  const before = (await server.tokens.list(p)).length;
  for (const [args, message] of [
    [['--bucket', `${BUCKET}/`], /empty prefix/],
    [['--bucket', BUCKET, '--bucket', `${BUCKET}/ci/`], /overlap/],
    [['--bucket', BUCKET, '--allow-network', '10.0.0.0/40'], /not an IPv4 or IPv6 address or CIDR/],
  ] as const) {
    const r = await skep(['token', 'create', '--project', p, '--name', 'bad', '--permission', 'object-ro', ...args, ...data()]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
  }
  assert.equal((await server.tokens.list(p)).length, before);
});

test('token temporary prints the session credentials and snippets once; list and revoke', async () => {
  const p = server.bootstrap.projectId;
  const t = await server.tokens.create({ projectId: p, name: 'parent', permission: 'object-rw', bucketScope: [BUCKET], createdBy: 'test' });
  const text = await skep(['token', 'temporary', t.token.id, '--duration', '15m', '--name', 'job-42', '--permission', 'object-ro', ...data()]);
  assert.equal(text.code, 0, text.stderr);
  const key = /AWS_ACCESS_KEY_ID=(ST\w+)/.exec(text.stdout)?.[1];
  const secret = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(text.stdout)?.[1];
  const session = /AWS_SESSION_TOKEN=(\S+)/.exec(text.stdout)?.[1];
  assert.ok(key && secret && session, text.stdout);
  assert.match(text.stdout, /aws_session_token = /);
  const s3 = server.client({ credentials: { accessKeyId: key!, secretAccessKey: secret!, sessionToken: session! }, maxAttempts: 1 });
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ci/build.log' }));
  assert.equal(await got.Body!.transformToString(), 'build ok');
  assert.ok(isDenied(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x', Body: 'x' })))), 'object-ro');
  const list = await skepJson<{ id: string; name: string; status: string }[]>(['token', 'temporary-list', t.token.id, ...data()]);
  assert.deepEqual(list.map((c) => [c.name, c.status]), [['job-42', 'active']]);
  const revoked = await skep(['token', 'temporary-revoke', t.token.id, list[0].id, ...data()]);
  assert.match(revoked.stdout, /stop working now/);
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ci/build.log' })), (err: unknown) => err instanceof S3ServiceException && err.name === 'InvalidAccessKeyId');
  const tooLong = await skep(['token', 'temporary', t.token.id, '--duration', '13h', ...data()]);
  assert.notEqual(tooLong.code, 0);
  assert.match(tooLong.stderr, /durationSeconds must be a whole number of seconds from 900/);
});

test('bucket quota and project quota set, show and clear; usage per token', async () => {
  const p = server.bootstrap.projectId;
  const set = await skepJson<{ quota: { maxBytes: number | null; maxObjects: number | null } }>(['bucket', 'quota', BUCKET, '--project', p, '--max-bytes', '1MiB', '--max-objects', '3', ...data()]);
  assert.deepEqual(set.quota, { maxBytes: 1024 * 1024, maxObjects: 3 });
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'third', Body: '3' }));
  await assert.rejects(root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'fourth', Body: '4' })), (err: unknown) => err instanceof S3ServiceException && err.name === 'QuotaExceeded');
  const shown = await skep(['bucket', 'quota', BUCKET, '--project', p, ...data()]);
  assert.match(shown.stdout, /bucket cli-creds quota: 1\.0 MiB, 3 objects; stored: \d+ bytes in 3 objects/);
  const cleared = await skep(['bucket', 'quota', BUCKET, '--project', p, '--max-bytes', 'none', '--max-objects', 'none', ...data()]);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stdout, /quota: none/);
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'fourth', Body: '4' }));
  const project = await skepJson<{ quota: { maxBytes: number | null; maxObjects: number | null } | null }>(['project', 'quota', p, '--max-bytes', '10GB', ...data()]);
  assert.deepEqual(project.quota, { maxBytes: 10_000_000_000, maxObjects: null });
  const bad = await skep(['project', 'quota', p, '--max-bytes', 'lots', ...data()]);
  assert.match(bad.stderr, /--max-bytes takes a size/);
  await skep(['project', 'quota', p, '--max-bytes', 'none', ...data()]);
  const usage = await skep(['token', 'usage', '--project', p, ...data()]);
  assert.equal(usage.code, 0, usage.stderr);
  assert.match(usage.stdout, /TOKEN\s+NAME\s+READ\s+WRITE/);
  assert.match(usage.stdout, /bootstrap/);
});
