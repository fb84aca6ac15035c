import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, DeletePublicAccessBlockCommand, ListBucketsCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { captureLog, startTestServer, type TestServer } from './helpers/server.js';
import { call, isProblem, problemText } from './helpers/api.js';
import { waitFor } from './helpers/tokens.js';

// What keeps an installation safe around the S3 and API surfaces: a data folder nobody else can
// read, and client addresses (rate limits, audit sources) that a client cannot choose unless it
// comes through a reverse proxy the operator named.

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('the data folder is private', () => {
  const folders: string[] = [];
  after(async () => {
    for (const f of folders) await rm(f, { recursive: true, force: true });
  });

  test('a new folder is 0700; a loose existing one (and its database and key) is tightened, with one warning', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'skep-perm-'));
    folders.push(parent);
    const dataDir = join(parent, 'data');
    const first = await startTestServer({ dataDir });
    assert.equal(await mode(dataDir), 0o700);
    await first.close();

    // As a restored backup or a folder made by hand might be: readable by everyone.
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, 'metadata.sqlite'), 0o644);
    await chmod(join(dataDir, 'master.key'), 0o644);
    await chmod(join(dataDir, 'blobs'), 0o755);
    const log = captureLog('warn');
    const again = await startTestServer({ dataDir }, { log: log.logger });
    try {
      assert.equal(await mode(dataDir), 0o700);
      assert.equal(await mode(join(dataDir, 'metadata.sqlite')), 0o600);
      assert.equal(await mode(join(dataDir, 'master.key')), 0o600);
      assert.equal(await mode(join(dataDir, 'blobs')), 0o700);
      const warnings = log.lines.filter((l) => /permissions tightened/.test(l.msg));
      assert.deepEqual(warnings.map((l) => [l.path, l.was, l.now]).sort(), [
        [dataDir, '0755', '0700'],
        [join(dataDir, 'blobs'), '0755', '0700'],
        [join(dataDir, 'master.key'), '0644', '0600'],
        [join(dataDir, 'metadata.sqlite'), '0644', '0600'],
      ].sort());
      // And it still works.
      await again.client().send(new ListBucketsCommand({}));
    } finally {
      await again.close();
    }
  });

  test('a fresh folder\'s second start warns of nothing: the files made inside the 0700 folder are tightened quietly', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'skep-perm-'));
    folders.push(parent);
    const dataDir = join(parent, 'data');
    const first = await startTestServer({ dataDir });
    await first.client().send(new CreateBucketCommand({ Bucket: 'quiet' }));
    await first.close();
    // As SQLite makes them under the usual umask: readable by all, inside a folder only the owner enters.
    await chmod(join(dataDir, 'metadata.sqlite'), 0o644);
    await chmod(join(dataDir, 'blobs'), 0o755);
    const log = captureLog('warn');
    const again = await startTestServer({ dataDir }, { log: log.logger });
    try {
      assert.equal(await mode(join(dataDir, 'metadata.sqlite')), 0o600);
      assert.equal(await mode(join(dataDir, 'blobs')), 0o700);
      assert.deepEqual(log.lines.filter((l) => /permissions tightened/.test(l.msg)), []);
    } finally {
      await again.close();
    }
  });

  test('a folder skep may not change is refused with a message saying what to do', { skip: process.getuid?.() === 0 ? false : 'needs root to make a folder of another user' }, async () => {
    const parent = await mkdtemp(join(tmpdir(), 'skep-perm-'));
    folders.push(parent);
    const dataDir = join(parent, 'theirs');
    await mkdir(dataDir, { mode: 0o755 });
    await writeFile(join(dataDir, 'note'), 'x');
    // Owned by another user: root may chmod anything, so the refusal is tested as that user.
    const { spawnSync } = await import('node:child_process');
    await chmod(parent, 0o755);
    const r = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e',
        `import { secureDataFolder } from ${JSON.stringify(join(process.cwd(), 'src/storage/data-folder.ts'))};
         import { createLogger } from ${JSON.stringify(join(process.cwd(), 'src/log.ts'))};
         await secureDataFolder(${JSON.stringify(dataDir)}, createLogger('silent')).then(() => console.log('accepted'), (e) => console.log(e.message));`],
      { encoding: 'utf8', cwd: process.cwd() },
    );
    assert.match(r.stdout, /is readable by other users \(mode 0755\) and skep could not restrict it \(EPERM\): run chmod 0700/, r.stdout + r.stderr);
    assert.equal(await mode(dataDir), 0o755);
  });
});

describe('HTTP (no TLS) sends no HSTS header', () => {
  test('plain HTTP answers carry no Strict-Transport-Security', async () => {
    const server = await startTestServer();
    try {
      const res = await fetch(`${server.url}/api/v1/openapi.json`);
      assert.equal(res.headers.get('strict-transport-security'), null);
    } finally {
      await server.stop();
    }
  });
});

