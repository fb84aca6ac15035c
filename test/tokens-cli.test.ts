import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { DAY_MS, issue, outcome, shiftServerAndClients, skep, skepJson, waitFor, type CliResult } from './helpers/tokens.js';
import { availability, baseEnv, findExecutable, run, tempDir } from './helpers/clients.js';
import type { IssuedCredentials, TokenView } from '../src/credentials/token-service.js';
import type { ProjectView } from '../src/projects/project-service.js';
import type { Snippets } from '../src/credentials/snippets.js';

// The operator CLI (`skep project|token|audit`), run as a separate process on the data folder of
// a running server: what it prints, how it fails, and that the server honours what it does.

let server: TestServer;
let root: S3Client;
const BUCKET = 'cli-bucket';

before(async () => {
  server = await startTestServer();
  root = server.client({ maxAttempts: 1 });
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new CreateBucketCommand({ Bucket: 'cli-other' }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'v' }));
});
after(() => server.stop());

const data = () => ['--data', server.dataDir];
/** How the CLI names itself in the audit log: the OS user, and this machine as the source. */
const CLI_ACTOR = `cli:${userInfo().username}`;
const CLI_SOURCE = `local:${hostname()}`;

interface Created {
  token: TokenView;
  credentials: IssuedCredentials;
  endpoint: string;
  snippets: Snippets;
}

/** A user error: non-zero exit, the message on stderr, nothing on stdout, no stack trace. */
function assertUserError(r: CliResult, message: RegExp, what: string): void {
  assert.notEqual(r.code, 0, `${what}: should fail\nstdout: ${r.stdout}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.match(r.stderr, message, `${what}: stderr says why`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace\n${r.stderr}`);
}

describe('skep project', () => {
  test('create, list and update --max-token-days', async () => {
    const created = await skepJson<ProjectView>(['project', 'create', 'cli-team', '--max-token-days', '30', ...data()]);
    assert.equal(created.name, 'cli-team');
    assert.equal(created.maxTokenDays, 30);
    const listed = await skepJson<ProjectView[]>(['project', 'list', ...data()]);
    assert.ok(listed.some((p) => p.id === created.id && p.maxTokenDays === 30));
    assert.ok(listed.some((p) => p.id === server.bootstrap.projectId), 'the default project is listed');
    const text = await skep(['project', 'list', ...data()]);
    assert.match(text.stdout, /ID\s+NAME\s+MAX TOKEN DAYS/);
    assert.match(text.stdout, new RegExp(`${created.id}\\s+cli-team\\s+30`));

    // By name or id; "none" clears the limit.
    assert.equal((await skepJson<ProjectView>(['project', 'update', 'cli-team', '--max-token-days', '10', ...data()])).maxTokenDays, 10);
    assert.equal((await skepJson<ProjectView>(['project', 'update', created.id, '--max-token-days', 'none', ...data()])).maxTokenDays, null);
    assert.equal((await skepJson<ProjectView>(['project', 'update', created.id, '--name', 'cli-team-renamed', ...data()])).name, 'cli-team-renamed');
    assert.equal((await server.services.projects.require(created.id)).name, 'cli-team-renamed', 'the running server sees it');
  });

  test('clear errors', async () => {
    const [noName, zero, tooMany, notNumber, unknown, noSub] = await Promise.all([
      skep(['project', 'create', ...data()]),
      skep(['project', 'create', 'p0', '--max-token-days', '0', ...data()]),
      skep(['project', 'create', 'p400', '--max-token-days', '400', ...data()]),
      skep(['project', 'create', 'pabc', '--max-token-days', 'soon', ...data()]),
      skep(['project', 'update', 'no-such-project', '--max-token-days', '5', ...data()]),
      skep(['project', 'frobnicate', ...data()]),
    ]);
    assertUserError(noName, /usage: skep project create NAME/, 'create without a name');
    assertUserError(zero, /1 to 365/, 'max 0 days');
    assertUserError(tooMany, /1 to 365/, 'max 400 days');
    assertUserError(notNumber, /number of days/, 'max "soon" days');
    assertUserError(unknown, /No project "no-such-project"/, 'unknown project');
    assertUserError(noSub, /usage:\n {2}skep project create NAME/, 'unknown subcommand');
    const names = (await server.services.projects.list()).map((p) => p.name);
    for (const n of ['p0', 'p400', 'pabc']) assert.ok(!names.includes(n), `${n} was not created`);
  });
});

