import assert from 'node:assert/strict';
import { spawn, spawnSync, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent, get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { loopbackAgent, outcome, skep, waitFor, type CliResult } from './helpers/tokens.js';
import { freePort } from './engines/process-util.js';
import type { TokenView } from '../src/credentials/token-service.js';

// `skep serve` as a real process, as an operator starts it: what it prints on the first and later
// starts, that the printed (or given) credentials work, HTTPS, region, virtual-hosted domains,
// settings from the environment, the master key checks, and a clean stop on SIGTERM / SIGINT.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The CLI from the sources (as bin/skep.js runs the compiled one), so no `npm run build` is needed. */
const ENTRY = fileURLToPath(new URL('./helpers/skep-cli.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;

const folders: string[] = [];
after(async () => {
  for (const f of folders) await rm(f, { recursive: true, force: true });
});

async function freshFolder(tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `skep-serve-${tag}-`));
  folders.push(dir);
  return dir;
}

/** The environment without any SKEP_* setting from the machine, plus `env`. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKEP_'))), ...env };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Served {
  url: string;
  port: number;
  pid: number;
  /** Everything printed so far. */
  stdout(): string;
  /** Sends the signal and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

function exitOf(child: ChildProcessWithoutNullStreams, out: { stdout: string; stderr: string }): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode, ...out });
    else child.once('close', (code, signal) => resolve({ code, signal, ...out }));
  });
}

/** `npm start` and the `skep` bin: the compiled build, made by `npm ci` (its prepare script). */
const BIN = join(ROOT, 'bin', 'skep.js');

/** tsx by its location, so that a process started in another folder finds it. */
const TSX = import.meta.resolve('tsx');

function spawnSkep(args: string[], env: NodeJS.ProcessEnv, entry: 'sources' | 'bin' = 'sources', cwd = ROOT): { child: ChildProcessWithoutNullStreams; out: { stdout: string; stderr: string } } {
  const argv = entry === 'bin' ? [BIN, ...args] : ['--import', TSX, ENTRY, ...args];
  const child = spawn(process.execPath, argv, { cwd, env: cleanEnv(env) });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  return { child, out };
}

/**
 * Starts `skep serve ARGS` and resolves once it prints its listening line and, on a first start,
 * the console password (the last thing it prints). The URL and port are read from the output.
 */
async function serve(args: string[], env: NodeJS.ProcessEnv = {}, opts: { firstStart?: boolean; entry?: 'sources' | 'bin'; cwd?: string } = {}): Promise<Served> {
  const { child, out } = spawnSkep(['serve', ...args], env, opts.entry, opts.cwd);
  const ready = opts.firstStart ? /password: \S+\n[^\n]*\n/ : /skep listening on \S+/;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`skep serve did not start\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      if (/skep listening on \S+/.test(out.stdout) && ready.test(out.stdout)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`skep serve exited (${code}) before it was ready\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
    });
  });
  const url = /skep listening on (\S+)/.exec(out.stdout)![1];
  const served: Served = {
    url,
    // Read without new URL(): a malformed one (http://:PORT) must fail the test, not leave the server running.
    port: Number(/:(\d+)$/.exec(url)?.[1]),
    pid: child.pid!,
    stdout: () => out.stdout,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const exited = exitOf(child, out);
      child.kill(signal);
      return exited;
    },
  };
  running.add(served);
  return served;
}

/** Servers a failed test left running are stopped at the end. */
const running = new Set<Served>();
after(async () => {
  for (const s of running) await s.stop('SIGKILL');
});

