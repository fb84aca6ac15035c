import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/log.js';
import type { IssuedCredentials, TokenView } from '../src/credentials/token-service.js';
import { ROOT_KEY } from './helpers/server.js';
import { filesUnder } from '../src/storage/blob/contract.js';
import { outcome, skep, waitFor } from './helpers/tokens.js';

// Secrets at rest and in output: after issuing and rotating tokens and using them (successfully
// and not), no secret access key and no bearer token appears in any file of the data folder
// (SQLite database, WAL, master.key, blobs), in the server's debug logs, in error replies, or in
// anything that lists or shows tokens (service views, CLI text and JSON, the audit log).

let dataDir: string;
let server: RunningServer;
const logLines: string[] = [];
/** Every secret issued: secret access keys and bearer tokens (old and new across a rotation). */
const secrets: { label: string; value: string }[] = [];
/** Text that was shown to someone other than the token's creator. */
const shown: { label: string; text: string }[] = [];
const BUCKET = 'secrets-bucket';
let issued: { token: TokenView; credentials: IssuedCredentials }[] = [];

function remember(label: string, c: IssuedCredentials): void {
  secrets.push({ label: `${label} secret access key`, value: c.secretAccessKey });
  secrets.push({ label: `${label} bearer token`, value: c.bearerToken });
  // The random part of a bearer token on its own (the prefix before it is not secret).
  secrets.push({ label: `${label} bearer token secret part`, value: c.bearerToken.split('_').pop()! });
}

/** The forms a secret could take in a file: raw, UTF-16, hex and base64 at every byte alignment. */
function encodings(value: string): Map<string, Buffer> {
  const raw = Buffer.from(value, 'utf8');
  const forms = new Map<string, Buffer>([
    ['utf8', raw],
    ['utf16le', Buffer.from(value, 'utf16le')],
    ['hex', Buffer.from(raw.toString('hex'))],
    ['HEX', Buffer.from(raw.toString('hex').toUpperCase())],
  ]);
  for (let align = 0; align < 3; align++) {
    const padded = Buffer.concat([Buffer.alloc(align), raw]);
    for (const kind of ['base64', 'base64url'] as const) {
      let text = padded.toString(kind).replace(/=+$/, '');
      // Drop the characters that mix in the padding bytes or the bytes after the secret.
      text = text.slice(align === 0 ? 0 : 4, text.length - 4);
      forms.set(`${kind}@${align}`, Buffer.from(text));
    }
  }
  return forms;
}

function leaks(haystack: Buffer): string[] {
  const found: string[] = [];
  for (const s of secrets) {
    for (const [form, needle] of encodings(s.value)) {
      if (haystack.includes(needle)) found.push(`${s.label} (${form})`);
    }
  }
  return found;
}

const run = promisify(execFile);

async function scanDataFolder(): Promise<{ files: string[]; found: string[] }> {
  const files = filesUnder(dataDir);
  const found: string[] = [];
  for (const f of files) {
    for (const leak of leaks(await readApart(join(dataDir, f)))) found.push(`${f}: ${leak}`);
  }
  return { files, found };
}

/**
 * A file's bytes, read by another process. The server runs in this one, and closing any
 * descriptor of a SQLite file drops every POSIX lock the process holds on it: a CLI command
 * opening the database next could then take it for unused and truncate the shared-memory file
 * under the server's mapping (SIGBUS).
 */
async function readApart(path: string): Promise<Buffer> {
  const { stdout } = await run('cat', [path], { encoding: 'buffer', maxBuffer: 1 << 30 });
  return stdout;
}