describe('skep help', () => {
  test('every command prints its usage to stdout and exits 0 on -h, --help or help', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--help'], /^usage: skep serve .*\n[\s\S]*--port N/],
      [['migrate', '-h'], /^usage: skep migrate --to-data DIR/],
      [['audit', '--help'], /^usage:\n {2}skep audit /],
      [['token', 'help'], /^usage:\n {2}skep token create /],
      [['token', 'create', '--help'], /^usage:\n {2}skep token create /],
      [['bucket', 'quota', '--help'], /^usage:\n {2}skep bucket create /],
      [['project', 'list', '-h'], /^usage:\n {2}skep project create /],
      [['user', 'create', '--help'], /^usage:\n {2}skep user create /],
    ];
    for (const [argv, usage] of cases) {
      const r = await skep(argv);
      assert.deepEqual([r.code, r.stderr], [0, ''], `skep ${argv.join(' ')}`);
      assert.match(r.stdout, usage, `skep ${argv.join(' ')}`);
    }
  });

  test('a bad number of days names its flag; a size that is not a whole number of bytes is refused', async () => {
    const { token } = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    assertUserError(await skep(['token', 'rotate', token.id, '--grace', 'abc', ...data()]), /^--grace takes a number of days, like 90d \(got "abc"\)\.\n$/, '--grace abc');
    assertUserError(await skep(['project', 'update', server.bootstrap.projectId, '--max-token-days', 'abc', ...data()]), /^--max-token-days takes a number of days/, '--max-token-days abc');
    const p = server.bootstrap.projectId;
    assertUserError(await skep(['bucket', 'quota', BUCKET, '--project', p, '--max-bytes', '1.5', ...data()]), /^--max-bytes takes a whole number of bytes \(got "1\.5"\)/, '--max-bytes 1.5');
    assert.equal((await server.services.bucketConfig.resolve(p, BUCKET))?.quota, null, 'no quota was set');
    const set = await skepJson<{ quota: { maxBytes: number } }>(['bucket', 'quota', BUCKET, '--project', p, '--max-bytes', '1.1KB', ...data()]);
    assert.equal(set.quota.maxBytes, 1100);
    await skep(['bucket', 'quota', BUCKET, '--project', p, '--max-bytes', 'none', ...data()]);
  });
});