async function stopCleanly(s: Served, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
  running.delete(s);
  const exit = await s.stop(signal);
  assert.deepEqual([exit.code, exit.signal], [0, null], `skep serve exits 0 on ${signal}\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
  assert.match(exit.stdout, new RegExp(`skep stopped \\(${signal}\\)`));
  return exit;
}

/** `skep serve ARGS` that must fail at once: its exit and output. */
async function serveFails(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Exit> {
  const { child, out } = spawnSkep(['serve', ...args], env, 'sources', cwd);
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  const exit = await exitOf(child, out);
  clearTimeout(timer);
  assert.notEqual(exit.code, 0, `skep serve should fail\nstdout: ${exit.stdout}`);
  assert.doesNotMatch(exit.stdout, /skep listening/, 'it never listened');
  assert.doesNotMatch(exit.stderr, /^\s+at /m, `no stack trace\n${exit.stderr}`);
  return exit;
}

function s3Client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1, ...extra });
}

async function bucketNames(client: S3Client): Promise<string[]> {
  return ((await client.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name ?? '');
}

interface Printed {
  accessKeyId: string;
  secretAccessKey: string;
  bearerToken: string;
  email: string;
  password: string;
}

/** The bootstrap credential and console password a first start prints. */
function printedSecrets(stdout: string): Printed {
  const field = (re: RegExp, what: string) => {
    const m = re.exec(stdout);
    assert.ok(m, `the first start prints ${what}\n${stdout}`);
    return m[1];
  };
  return {
    accessKeyId: field(/AWS_ACCESS_KEY_ID=(\S+)/, 'the access key ID'),
    secretAccessKey: field(/AWS_SECRET_ACCESS_KEY=(\S+)/, 'the secret access key'),
    bearerToken: field(/bearer token \(REST API\): (\S+)/, 'the bearer token'),
    email: field(/email: +(\S+)/, 'the console user'),
    password: field(/password: +(\S+)/, 'the console password'),
  };
}

const LOG_QUIET = ['--log-level', 'warn'];

describe('skep serve: first and later starts', () => {
  test('the first start prints a working bootstrap credential and console password; a second start prints no secret', async () => {
    const data = await freshFolder('first');
    const first = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true });
    assert.notEqual(first.port, 0, 'the real port is printed, not 0');
    assert.match(first.stdout(), new RegExp(`skep listening on http://127\\.0\\.0\\.1:${first.port} \\(data: ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, region: us-east-1\\)`));
    const p = printedSecrets(first.stdout());
    assert.match(p.accessKeyId, /^SK[A-Z2-7]{18}$/);
    assert.equal(p.secretAccessKey.length, 40);
    assert.match(p.bearerToken, /^skep_v1_/);
    assert.equal(p.email, 'admin@localhost');

    // The key pair works with the SDK, the bearer token and the password with the REST API.
    const s3 = s3Client(first.url, p);
    await s3.send(new CreateBucketCommand({ Bucket: 'first-bucket' }));
    assert.deepEqual(await bucketNames(s3), ['first-bucket']);
    const projects = await fetch(`${first.url}/api/v1/projects`, { headers: { authorization: `Bearer ${p.bearerToken}` } });
    assert.equal(projects.status, 200);
    const projectList = (await projects.json()) as { items: { id: string; name: string }[] };
    assert.deepEqual(projectList.items.map((x) => x.name), ['default']);
    const signIn = await fetch(`${first.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: p.email, password: p.password }) });
    assert.equal(signIn.status, 200, await signIn.clone().text());
    s3.destroy();
    await stopCleanly(first);

    // The same folder again: nothing secret, and the old key still works.
    const second = await serve(['--port', '0', '--data', data, ...LOG_QUIET]);
    const s3again = s3Client(second.url, p);
    assert.deepEqual(await bucketNames(s3again), ['first-bucket']);
    s3again.destroy();
    const exit = await stopCleanly(second, 'SIGINT');
    for (const secret of [p.secretAccessKey, p.bearerToken, p.password]) assert.ok(!exit.stdout.includes(secret) && !exit.stderr.includes(secret), 'no secret on a later start');
    assert.doesNotMatch(exit.stdout, /AWS_SECRET_ACCESS_KEY|bearer token|password/);
  });

  test('a second serve on a folder already served is refused before it touches it; after a kill -9 the folder starts again', async () => {
    const data = await freshFolder('claimed');
    const first = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true });
    // What the first server's upload in progress looks like on disk.
    const inProgress = join(data, 'blobs', 'tmp', 'upload-in-progress');
    await writeFile(inProgress, 'half a body');
    const second = await serveFails(['--port', '0', '--data', data, ...LOG_QUIET]);
    assert.match(second.stderr, /Another skep serve \(process \d+\) serves /);
    assert.equal(await readFile(inProgress, 'utf8'), 'half a body', "the first server's temp file is untouched");
    running.delete(first);
    await first.stop('SIGKILL');
    // A crashed server's claim is stale: the next start takes the folder and clears what the crash left.
    const third = await serve(['--port', '0', '--data', data, ...LOG_QUIET]);
    assert.deepEqual(await readdir(join(data, 'blobs', 'tmp')), []);
    await stopCleanly(third);
  });

  test('the claim is a lock, not a record: a serve.pid naming a live process that holds no lock does not shut the folder, and two starts at once leave one server', async () => {
    const data = await freshFolder('claim-lock');
    // This test's own process is alive and is not a server of the folder (a PID reused since a crash).
    await writeFile(join(data, 'serve.pid'), `${process.pid}\n`);
    const first = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true });
    assert.equal((await readFile(join(data, 'serve.pid'), 'utf8')).trim(), String(first.pid));
    await stopCleanly(first);
    // Started together, one takes the folder and the other is refused.
    const [a, b] = await Promise.allSettled([serve(['--port', '0', '--data', data, ...LOG_QUIET]), serve(['--port', '0', '--data', data, ...LOG_QUIET])]);
    const up = [a, b].filter((r) => r.status === 'fulfilled');
    const refused = [a, b].filter((r) => r.status === 'rejected');
    assert.equal(up.length, 1, 'exactly one of two simultaneous starts serves the folder');
    assert.match(String((refused[0] as PromiseRejectedResult).reason), /Another skep serve \(process \d+\) serves /);
    await stopCleanly((up[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof serve>>>).value);
  });

  test("a server of an older skep, which holds no lock but is named in serve.pid, still keeps a second serve off its folder", async () => {
    const data = await freshFolder('claim-upgrade');
    // What an older `node bin/skep.js serve` looks like from outside: its command line and its record.
    const older = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(data, 'bin', 'skep.js'), 'serve']);
    try {
      await writeFile(join(data, 'serve.pid'), `${older.pid}\n`);
      const refused = await serveFails(['--port', '0', '--data', data, ...LOG_QUIET]);
      assert.match(refused.stderr, new RegExp(`Another skep serve \\(process ${older.pid}\\) serves `));
      assert.ok(!existsSync(join(data, 'metadata.sqlite')), 'nothing was opened');
    } finally {
      older.kill('SIGKILL');
    }
  });

  test('SKEP_ROOT_ACCESS_KEY_ID / SKEP_ROOT_SECRET_ACCESS_KEY on a fresh folder: those keys work and no secret is printed', async () => {
    const data = await freshFolder('root-env');
    const key = { accessKeyId: 'SKSERVEROOTKEY000001', secretAccessKey: 'serve-test-root-secret-0123456789abcdef' };
    const s = await serve(['--port', '0', '--data', data, ...LOG_QUIET], { SKEP_ROOT_ACCESS_KEY_ID: key.accessKeyId, SKEP_ROOT_SECRET_ACCESS_KEY: key.secretAccessKey }, { firstStart: true });
    const out = s.stdout();
    assert.match(out, /bootstrap credential uses SKEP_ROOT_ACCESS_KEY_ID=SKSERVEROOTKEY000001/);
    assert.ok(!out.includes(key.secretAccessKey), 'the given secret is not printed');
    assert.doesNotMatch(out, /AWS_SECRET_ACCESS_KEY|skep_v1_/, 'no generated secret or bearer token either');
    const client = s3Client(s.url, key);
    await client.send(new CreateBucketCommand({ Bucket: 'root-env' }));
    assert.deepEqual(await bucketNames(client), ['root-env']);
    const wrong = await outcome(s3Client(s.url, { ...key, secretAccessKey: 'x'.repeat(40) }).send(new ListBucketsCommand({})));
    assert.ok(!wrong.ok && wrong.code === 'SignatureDoesNotMatch', JSON.stringify(wrong));
    client.destroy();
    await stopCleanly(s);
  });
});

/** Why the compiled build cannot be tested, or null: missing, or older than a source file. */
function staleBuild(): string | null {
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) return 'dist/ is missing (npm ci or npm run build makes it)';
  const builtAt = statSync(built).mtimeMs;
  const newer = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .find((f) => statSync(join(ROOT, 'src', f)).mtimeMs > builtAt);
  return newer ? `dist/ is older than src/${newer} (npm run build refreshes it)` : null;
}

describe('npm start: the compiled entry point', () => {
  test('bin/skep.js serves S3, the REST API and the console on the embedded default, and stops cleanly', async () => {
    const stale = staleBuild();
    if (stale) {
      // In CI the checkout is fresh and `npm ci` has just built it: a stale build there is a failure.
      assert.ok(!process.env.CI || ['false', '0'].includes(process.env.CI), `the compiled build is required in CI: ${stale}`);
      // Elsewhere the server's build takes a second: make it, as `npm run build` would.
      const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), 'server'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(built.status, 0, `${stale}; rebuilding failed:\n${built.stdout}${built.stderr}`);
    }
    const data = await freshFolder('bin');
    const s = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true, entry: 'bin' });
    const p = printedSecrets(s.stdout());
    const s3 = s3Client(s.url, p);
    await s3.send(new CreateBucketCommand({ Bucket: 'from-the-build' }));
    await s3.send(new PutObjectCommand({ Bucket: 'from-the-build', Key: 'hello.txt', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'from-the-build', Key: 'hello.txt' }));
    assert.equal(await got.Body?.transformToString(), 'hello');
    s3.destroy();
    const api = await fetch(`${s.url}/api/v1/projects`, { headers: { authorization: `Bearer ${p.bearerToken}` } });
    assert.equal(api.status, 200);
    const consolePage = await fetch(`${s.url}/console/`);
    assert.equal(consolePage.status, 200);
    assert.match(await consolePage.text(), /<div id="root"><\/div>/, "the built console app");
    await stopCleanly(s);
  });
});

describe('skep serve: the bootstrap credential', () => {
  test('never expires, is listed as such, and rotates and revokes like any token', async () => {
    const data = await freshFolder('bootstrap');
    const s = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true });
    const p = printedSecrets(s.stdout());
    const dataArgs = ['--data', data];
    const list = await skep(['token', 'list', '--project', 'default', ...dataArgs]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`\\sbootstrap\\s+admin-rw\\s+\\*\\s+active\\s+never\\s+.*${p.accessKeyId}`));
    const [boot] = JSON.parse((await skep(['token', 'list', '--project', 'default', ...dataArgs, '--json'])).stdout) as TokenView[];
    assert.equal(boot.expiresAt, null);
    assert.equal(boot.accessKeyId, p.accessKeyId);

    const rotated = await skep(['token', 'rotate', boot.id, ...dataArgs, '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = (JSON.parse(rotated.stdout) as { credentials: { accessKeyId: string; secretAccessKey: string; bearerToken: string } }).credentials;
    const oldClient = s3Client(s.url, p);
    const newClient = s3Client(s.url, fresh);
    assert.deepEqual(await bucketNames(oldClient), [], 'the old secret works during the grace period');
    assert.deepEqual(await bucketNames(newClient), []);

    const revoked = await skep(['token', 'revoke', boot.id, ...dataArgs]);
    assert.equal(revoked.code, 0, revoked.stderr);
    // One line says what happened and what it means.
    assert.equal(revoked.stdout.trimEnd().split('\n').length, 1, revoked.stdout);
    assert.match(revoked.stdout, new RegExp(`^revoked token bootstrap \\(${boot.id}\\): access key ${p.accessKeyId} and its bearer token stop working now`));
    for (const c of [oldClient, newClient]) {
      const o = await outcome(c.send(new ListBucketsCommand({})));
      assert.ok(!o.ok && o.code === 'InvalidAccessKeyId', JSON.stringify(o));
    }
    for (const bearer of [p.bearerToken, fresh.bearerToken]) {
      const res = await fetch(`${s.url}/api/v1/projects`, { headers: { authorization: `Bearer ${bearer}` } });
      assert.equal(res.status, 401);
    }
    oldClient.destroy();
    newClient.destroy();
    await stopCleanly(s);
    // A later start does not issue a new one: the revoked credential stays revoked.
    const again = await serve(['--port', '0', '--data', data, ...LOG_QUIET]);
    await stopCleanly(again);
    assert.doesNotMatch(again.stdout(), /AWS_SECRET_ACCESS_KEY/);
  });
});

describe('skep serve: options', () => {
  test('--tls-cert / --tls-key serve HTTPS that a client trusting the certificate can use', async () => {
    const data = await freshFolder('tls');
    const cert = join(data, 'cert.pem');
    const key = join(data, 'key.pem');
    await new Promise<void>((resolve, reject) =>
      execFile(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    const s = await serve(['--port', '0', '--data', join(data, 'd'), '--tls-cert', cert, '--tls-key', key, ...LOG_QUIET], {}, { firstStart: true });
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const p = printedSecrets(s.stdout());
    assert.match(s.stdout(), new RegExp(`endpoint: https://127\\.0\\.0\\.1:${s.port}`));
    const httpsAgent = new HttpsAgent({ ca: await readFile(cert), keepAlive: true });
    const client = s3Client(s.url, p, { requestHandler: new NodeHttpHandler({ httpsAgent }) });
    await client.send(new CreateBucketCommand({ Bucket: 'over-tls' }));
    await client.send(new PutObjectCommand({ Bucket: 'over-tls', Key: 'k', Body: 'secret bytes' }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'over-tls', Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'secret bytes');
    // Browsers are told to keep to HTTPS: on S3, API and console answers alike.
    for (const path of ['/over-tls/k', '/api/v1/session', '/console/']) {
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) =>
        httpsGet(`${s.url}${path}`, { agent: httpsAgent }, (res) => (res.resume(), resolve(res.headers))).on('error', reject),
      );
      assert.equal(headers['strict-transport-security'], 'max-age=31536000', path);
    }
    // A client that does not trust the certificate is refused by TLS, and plain HTTP gets no S3 answer.
    await assert.rejects(fetch(`${s.url}/`), 'an untrusted certificate fails');
    client.destroy();
    httpsAgent.destroy();
    await stopCleanly(s);
  });

  test('--tls-cert without --tls-key (and the reverse) is a clear error', async () => {
    const data = await freshFolder('tls-half');
    const noKey = await serveFails(['--port', '0', '--data', data, '--tls-cert', '/nonexistent/cert.pem']);
    assert.match(noKey.stderr, /HTTPS needs both --tls-cert and --tls-key.*--tls-key \(or SKEP_TLS_KEY\) is missing/);
    const noCert = await serveFails(['--port', '0', '--data', data], { SKEP_TLS_KEY: '/nonexistent/key.pem' });
    assert.match(noCert.stderr, /--tls-cert \(or SKEP_TLS_CERT\) is missing/);
    assert.ok(!existsSync(join(data, 'metadata.sqlite')), 'nothing was started');
  });

  test('a first start that cannot listen, or whose certificate does not load, creates nothing: the next start still prints the one-time secrets', async () => {
    const data = await freshFolder('first-fails');
    // A port taken by another listener.
    const taken = createNetServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const busy = await serveFails(['--port', String((taken.address() as AddressInfo).port), '--data', data, ...LOG_QUIET]);
      assert.match(busy.stderr, /EADDRINUSE/);
    } finally {
      await new Promise((r) => taken.close(r));
    }
    // Files that are no certificate and key.
    const junk = join(data, 'junk.pem');
    await writeFile(junk, 'not a certificate\n');
    await serveFails(['--port', '0', '--data', join(data, 'd'), '--tls-cert', junk, '--tls-key', junk, ...LOG_QUIET]);
    for (const folder of [data, join(data, 'd')]) assert.ok(!existsSync(join(folder, 'metadata.sqlite')), `nothing was created in ${folder}`);
    // The start that succeeds is the first: it creates the deployment and shows its secrets.
    const first = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true });
    const p = printedSecrets(first.stdout());
    assert.equal(p.secretAccessKey.length, 40);
    // A hang-up (its terminal closed) drains and stops it as SIGTERM does.
    await stopCleanly(first, 'SIGHUP');
  });

  test('a server whose output nobody reads any more (skep serve | head -1) keeps serving and still stops cleanly', async () => {
    const data = await freshFolder('epipe');
    const port = await freePort();
    const { child } = spawnSkep(['serve', '--port', String(port), '--data', data, '--log-level', 'info'], {});
    try {
      // The reading end goes away before the server has written anything: every write to stdout fails.
      child.stdout.destroy();
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await waitFor('the server to answer, its banner written to nowhere', async () => {
        if (child.exitCode !== null) throw new Error(`skep serve exited ${child.exitCode}`);
        return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      }, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(child.exitCode, null, 'still running');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('--region: clients sign for that region; --domain: Host <bucket>.<domain> selects the bucket', async () => {
    const data = await freshFolder('region');
    const s = await serve(['--port', '0', '--data', data, '--region', 'eu-west-3', '--domain', 's3.serve.test', '--domain', 'other.example', ...LOG_QUIET], {}, { firstStart: true });
    assert.match(s.stdout(), /region: eu-west-3\)/);
    const p = printedSecrets(s.stdout());
    const regional = s3Client(s.url, p, { region: 'eu-west-3' });
    await regional.send(new CreateBucketCommand({ Bucket: 'regional' }));
    await regional.send(new PutObjectCommand({ Bucket: 'regional', Key: 'hello.txt', Body: 'hi' }));
    const elsewhere = await outcome(s3Client(s.url, p, { region: 'ap-south-1' }).send(new ListBucketsCommand({})));
    assert.equal(elsewhere.ok, false, 'a signature for another region is refused');

    // Virtual-hosted style: the SDK puts the bucket in the host name; every name connects to 127.0.0.1.
    const vhost = s3Client(`http://s3.serve.test:${s.port}`, p, {
      region: 'eu-west-3',
      forcePathStyle: false,
      requestHandler: new NodeHttpHandler({ httpAgent: loopbackAgent() }),
    });
    const listed = await vhost.send(new ListObjectsV2Command({ Bucket: 'regional' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['hello.txt']);
    const got = await vhost.send(new GetObjectCommand({ Bucket: 'regional', Key: 'hello.txt' }));
    assert.equal(await got.Body!.transformToString(), 'hi');
    // The second --domain works the same way.
    const second = s3Client(`http://other.example:${s.port}`, p, { region: 'eu-west-3', forcePathStyle: false, requestHandler: new NodeHttpHandler({ httpAgent: loopbackAgent() }) });
    assert.equal((await second.send(new ListObjectsV2Command({ Bucket: 'regional' }))).KeyCount, 1);
    regional.destroy();
    vhost.destroy();
    second.destroy();
    await stopCleanly(s);
  });

  test('SKEP_PORT, SKEP_DATA, SKEP_HOST, SKEP_REGION, SKEP_DOMAINS and SKEP_LOG_LEVEL are honoured; flags win', async () => {
    const data = await freshFolder('env');
    const s = await serve([], { SKEP_PORT: '0', SKEP_DATA: data, SKEP_HOST: '127.0.0.1', SKEP_REGION: 'eu-central-1', SKEP_DOMAINS: 'env.test', SKEP_LOG_LEVEL: 'warn' }, { firstStart: true });
    assert.match(s.stdout(), new RegExp(`skep listening on http://127\\.0\\.0\\.1:\\d+ \\(data: ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, region: eu-central-1\\)`));
    assert.ok(existsSync(join(data, 'metadata.sqlite')), 'the data folder came from SKEP_DATA');
    const p = printedSecrets(s.stdout());
    const client = s3Client(s.url, p, { region: 'eu-central-1' });
    await client.send(new CreateBucketCommand({ Bucket: 'env-bucket' }));
    const vhost = s3Client(`http://env.test:${s.port}`, p, { region: 'eu-central-1', forcePathStyle: false, requestHandler: new NodeHttpHandler({ httpAgent: loopbackAgent() }) });
    assert.equal((await vhost.send(new ListObjectsV2Command({ Bucket: 'env-bucket' }))).KeyCount, 0);
    client.destroy();
    vhost.destroy();
    const exit = await stopCleanly(s);
    assert.doesNotMatch(exit.stdout, /"level":30/, 'SKEP_LOG_LEVEL=warn: no info lines');

    // Flags win over the environment.
    const other = await freshFolder('env-flag');
    const flagged = await serve(['--data', other, '--port', '0', '--region', 'us-west-2'], { SKEP_DATA: data, SKEP_PORT: '1', SKEP_REGION: 'eu-central-1', SKEP_LOG_LEVEL: 'warn' }, { firstStart: true });
    assert.match(flagged.stdout(), /region: us-west-2\)/);
    assert.ok(flagged.stdout().includes(`data: ${other}`));
    await stopCleanly(flagged);
  });

  test('`skep token create` prints the endpoint and region the server on that folder runs at', async () => {
    const data = await freshFolder('endpoint');
    const s = await serve(['--port', '0', '--data', data, '--region', 'eu-west-1', ...LOG_QUIET], {}, { firstStart: true });
    assert.notEqual(s.port, 9000);
    const r = await skep(['token', 'create', '--project', 'default', '--name', 'snippets', '--permission', 'object-ro', '--all-buckets', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`S3 endpoint:\\s+http://127\\.0\\.0\\.1:${s.port}\\n`));
    assert.match(r.stdout, new RegExp(`endpoint_url = http://127\\.0\\.0\\.1:${s.port}\\n`));
    assert.match(r.stdout, /region = eu-west-1\n/);
    assert.doesNotMatch(r.stdout, /:9000/);
    // --endpoint and SKEP_ENDPOINT still win.
    const given = await skep(['token', 'create', '--project', 'default', '--name', 'given', '--permission', 'object-ro', '--all-buckets', '--data', data, '--endpoint', 'https://s3.example.com'], { SKEP_ENDPOINT: 'https://ignored.example.com' });
    assert.match(given.stdout, /S3 endpoint:\s+https:\/\/s3\.example\.com\n/);
    const fromEnv = await skep(['token', 'create', '--project', 'default', '--name', 'env', '--permission', 'object-ro', '--all-buckets', '--data', data], { SKEP_ENDPOINT: 'https://env.example.com' });
    assert.match(fromEnv.stdout, /S3 endpoint:\s+https:\/\/env\.example\.com\n/);
    await stopCleanly(s);
  });
});

describe('skep serve: empty, malformed and out-of-range settings', () => {
  /** A folder as an operator's working directory might be: readable by everyone, with a file in it. */
  async function workingDirectory(tag: string): Promise<string> {
    const cwd = await freshFolder(tag);
    await chmod(cwd, 0o755);
    await writeFile(join(cwd, 'notes.txt'), 'hi\n');
    return cwd;
  }

  test('SKEP_DATA= (empty) is unset: ./data is the data folder, and the working directory is left as it was', async () => {
    const cwd = await workingDirectory('empty-data');
    const s = await serve(['--port', '0', ...LOG_QUIET], { SKEP_DATA: '' }, { firstStart: true, cwd });
    assert.ok(s.stdout().includes(`(data: ${join(cwd, 'data')}, `), s.stdout());
    assert.ok(existsSync(join(cwd, 'data', 'metadata.sqlite')));
    await stopCleanly(s);
    assert.equal(statSync(cwd).mode & 0o777, 0o755, 'the working directory is not made private');
    assert.deepEqual(readdirSync(cwd).sort(), ['data', 'notes.txt']);

    // An empty flag is refused before anything is touched.
    const flag = await serveFails(['--port', '0', '--data', ''], {}, cwd);
    assert.match(flag.stderr, /--data was given an empty value/);
    const blank = await serveFails(['--port', '0', '--data', ' '], { SKEP_DATA: join(cwd, 'data') }, cwd);
    assert.match(blank.stderr, /--data was given an empty value/);
    assert.equal(statSync(cwd).mode & 0o777, 0o755);
  });

  test('SKEP_HOST= (empty) listens on 127.0.0.1, not on every interface; --host \'\' is refused', async () => {
    const data = await freshFolder('empty-host');
    const s = await serve(['--port', '0', '--data', data, ...LOG_QUIET], { SKEP_HOST: '', SKEP_REGION: ' ', SKEP_DRAIN_TIMEOUT: '' }, { firstStart: true });
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(s.stdout(), /region: us-east-1\)/);
    // The kernel's table of listening sockets (state 0A), IPv4 and IPv6: 127.0.0.1 alone.
    const portHex = s.port.toString(16).toUpperCase().padStart(4, '0');
    const listening = ['/proc/net/tcp', '/proc/net/tcp6']
      .flatMap((table) => readFileSync(table, 'utf8').split('\n'))
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[3] === '0A' && cols[1]?.endsWith(`:${portHex}`))
      .map((cols) => cols[1]);
    assert.deepEqual(listening, [`0100007F:${portHex}`], 'bound to 127.0.0.1 only');
    await stopCleanly(s);
    const flag = await serveFails(['--port', '0', '--data', data, '--host', ''], {});
    assert.match(flag.stderr, /--host was given an empty value/);
  });

  test('a --blobs URL that is not s3://, a duration no timer can hold, a mistyped log level, a data path that is a file: refused, saying why', async () => {
    const cwd = await workingDirectory('refusals');
    const data = join(cwd, 'data');
    const blobs = await serveFails(['--port', '0', '--data', data, '--blobs', 'https://ceph.example:7480/skep-blobs'], {}, cwd);
    assert.match(blobs.stderr, /--blobs \(SKEP_BLOBS\) takes s3:\/\/BUCKET\[\/PREFIX\] or a folder, not https:\/\/ceph\.example:7480\/skep-blobs/);
    const interval = await serveFails(['--port', '0', '--data', data, '--lifecycle-interval', '2592000'], {}, cwd);
    assert.match(interval.stderr, /--lifecycle-interval \(SKEP_LIFECYCLE_INTERVAL\) takes a number of seconds from 0\.001 to 2147483/);
    const drain = await serveFails(['--port', '0', '--data', data], { SKEP_DRAIN_TIMEOUT: '99999999' }, cwd);
    assert.match(drain.stderr, /--drain-timeout \(SKEP_DRAIN_TIMEOUT\) takes a number of seconds from 0 to 2147483/);
    const level = await serveFails(['--port', '0', '--data', data, '--log-level', 'warnn'], {}, cwd);
    assert.match(level.stderr, /--log-level \(SKEP_LOG_LEVEL\) takes one of trace, debug, info, warn, error, fatal, silent, not warnn/);
    assert.deepEqual(readdirSync(cwd), ['notes.txt'], 'nothing was created');
    const file = await serveFails(['--port', '0', '--data', join(cwd, 'notes.txt')], {}, cwd);
    assert.match(file.stderr, /the data folder \S+notes\.txt cannot be used: it is a file, not a folder/);
  });
});