function client(c: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials: c, maxAttempts: 1 });
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'skep-secrets-'));
  const capture = { write: (line: string) => void logLines.push(line) };
  server = await startServer(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      region: 'us-east-1',
      baseDomains: ['s3.localhost'],
      logLevel: 'debug',
      rootAccessKeyId: ROOT_KEY.accessKeyId,
      rootSecretAccessKey: ROOT_KEY.secretAccessKey,
      clock: () => new Date(),
    },
    createLogger('debug', capture),
  );
  secrets.push({ label: 'root secret access key (from the environment)', value: ROOT_KEY.secretAccessKey });
  // The first console user's one-time password, when the server made one.
  const admin = (server.bootstrap as { admin?: { password: string } }).admin;
  if (admin) secrets.push({ label: 'bootstrap console password', value: admin.password });
  const root = client(ROOT_KEY);
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'v' }));
  root.destroy();

  const projectId = server.bootstrap.projectId;
  const other = await server.services.projects.create('secrets-other');
  const specs = [
    { permission: 'admin-rw', bucketScope: null, projectId },
    { permission: 'admin-ro', bucketScope: null, projectId },
    { permission: 'object-rw', bucketScope: [BUCKET], projectId },
    { permission: 'object-ro', bucketScope: [BUCKET], projectId },
    { permission: 'admin-rw', bucketScope: null, projectId: other.id },
  ];
  for (const [i, s] of specs.entries()) {
    const r = await server.tokens.create({ ...s, name: `secret-test-${i}`, createdBy: 'test' });
    issued.push(r);
    remember(`token ${i}`, r.credentials);
  }
  // One rotated (both the old and the new secrets count), one revoked, one disabled.
  const rotated = await server.tokens.rotate(issued[2].token.id, { actor: 'test' });
  remember('token 2 after rotation', rotated.credentials);
  await server.tokens.revoke(issued[3].token.id, { actor: 'test' });
  await server.tokens.disable(issued[1].token.id, { actor: 'test' });
  // And one created by the CLI while the server runs.
  const cli = await skep(['token', 'create', '--project', projectId, '--name', 'from-cli', '--permission', 'object-ro', '--bucket', BUCKET, '--data', dataDir, '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  const fromCli = JSON.parse(cli.stdout) as { token: TokenView; credentials: IssuedCredentials };
  remember('CLI token', fromCli.credentials);
  issued = [...issued, fromCli, { token: rotated.token, credentials: rotated.credentials }];

  // Use them: successes, failures of every kind, presigned URLs, bearer tokens.
  const errors: string[] = [];
  for (const r of issued) {
    const c = client(r.credentials);
    for (const o of [
      await outcome(c.send(new ListBucketsCommand({}))),
      await outcome(c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' })).then(async (x) => (await x.Body!.transformToString(), x))),
      await outcome(c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `by-${r.token.id}`, Body: 'x' }))),
      await outcome(c.send(new GetObjectCommand({ Bucket: 'not-mine', Key: 'k' }))),
    ]) {
      if (!o.ok) errors.push(`${o.code}: ${o.message}`);
    }
    const url = await getSignedUrl(c, new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }), { expiresIn: 60 });
    errors.push(await (await fetch(url)).text());
    errors.push(await (await fetch(url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000'))).text());
    c.destroy();
    const wrong = client({ accessKeyId: r.credentials.accessKeyId, secretAccessKey: r.credentials.secretAccessKey.slice(1) + 'x' });
    const bad = await outcome(wrong.send(new ListBucketsCommand({})));
    assert.ok(!bad.ok);
    errors.push(`${bad.code}: ${bad.message}`);
    wrong.destroy();
    await server.tokens.authenticateBearer(r.credentials.bearerToken, '127.0.0.1').catch((e: Error) => errors.push(e.message));
    await server.tokens.authenticateBearer(r.credentials.bearerToken.slice(0, -1) + 'x', '127.0.0.1').catch((e: Error) => errors.push(e.message));
  }
  // The REST API with each bearer token, and with near misses.
  for (const r of issued) {
    for (const bearer of [r.credentials.bearerToken, r.credentials.bearerToken.slice(0, -1) + 'x', 'skep_v1_garbage']) {
      const res = await fetch(`${server.url}/api/v1/projects/${r.token.projectId}/buckets`, { headers: { authorization: `Bearer ${bearer}` } });
      errors.push(await res.text());
    }
  }
  shown.push({ label: 'error replies', text: errors.join('\n') });
  await server.tokens.flushUses();
  // Let the fire-and-forget audit writes of failures land.
  await waitFor('audited failures', async () => (await server.services.audit.list({ limit: 1000 })).filter((r) => r.action === 'auth.failed').length >= issued.length);
});