describe('skep token create', () => {
  test('--json prints the bearer token, the key pair and client snippets; the key works at once', async () => {
    const out = await skepJson<Created>([
      'token', 'create', '--project', server.bootstrap.projectId, '--name', 'cli-made', '--permission', 'object-ro',
      '--bucket', BUCKET, '--expires', '30d', '--description', 'made by the CLI test', '--endpoint', server.url, ...data(),
    ]);
    assert.match(out.credentials.bearerToken, /^skep_v1_[A-Za-z0-9]{12}_[A-Za-z0-9]{32}$/);
    assert.match(out.credentials.accessKeyId, /^SK[A-Z2-7]{18}$/);
    assert.equal(out.credentials.secretAccessKey.length, 40);
    assert.equal(out.token.permission, 'object-ro');
    assert.equal(out.token.permissionLabel, 'Object Read only');
    assert.deepEqual(out.token.bucketScope, [BUCKET]);
    assert.equal(out.token.createdBy, CLI_ACTOR);
    assert.equal(out.token.description, 'made by the CLI test');
    assert.ok(Math.abs(new Date(out.token.expiresAt!).getTime() - (Date.now() + 30 * DAY_MS)) < 120_000);
    assert.equal(out.endpoint, server.url);
    for (const name of ['awsCli', 'rclone', 'boto3', 'jsSdk'] as const) {
      assert.ok(out.snippets[name].includes(out.credentials.accessKeyId), `${name} snippet has the key`);
      assert.ok(out.snippets[name].includes(server.url), `${name} snippet has the endpoint`);
    }
    const c = server.client({ credentials: out.credentials, maxAttempts: 1 });
    const list = await c.send(new ListBucketsCommand({}));
    assert.deepEqual(list.Buckets?.map((b) => b.Name), [BUCKET]);
    const put = await outcome(c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'nope', Body: 'x' })));
    assert.ok(!put.ok && put.code === 'AccessDenied');
  });

  test('text output shows the token, the credentials once, and snippets for each client', async () => {
    const r = await skep(['token', 'create', '--project', 'default', '--name', 'cli-text', '--permission', 'admin-ro', '--all-buckets', ...data()]);
    assert.equal(r.code, 0, r.stderr);
    for (const line of [/permission:\s+Admin Read only \(admin-ro\)/, /buckets:\s+all buckets/, /shown only now/, /bearer token \(REST API\):\s+skep_v1_/, /secret access key:\s+\S{40}/, /--- AWS CLI ---/, /--- rclone ---/, /--- boto3 ---/, /--- AWS SDK for JavaScript v3 ---/]) {
      assert.match(r.stdout, line);
    }
    // Without --expires: the default of 90 days.
    const expires = /expires:\s+(\S+)/.exec(r.stdout)![1];
    assert.ok(Math.abs(new Date(expires).getTime() - (Date.now() + 90 * DAY_MS)) < 120_000, expires);
  });

  test('clear errors for bad expiry, scope, level, missing flags and the project maximum', async () => {
    const project = await skepJson<ProjectView>(['project', 'create', 'cli-limited', '--max-token-days', '30', ...data()]);
    await root.send(new CreateBucketCommand({ Bucket: 'cli-limited-bucket' }));
    // A bucket scope unless the case gives one: each case fails for its own reason.
    const base = (...extra: string[]) => {
      const scope = extra.includes('--bucket') || extra.includes('--all-buckets') ? [] : ['--all-buckets'];
      return ['token', 'create', '--project', server.bootstrap.projectId, '--name', 'bad', '--permission', 'object-ro', ...scope, ...extra, ...data()];
    };
    const cases: [string, string[], RegExp][] = [
      ['expiry 0', base('--expires', '0'), /Expiry must be a whole number of days from 1 to 365/],
      ['expiry 0d', base('--expires', '0d'), /from 1 to 365/],
      ['expiry 400 days', base('--expires', '400d'), /from 1 to 365/],
      ['expiry in hours', base('--expires', '12h'), /--expires takes a number of days/],
      ['unknown bucket in scope', base('--bucket', 'no-such-bucket'), /Unknown bucket\(s\) in scope: no-such-bucket/],
      ['bucket and all buckets', base('--bucket', BUCKET, '--all-buckets'), /either --bucket or --all-buckets/],
      // No silent "all buckets": the scope is chosen explicitly, as the REST API requires bucketScope.
      ['no bucket scope', ['token', 'create', '--project', server.bootstrap.projectId, '--name', 'bad', '--permission', 'object-ro', ...data()], /Choose the bucket scope: --bucket B \(repeatable\) or --all-buckets/],
      ['unknown level', ['token', 'create', '--project', server.bootstrap.projectId, '--name', 'bad', '--permission', 'superuser', '--all-buckets', ...data()], /Unknown permission level "superuser".*admin-rw, admin-ro, object-rw, object-ro/],
      ['missing --project', ['token', 'create', '--name', 'bad', '--permission', 'object-ro', ...data()], /--project is required/],
      ['missing --name', ['token', 'create', '--project', server.bootstrap.projectId, '--permission', 'object-ro', ...data()], /--name is required/],
      ['missing --permission', ['token', 'create', '--project', server.bootstrap.projectId, '--name', 'bad', ...data()], /--permission is required: one of admin-rw \(Admin Read & Write\)/],
      ['unknown project', ['token', 'create', '--project', 'nope', '--name', 'bad', '--permission', 'object-ro', '--all-buckets', ...data()], /No project "nope"/],
      ['over the project maximum', ['token', 'create', '--project', project.id, '--name', 'bad', '--permission', 'object-ro', '--all-buckets', '--expires', '31d', ...data()], /at most 30 days/],
      ['unknown flag', base('--colour', 'blue'), /Unknown option '--colour'/],
      // An empty prefix length was read as /0 (every address); "-0" aborted the process.
      ['an empty prefix length', base('--allow-network', '10.9.9.9/'), /--allow-network: "10\.9\.9\.9\/" is not an IPv4 or IPv6 address or CIDR network/],
      ['a negative zero prefix length', base('--allow-network', '127.0.0.1', '--allow-network', '10.9.9.9/-0'), /--allow-network: "10\.9\.9\.9\/-0" is not/],
      ['a hexadecimal prefix length', base('--allow-network', '10.0.0.0/0x18'), /--allow-network: "10\.0\.0\.0\/0x18" is not/],
      ['a bucket of another project', ['token', 'create', '--project', project.id, '--name', 'bad', '--permission', 'object-ro', '--bucket', BUCKET, ...data()], /Unknown bucket/],
      ['show an unknown token', ['token', 'show', '00000000-0000-0000-0000-000000000000', ...data()], /No token/],
      ['revoke without an id', ['token', 'revoke', ...data()], /needs a token id/],
      ['rotate with a long grace', ['token', 'rotate', '00000000-0000-0000-0000-000000000000', '--grace', '31d', ...data()], /0 to 30 days/],
    ];
    const results = await Promise.all(cases.map(([, args]) => skep(args)));
    cases.forEach(([what, , message], i) => assertUserError(results[i], message, what));
    assert.ok(!(await server.tokens.list(server.bootstrap.projectId)).some((t) => t.name === 'bad'), 'no token was created');

    // Within the maximum it works, and without --expires the project's maximum is the default.
    const ok = await skepJson<Created>(['token', 'create', '--project', 'cli-limited', '--name', 'ok', '--permission', 'object-ro', '--all-buckets', '--expires', '30', ...data()]);
    assert.ok(Math.abs(new Date(ok.token.expiresAt!).getTime() - (Date.now() + 30 * DAY_MS)) < 120_000);
    const dflt = await skepJson<Created>(['token', 'create', '--project', 'cli-limited', '--name', 'default-expiry', '--permission', 'object-ro', '--all-buckets', ...data()]);
    assert.ok(Math.abs(new Date(dflt.token.expiresAt!).getTime() - (Date.now() + 30 * DAY_MS)) < 120_000);
  });

  test('token list and show', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: [BUCKET, 'cli-other'], name: 'listed' });
    // Names are shown with control characters escaped.
    const odd = await issue(server, { permission: 'object-ro', name: 'odd\u001b[2J\nname' });
    const oddText = await skep(['token', 'show', odd.token.id, ...data()]);
    assert.match(oddText.stdout, /^name:\s+odd\\u001b\[2J\\u000aname$/m);
    const oddList = await skep(['token', 'list', '--project', server.bootstrap.projectId, ...data()]);
    assert.doesNotMatch(oddList.stdout, /\u001b/);
    const list = await skepJson<TokenView[]>(['token', 'list', '--project', server.bootstrap.projectId, ...data()]);
    const row = list.find((x) => x.id === t.token.id)!;
    assert.equal(row.name, 'listed');
    assert.equal(row.status, 'active');
    assert.deepEqual(row.bucketScope, [BUCKET, 'cli-other']);
    const text = await skep(['token', 'list', '--project', server.bootstrap.projectId, ...data()]);
    assert.match(text.stdout, /ID\s+NAME\s+PERMISSION\s+BUCKETS\s+STATUS\s+EXPIRES\s+LAST USED\s+ACCESS KEY/);
    assert.match(text.stdout, new RegExp(`${t.token.id}\\s+listed\\s+object-rw\\s+${BUCKET},cli-other\\s+active`));
    const shown = await skepJson<TokenView>(['token', 'show', t.token.id, ...data()]);
    assert.deepEqual(shown, { ...t.token, lastUsedAt: shown.lastUsedAt });
  });
});