describe('skep serve: the master key', () => {
  const cliFails = (r: CliResult, what: string) => {
    assert.notEqual(r.code, 0, `${what}: should fail\n${r.stdout}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace\n${r.stderr}`);
  };

  test('a folder made with SKEP_MASTER_KEY: the CLI without it fails clearly and creates no key file', async () => {
    const data = await freshFolder('masterkey');
    const key = randomBytes(32).toString('hex');
    const s = await serve(['--port', '0', '--data', data, ...LOG_QUIET], { SKEP_MASTER_KEY: key }, { firstStart: true });
    await stopCleanly(s);
    assert.ok(!existsSync(join(data, 'master.key')), 'the key came from the environment');

    const without = await skep(['token', 'list', '--project', 'default', '--data', data]);
    cliFails(without, 'token list without the key');
    assert.match(without.stderr, /holds encrypted secrets but no master key: SKEP_MASTER_KEY is not set and \S*master\.key does not exist/);
    assert.ok(!existsSync(join(data, 'master.key')), 'no second key was created');
    const created = await skep(['token', 'create', '--project', 'default', '--name', 'x', '--permission', 'object-ro', '--all-buckets', '--data', data]);
    cliFails(created, 'token create without the key');
    assert.ok(!existsSync(join(data, 'master.key')));

    const withKey = await skep(['token', 'list', '--project', 'default', '--data', data], { SKEP_MASTER_KEY: key });
    assert.equal(withKey.code, 0, withKey.stderr);
    assert.match(withKey.stdout, /bootstrap/);

    // A restart that forgot the key refuses to start instead of failing every request.
    const restart = await serveFails(['--port', '0', '--data', data]);
    assert.match(restart.stderr, /SKEP_MASTER_KEY/);
    assert.ok(!existsSync(join(data, 'master.key')));
  });

  test('a wrong key, from SKEP_MASTER_KEY or master.key, refuses to start and names where it came from', async () => {
    const data = await freshFolder('wrongkey');
    const s = await serve(['--port', '0', '--data', data, ...LOG_QUIET], {}, { firstStart: true });
    const p = printedSecrets(s.stdout());
    await stopCleanly(s);
    const keyFile = join(data, 'master.key');
    const original = await readFile(keyFile, 'utf8');

    const wrongEnv = await serveFails(['--port', '0', '--data', data], { SKEP_MASTER_KEY: randomBytes(32).toString('base64') });
    assert.match(wrongEnv.stderr, /The master key from SKEP_MASTER_KEY does not decrypt the secrets stored in/);
    assert.match(wrongEnv.stderr, /master\.key/);

    await writeFile(keyFile, randomBytes(32).toString('base64') + '\n');
    const wrongFile = await serveFails(['--port', '0', '--data', data]);
    assert.ok(wrongFile.stderr.includes(`The master key from ${keyFile} does not decrypt`), wrongFile.stderr);
    assert.match(wrongFile.stderr, /SKEP_MASTER_KEY/);
    const cli = await skep(['token', 'list', '--project', 'default', '--data', data]);
    cliFails(cli, 'the CLI with a wrong key file');
    assert.match(cli.stderr, /does not decrypt/);

    // The right key again: everything works as before.
    await writeFile(keyFile, original);
    const back = await serve(['--port', '0', '--data', data, ...LOG_QUIET]);
    const client = s3Client(back.url, p);
    assert.deepEqual(await bucketNames(client), []);
    client.destroy();
    await stopCleanly(back);
  });
});