after(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('secrets at rest', () => {
  test('the test issued the secrets it scans for, and the scanner finds a planted one in every encoding', () => {
    assert.ok(secrets.length >= 20);
    assert.ok(secrets.every((s) => s.value.length >= 16), 'every needle is long enough to mean something');
    const planted = Buffer.from(secrets[1].value);
    for (let before = 0; before < 3; before++) {
      const blob = Buffer.concat([Buffer.from('xyz'.slice(0, before)), planted, Buffer.from('tail')]);
      for (const text of [blob.toString('base64'), blob.toString('base64url'), blob.toString('hex'), blob.toString('utf8')]) {
        assert.ok(leaks(Buffer.from(`{"junk":"${text}"}`)).length > 0, `found in ${text}`);
      }
    }
  });

  test('no secret, in any encoding, in any file of the data folder while the server runs (database, WAL, master.key)', async () => {
    const { files, found } = await scanDataFolder();
    assert.ok(files.includes('metadata.sqlite'), files.join(', '));
    assert.ok(files.includes('master.key'));
    assert.ok(files.some((f) => f.endsWith('-wal')), `a WAL file exists while the server runs: ${files.join(', ')}`);
    assert.deepEqual(found, []);
  });

  test('the database holds only hashes of bearer tokens and ciphertexts of secrets', async () => {
    for (const r of issued.slice(0, 3)) {
      const row = (await server.meta.getToken(r.token.id))!;
      assert.match(row.bearerHash, /^[0-9a-f]{64}$/);
      assert.match(row.secretCiphertext, /^v1:/);
      assert.ok(!JSON.stringify(row).includes(r.credentials.secretAccessKey));
      assert.ok(!JSON.stringify(row).includes(r.credentials.bearerToken));
    }
  });

  test('no secret in the server\'s debug logs, including failed requests', () => {
    const text = logLines.join('');
    assert.ok(logLines.length > 20, `debug logs were captured (${logLines.length} lines)`);
    assert.match(text, /"level":20/, 'debug lines are present');
    assert.deepEqual(leaks(Buffer.from(text)), []);
  });

  test('no secret in error replies (SignatureDoesNotMatch, AccessDenied, InvalidAccessKeyId, bearer failures)', () => {
    const replies = shown.find((s) => s.label === 'error replies')!.text;
    assert.match(replies, /SignatureDoesNotMatch/);
    assert.match(replies, /AccessDenied/);
    assert.match(replies, /InvalidAccessKeyId/);
    assert.deepEqual(leaks(Buffer.from(replies)), []);
  });
});

describe('secrets in list and show output', () => {
  test('TokenView from list, show and every management call holds no secret', async () => {
    const projectId = server.bootstrap.projectId;
    const views: unknown[] = [await server.tokens.list(projectId)];
    for (const r of issued) {
      views.push(await server.tokens.show(r.token.id));
      views.push(r.token);
    }
    const text = JSON.stringify(views);
    assert.deepEqual(leaks(Buffer.from(text)), []);
    // A view has no field that could hold one.
    for (const key of Object.keys(issued[0].token)) assert.doesNotMatch(key, /secret|hash|bearer|cipher/i);
  });

  test('`skep token list|show` (text and --json) and `skep audit` (text and --json) hold no secret', async () => {
    const projectId = server.bootstrap.projectId;
    const runs = await Promise.all([
      skep(['token', 'list', '--project', projectId, '--data', dataDir]),
      skep(['token', 'list', '--project', projectId, '--data', dataDir, '--json']),
      skep(['token', 'show', issued[2].token.id, '--data', dataDir]),
      skep(['token', 'show', issued[2].token.id, '--data', dataDir, '--json']),
      skep(['audit', '--data', dataDir, '--limit', '1000']),
      skep(['audit', '--data', dataDir, '--limit', '1000', '--json']),
      skep(['project', 'list', '--data', dataDir, '--json']),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const all = runs.map((r) => r.stdout + r.stderr).join('\n');
    assert.match(all, /token\.rotated/);
    assert.match(all, /auth\.failed/);
    assert.match(all, new RegExp(issued[2].credentials.accessKeyId), 'access key IDs are shown');
    assert.deepEqual(leaks(Buffer.from(all)), []);
  });

  test('after the server stops (WAL checkpointed into the database) the folder still holds no secret', async () => {
    await server.close();
    const { found } = await scanDataFolder();
    assert.deepEqual(found, []);
    // A reopened server still verifies the secrets it could not have stored in clear.
    server = await startServer(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir,
        region: 'us-east-1',
        baseDomains: [],
        logLevel: 'silent',
        clock: () => new Date(),
      },
      createLogger('silent'),
    );
    const c = client(issued[0].credentials);
    assert.ok((await outcome(c.send(new ListBucketsCommand({})))).ok);
    c.destroy();
  });
});