describe('skep audit', () => {
  test('lists token management and authentication failures with actor, time, token and source, never a secret', async () => {
    const project = await server.services.projects.create('cli-audit');
    await root.send(new CreateBucketCommand({ Bucket: 'cli-audit-bucket' }));
    const created = await skepJson<Created>(['token', 'create', '--project', project.id, '--name', 'audited', '--permission', 'admin-rw', '--all-buckets', ...data()]);
    const id = created.token.id;
    const rotated = await skepJson<Created>(['token', 'rotate', id, '--grace', '1d', ...data()]);
    await skepJson(['token', 'confirm-rotation', id, ...data()]);
    await skepJson(['token', 'disable', id, ...data()]);
    await server.tokens.enable(id, { actor: 'user:alice@example.com', source: '10.0.0.7' });

    // Authentication failures: a wrong secret, then (the clock moved past expiry) an expired token.
    const wrong = server.client({ credentials: { accessKeyId: created.credentials.accessKeyId, secretAccessKey: 'w'.repeat(40) }, maxAttempts: 1 });
    assert.equal((await outcome(wrong.send(new ListBucketsCommand({})))).ok, false);
    const unknown = server.client({ credentials: { accessKeyId: 'SKUNKNOWNKEY00000000', secretAccessKey: 'w'.repeat(40) }, maxAttempts: 1 });
    assert.equal((await outcome(unknown.send(new ListBucketsCommand({})))).ok, false);
    const expiring = await issue(server, { permission: 'object-ro', projectId: project.id, expiresInDays: 1 });
    shiftServerAndClients(server, DAY_MS + 60_000, [expiring.s3]);
    try {
      const o = await outcome(expiring.s3.send(new ListBucketsCommand({})));
      assert.ok(!o.ok && o.code === 'ExpiredToken', JSON.stringify(o));
    } finally {
      server.shiftClock(-(DAY_MS + 60_000));
    }
    await skepJson(['token', 'revoke', id, ...data()]);
    // Failures are audited without holding up the reply.
    await waitFor('three auth failures', async () => (await server.services.audit.list({ limit: 1000 })).filter((r) => r.action.startsWith('auth.')).length >= 3);

    type Row = { id: string; at: string; action: string; actor: string; tokenId: string | null; projectId: string | null; source: string | null; detail: string | null };
    const rows = await skepJson<Row[]>(['audit', '--project', project.id, '--limit', '100', ...data()]);
    const byAction = (a: string) => rows.filter((r) => r.action === a && r.tokenId === id);
    for (const action of ['token.created', 'token.rotated', 'token.rotation-confirmed', 'token.disabled', 'token.enabled', 'token.revoked']) {
      const [row] = byAction(action);
      assert.ok(row, `${action} is listed`);
      assert.ok(!Number.isNaN(new Date(row.at).getTime()), 'with a time');
      // The CLI has no sign-in: its actor is the OS user, its source this machine.
      assert.equal(row.actor, action === 'token.enabled' ? 'user:alice@example.com' : CLI_ACTOR);
      assert.equal(row.source, action === 'token.enabled' ? '10.0.0.7' : CLI_SOURCE);
    }
    const failed = byAction('auth.failed');
    assert.equal(failed.length, 1, JSON.stringify(rows, null, 2));
    assert.equal(failed[0].actor, `token:${id}`);
    assert.match(failed[0].source ?? '', /127\.0\.0\.1/);
    assert.match(failed[0].detail ?? '', /SignatureDoesNotMatch/);
    const expired = rows.filter((r) => r.action === 'auth.expired-token' && r.tokenId === expiring.token.id);
    assert.equal(expired.length, 1);
    assert.match(expired[0].source ?? '', /127\.0\.0\.1/);
    // Newest first.
    const times = rows.map((r) => new Date(r.at).getTime());
    assert.deepEqual(times, [...times].sort((a, b) => b - a));

    // The unknown key's failure has no token or project: it shows in the unfiltered log.
    const everything = await skepJson<Row[]>(['audit', '--limit', '1000', ...data()]);
    assert.ok(everything.some((r) => r.action === 'auth.failed' && r.actor === 'anonymous' && r.detail?.endsWith('claimed key SKUNKNOWNKEY00000000') && r.tokenId === null));
    // --token narrows to one token; the text form has a header and the same events.
    const one = await skepJson<Row[]>(['audit', '--token', id, ...data()]);
    assert.ok(one.length >= 7 && one.every((r) => r.tokenId === id));
    const text = await skep(['audit', '--token', id, ...data()]);
    assert.match(text.stdout, /TIME\s+ACTION\s+ACTOR\s+BUCKET\s+TOKEN\s+SOURCE\s+DETAIL/);
    assert.match(text.stdout, /token\.rotation-confirmed/);

    const all = JSON.stringify(everything) + text.stdout;
    for (const secret of [created.credentials.secretAccessKey, created.credentials.bearerToken, rotated.credentials.secretAccessKey, rotated.credentials.bearerToken]) {
      assert.ok(!all.includes(secret), 'no secret in the audit log');
    }
    // What a stranger claims as an access key ID cannot reach the operator's terminal as control characters.
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const forged = encodeURIComponent(`\u001b[31mEVIL\n2030-01-01T00:00:00.000Z  token.revoked  cli/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`);
    const probe = await fetch(`${server.url}/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${forged}&X-Amz-Date=${amzDate}&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00`);
    assert.equal(probe.status, 403);
    await waitFor('the forged failure', async () => (await server.services.audit.list({ limit: 5 })).some((r) => r.detail?.includes('EVIL')));
    const plain = await skep(['audit', '--limit', '5', ...data()]);
    assert.doesNotMatch(plain.stdout, /\u001b/);
    assert.equal(plain.stdout.split('\n').filter((l) => l.includes('EVIL')).length, 1);
    assert.doesNotMatch(plain.stdout, /^2030-01-01/m, 'no forged line');
    const probeRow = (await skepJson<Row[]>(['audit', '--limit', '5', ...data()])).find((r) => r.detail?.includes('EVIL'))!;
    assert.equal(probeRow.actor, 'anonymous');
    assert.match(probeRow.detail!, /claimed key \\u\{1b\}\[31mEVIL\\u\{a\}2030/);

    const bad = await skep(['audit', '--limit', '0', ...data()]);
    assertUserError(bad, /--limit is 1 to 10000/, 'audit --limit 0');
  });
});

describe('the AWS CLI with tokens made by `skep token create`', () => {
  const awsPath = findExecutable('aws');
  const aws = availability('AWS CLI', awsPath, 'pip install awscli');

  test('an Object Read only token lists its bucket only, cannot write, and stops at revoke', { skip: aws.skip }, async () => {
    const bin = aws.require();
    const home = await tempDir('tokens-awscli');
    try {
      const created = await skepJson<Created>(['token', 'create', '--project', 'default', '--name', 'aws-cli', '--permission', 'object-ro', '--bucket', BUCKET, ...data()]);
      const env = {
        ...baseEnv(home.path),
        AWS_ACCESS_KEY_ID: created.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: created.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: `${home.path}/none`,
        AWS_SHARED_CREDENTIALS_FILE: `${home.path}/none`,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      };
      const awsRun = (...args: string[]) => run(bin, ['--endpoint-url', server.url, ...args], { env, allowFailure: true });
      const listed = await awsRun('s3api', 'list-buckets', '--output', 'json');
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as { Buckets: { Name: string }[] }).Buckets.map((b) => b.Name), [BUCKET]);
      const ls = await awsRun('s3', 'ls', `s3://${BUCKET}/`);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /\bk\b/);
      const put = await awsRun('s3api', 'put-object', '--bucket', BUCKET, '--key', 'from-aws-cli', '--body', '/etc/hostname');
      assert.notEqual(put.code, 0);
      assert.match(put.stderr, /AccessDenied/);
      const other = await awsRun('s3', 'ls', 's3://cli-other/');
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /AccessDenied/);

      assert.equal((await skep(['token', 'revoke', created.token.id, ...data()])).code, 0);
      const after = await awsRun('s3', 'ls', `s3://${BUCKET}/`);
      assert.notEqual(after.code, 0);
      assert.match(after.stderr, /InvalidAccessKeyId/);
    } finally {
      await home.remove();
    }
  });
});