describe('--trusted-proxy: client addresses behind a reverse proxy', () => {
  const signInAs = (server: TestServer, email: string, password: string, forwardedFor?: string) =>
    call(server, 'POST', '/session', { json: { email, password }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });

  test('behind a named proxy, one client locked out of an account does not lock out another', async () => {
    const server = await startTestServer({ trustedProxies: ['127.0.0.1'] });
    try {
      await server.services.users.createUser({ email: 'shared@example.com', password: 'the-right-password', createdBy: 'test' });
      for (let i = 0; i < 5; i++) {
        const r = await signInAs(server, 'shared@example.com', `wrong-${i}-password`, '203.0.113.66');
        assert.ok(isProblem(r, 401, 'unauthenticated'), problemText(r));
      }
      assert.ok(isProblem(await signInAs(server, 'shared@example.com', 'the-right-password', '203.0.113.66'), 429, 'rate-limited'));
      // Another client behind the same proxy signs in.
      const other = await signInAs(server, 'shared@example.com', 'the-right-password', '198.51.100.7');
      assert.equal(other.status, 200, problemText(other));
      // A client that sends its own X-Forwarded-For through the proxy gets the address the proxy appended.
      assert.ok(isProblem(await signInAs(server, 'shared@example.com', 'the-right-password', '198.51.100.7, 203.0.113.66'), 429, 'rate-limited'));
      // The audit log names the clients, not the proxy.
      const audit = await server.services.audit.list({ actor: 'user:shared@example.com', limit: 50 });
      assert.ok(audit.some((a) => a.action === 'user.sign-in-failed' && a.source === '203.0.113.66'));
      assert.ok(audit.some((a) => a.action === 'user.signed-in' && a.source === '198.51.100.7'));
      assert.ok(!audit.some((a) => a.source === '127.0.0.1'), JSON.stringify(audit.map((a) => a.source)));

      // S3 authentication failures are audited from the forwarded address too.
      const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
      const credential = encodeURIComponent(`SKNOSUCHKEY000000000/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`);
      const query = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${credential}&X-Amz-Date=${amzDate}&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00`;
      const res = await fetch(`${server.url}/?${query}`, { headers: { 'x-forwarded-for': '192.0.2.44' } });
      assert.equal(res.status, 403);
      await waitFor('the S3 failure', async () => (await server.services.audit.list({ actor: 'anonymous', limit: 10 })).some((a) => a.source === '192.0.2.44'));
    } finally {
      await server.stop();
    }
  });

  test('without --trusted-proxy, X-Forwarded-For is ignored: a client cannot dodge the limit by inventing addresses', async () => {
    const server = await startTestServer();
    try {
      await server.services.users.createUser({ email: 'target@example.com', password: 'the-right-password', createdBy: 'test' });
      for (let i = 0; i < 5; i++) await signInAs(server, 'target@example.com', `wrong-${i}-password`, `203.0.113.${i}`);
      assert.ok(isProblem(await signInAs(server, 'target@example.com', 'the-right-password', '198.51.100.99'), 429, 'rate-limited'));
      const audit = await server.services.audit.list({ actor: 'user:target@example.com', limit: 50 });
      assert.ok(audit.every((a) => a.source === '127.0.0.1'), JSON.stringify(audit.map((a) => a.source)));
    } finally {
      await server.stop();
    }
  });

  test('TLS a named proxy ended counts as TLS: the session cookie is Secure and aws:SecureTransport is true', async () => {
    const behindProxy = await startTestServer({ trustedProxies: ['127.0.0.1'] });
    const direct = await startTestServer();
    try {
      for (const server of [behindProxy, direct]) {
        await server.services.users.createUser({ email: 'tls@example.com', password: 'the-right-password', createdBy: 'test' });
        const s3 = server.client();
        await s3.send(new CreateBucketCommand({ Bucket: 'tls-only' }));
        await s3.send(new PutObjectCommand({ Bucket: 'tls-only', Key: 'k', Body: 'x' }));
        await s3.send(new DeletePublicAccessBlockCommand({ Bucket: 'tls-only' }));
        await s3.send(new PutBucketPolicyCommand({ Bucket: 'tls-only', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [
          { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::tls-only/*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
        ] }) }));
      }
      const cookie = async (server: TestServer, proto?: string) => {
        const r = await call(server, 'POST', '/session', { json: { email: 'tls@example.com', password: 'the-right-password' }, headers: proto ? { 'x-forwarded-proto': proto } : {} });
        assert.equal(r.status, 200, problemText(r));
        return r.headers.get('set-cookie') ?? '';
      };
      const read = async (server: TestServer, proto?: string) =>
        (await fetch(`${server.url}/tls-only/k`, { headers: proto ? { 'x-forwarded-proto': proto } : {} })).status;
      assert.match(await cookie(behindProxy, 'https'), /;\s*Secure/i);
      assert.equal(await read(behindProxy, 'https'), 200);
      // The nearest proxy's value counts; plain HTTP, or the header from anyone but a named proxy, does not.
      assert.equal(await read(behindProxy, 'https, http'), 403);
      assert.doesNotMatch(await cookie(behindProxy), /;\s*Secure/i);
      assert.equal(await read(behindProxy), 403);
      assert.doesNotMatch(await cookie(direct, 'https'), /;\s*Secure/i);
      assert.equal(await read(direct, 'https'), 403);
    } finally {
      await behindProxy.stop();
      await direct.stop();
    }
  });

  test('the flag takes addresses and networks, and refuses anything else at start-up', async () => {
    const { serveConfig } = await import('../src/config.js');
    assert.deepEqual(serveConfig(['--trusted-proxy', '10.0.0.1', '--trusted-proxy', 'fd00::/8'], {}).trustedProxies, ['10.0.0.1', 'fd00::/8']);
    assert.deepEqual(serveConfig([], { SKEP_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1' }).trustedProxies, ['10.0.0.0/8', '127.0.0.1']);
    assert.throws(() => serveConfig(['--trusted-proxy', 'proxy.internal'], {}), /not an IP address or CIDR network .*: "proxy.internal"/);
    assert.throws(() => serveConfig(['--trusted-proxy', '10.0.0.0/'], {}), /not an IP address or CIDR network .*: "10.0.0.0\/"/);
    assert.equal(serveConfig(['--audit-retention-days', '30'], {}).auditRetentionDays, 30);
    assert.throws(() => serveConfig(['--audit-retention-days', '-1'], {}), /audit-retention-days/);
  });
});