describe('skep token rotate', () => {
  test('without --grace the old secret works for the default 7 days', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET] });
    const r = await skepJson<Created>(['token', 'rotate', t.token.id, ...data()]);
    assert.equal(r.token.rotationPending, true);
    const deadline = new Date(r.token.rotationDeadline!).getTime();
    assert.ok(Math.abs(deadline - (Date.now() + 7 * DAY_MS)) < 120_000, `rotation deadline ${r.token.rotationDeadline}`);
    const text = await skep(['token', 'show', t.token.id, ...data()]);
    assert.match(text.stdout, new RegExp(`rotation:\\s+pending; the old secret works until ${r.token.rotationDeadline!.replace(/\./g, '\\.')}`));
  });
});

describe('skep token create --billing', () => {
  test('a billing token reads the project usage with its bearer token; a token without it gets 403', async () => {
    const projectId = server.bootstrap.projectId;
    const billing = await skepJson<Created>(['token', 'create', '--project', projectId, '--name', 'billing', '--permission', 'object-ro', '--bucket', BUCKET, '--billing', ...data()]);
    const plain = await skepJson<Created>(['token', 'create', '--project', projectId, '--name', 'no-billing', '--permission', 'admin-rw', '--all-buckets', ...data()]);
    assert.equal(billing.token.billing, true);
    assert.equal(plain.token.billing, false);
    assert.match((await skep(['token', 'show', billing.token.id, ...data()])).stdout, /billing:\s+read usage/);
    const usage = (bearer: string) => fetch(`${server.url}/api/v1/projects/${projectId}/usage`, { headers: { authorization: `Bearer ${bearer}` } });
    const allowed = await usage(billing.credentials.bearerToken);
    assert.equal(allowed.status, 200, await allowed.clone().text());
    const report = (await allowed.json()) as { current: { bytes: number; objects: number }; days: unknown[] };
    assert.equal(typeof report.current.bytes, 'number');
    assert.ok(Array.isArray(report.days) && report.days.length > 0);
    // Even an Admin Read & Write token needs billing for usage.
    const denied = await usage(plain.credentials.bearerToken);
    assert.equal(denied.status, 403, await denied.text());
  });
});

describe('skep project update --max-token-days', () => {
  test('lowering the maximum caps existing tokens at once (shown in list and show), raising it restores them; the change is audited', async () => {
    const project = await skepJson<ProjectView>(['project', 'create', 'cli-max', ...data()]);
    const created = await skepJson<Created>(['token', 'create', '--project', project.id, '--name', 'long', '--permission', 'admin-ro', '--all-buckets', '--expires', '90d', ...data()]);
    const createdAt = new Date(created.token.createdAt).getTime();
    const capped = new Date(createdAt + 30 * DAY_MS).toISOString();
    const own = created.token.expiresAt!;

    assert.equal((await skepJson<ProjectView>(['project', 'update', 'cli-max', '--max-token-days', '30', ...data()])).maxTokenDays, 30);
    assert.equal((await skepJson<TokenView>(['token', 'show', created.token.id, ...data()])).expiresAt, capped, 'show: the effective expiry');
    assert.equal((await skepJson<TokenView[]>(['token', 'list', '--project', project.id, ...data()]))[0].expiresAt, capped, 'list: the effective expiry');
    assert.match((await skep(['token', 'list', '--project', project.id, ...data()])).stdout, new RegExp(`\\s${capped.slice(0, 10)}\\s`));

    // The server enforces it: works on day 29, ExpiredToken on day 31 (not day 90).
    const client = server.client({ credentials: created.credentials, maxAttempts: 1 });
    let moved = 0;
    const move = (ms: number) => {
      shiftServerAndClients(server, ms, [client]);
      moved += ms;
    };
    try {
      move(29 * DAY_MS);
      assert.ok((await outcome(client.send(new ListBucketsCommand({})))).ok, 'within the new maximum');
      move(2 * DAY_MS);
      const o = await outcome(client.send(new ListBucketsCommand({})));
      assert.ok(!o.ok && o.code === 'ExpiredToken', JSON.stringify(o));
      assert.equal((await server.tokens.show(created.token.id)).status, 'expired');
      await assert.rejects(server.tokens.authenticateBearer(created.credentials.bearerToken), /expired/);

      // Lifting the maximum gives the token back its own expiry, never more.
      await skepJson(['project', 'update', project.id, '--max-token-days', 'none', ...data()]);
      assert.equal((await skepJson<TokenView>(['token', 'show', created.token.id, ...data()])).expiresAt, own);
      assert.ok((await outcome(client.send(new ListBucketsCommand({})))).ok, 'back to its own 90 days');
    } finally {
      server.shiftClock(-moved);
    }

    type Row = { action: string; actor: string; source: string | null; detail: string | null; projectId: string | null };
    const rows = (await skepJson<Row[]>(['audit', '--project', project.id, ...data()])).filter((r) => r.action === 'project.updated');
    assert.deepEqual(
      rows.map((r) => [r.actor, r.source, r.detail]),
      [
        [CLI_ACTOR, CLI_SOURCE, 'max token days: 30 -> none'],
        [CLI_ACTOR, CLI_SOURCE, 'max token days: none -> 30'],
      ],
    );
  });
});

describe('the snippets `skep token create` prints, used as config files', () => {
  // `endpoint_url` in ~/.aws/config needs AWS CLI >= 1.29 / 2.13: the newest generation on PATH.
  const awsPath = findExecutable('aws', ['/usr/bin/aws']) ?? findExecutable('aws');
  const aws = availability('AWS CLI', awsPath, 'pip install awscli');
  const rclonePath = findExecutable('rclone');
  const rclone = availability('rclone', rclonePath, 'apt-get install rclone');

  async function createForSnippets(name: string): Promise<Created> {
    // No --endpoint: the snippets point at the server running on this data folder.
    return skepJson<Created>(['token', 'create', '--project', 'default', '--name', name, '--permission', 'object-ro', '--bucket', BUCKET, ...data()]);
  }

  /** The snippet's text under `# <file>` up to the next `# ` comment line. */
  function section(snippet: string, file: string): string {
    const lines = snippet.split('\n');
    const start = lines.indexOf(`# ${file}`);
    assert.ok(start >= 0, `the snippet has a ${file} section\n${snippet}`);
    const rest = lines.slice(start + 1);
    const end = rest.findIndex((l) => l.startsWith('# '));
    return rest.slice(0, end < 0 ? undefined : end).join('\n') + '\n';
  }

  test('the AWS CLI profile: `aws --profile skep s3 ls`', { skip: aws.skip }, async () => {
    const bin = aws.require();
    const home = await tempDir('snippet-aws');
    try {
      const created = await createForSnippets('aws-snippet');
      await mkdir(join(home.path, '.aws'));
      await writeFile(join(home.path, '.aws', 'credentials'), section(created.snippets.awsCli, '~/.aws/credentials'));
      await writeFile(join(home.path, '.aws', 'config'), section(created.snippets.awsCli, '~/.aws/config'));
      const env = { ...baseEnv(home.path), AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '' };
      const buckets = await run(bin, ['--profile', 'skep', 's3', 'ls'], { env });
      assert.deepEqual(buckets.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()), [BUCKET]);
      const objects = await run(bin, ['--profile', 'skep', 's3', 'ls', `s3://${BUCKET}/`], { env });
      assert.match(objects.stdout, /\s1 k\n/);
    } finally {
      await home.remove();
    }
  });

  test('the rclone remote: `rclone lsd skep:`', { skip: rclone.skip }, async () => {
    const bin = rclone.require();
    const home = await tempDir('snippet-rclone');
    try {
      const created = await createForSnippets('rclone-snippet');
      const config = join(home.path, 'rclone.conf');
      await writeFile(config, created.snippets.rclone + '\n');
      // baseEnv passes no AWS_CA_BUNDLE: rclone refuses to start with one on an http:// endpoint.
      const env = baseEnv(home.path);
      assert.equal(env.AWS_CA_BUNDLE, undefined);
      const dirs = await run(bin, ['--config', config, 'lsd', 'skep:'], { env });
      assert.deepEqual(dirs.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()), [BUCKET]);
      const files = await run(bin, ['--config', config, 'ls', `skep:${BUCKET}`], { env });
      assert.match(files.stdout, /^\s*1 k$/m);
    } finally {
      await home.remove();
    }
  });
});
