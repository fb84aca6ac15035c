import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { sqliteDriver } from '../src/storage/metadata/sqlite-driver.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, call, isProblem, problemText, rootBearer, signIn } from './helpers/api.js';
import { skep } from './helpers/tokens.js';

const BetterSqlite3 = sqliteDriver();

// POST/GET/DELETE /api/v1/session: sign-in, cookies, CSRF, expiry, the sign-in rate limit, the
// first console user, and what is (not) stored about passwords and sessions.

describe('REST API: session', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('the first start creates admin@localhost, owner of the default project, with a one-time password', async () => {
    const admin = server.bootstrap.admin!;
    assert.equal(admin.email, 'admin@localhost');
    assert.ok(admin.password.length >= 16);
    const s = await adminSession(server);
    const r = await call(server, 'GET', '/session', { as: { session: s } });
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(r.body.projects, [{ id: server.bootstrap.projectId, name: 'default', role: 'owner' }]);
    assert.equal(r.body.user.email, 'admin@localhost');
  });

  test('a restart does not create another admin or print a password again', async () => {
    const again = await startTestServer({ dataDir: server.dataDir });
    try {
      assert.equal(again.bootstrap.admin, undefined);
      assert.equal(await again.services.users.countUsers(), 1);
    } finally {
      await again.close();
    }
  });

  test('sign in: 200 with user, CSRF token and projects; the cookie is HttpOnly, SameSite=Lax, Path=/, 12 h, not Secure without TLS', async () => {
    const r = await call(server, 'POST', '/session', { json: { email: 'ADMIN@localhost', password: server.bootstrap.admin!.password } });
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(Object.keys(r.body).sort(), ['csrfToken', 'projects', 'user']);
    assert.deepEqual(Object.keys(r.body.user).sort(), ['email', 'id']);
    assert.ok(r.body.csrfToken.length >= 20);
    const cookie = r.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^skep_session=[A-Za-z0-9_-]{43};/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\//);
    assert.match(cookie, /Max-Age=43200/);
    assert.doesNotMatch(cookie, /Secure/);
  });

  test('wrong password and unknown user: 401 unauthenticated, the same message', async () => {
    const wrong = await call(server, 'POST', '/session', { json: { email: 'admin@localhost', password: 'not-the-password' } });
    const unknown = await call(server, 'POST', '/session', { json: { email: 'nobody@example.com', password: 'whatever-pass' } });
    assert.ok(isProblem(wrong, 401, 'unauthenticated'), problemText(wrong));
    assert.ok(isProblem(unknown, 401, 'unauthenticated'), problemText(unknown));
    assert.equal(wrong.body.detail, unknown.body.detail);
    assert.equal(wrong.headers.get('set-cookie'), null);
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="skep"');
  });

  test('GET /session without a cookie, with a made-up cookie, or with a bearer token: 401 / 403', async () => {
    assert.ok(isProblem(await call(server, 'GET', '/session'), 401, 'unauthenticated'));
    const fake = { session: { cookie: 'A'.repeat(43), csrf: 'x', userId: '', email: '' } };
    const faked = await call(server, 'GET', '/session', { as: fake });
    assert.ok(isProblem(faked, 401, 'unauthenticated'));
    assert.equal(faked.headers.get('www-authenticate'), 'Bearer realm="skep"');
    const bearer = await call(server, 'GET', '/session', { as: rootBearer(server) });
    assert.ok(isProblem(bearer, 403, 'forbidden'));
    assert.equal(bearer.headers.get('www-authenticate'), null);
    for (const authorization of ['Bearer skep_v1_nope', 'Basic YTpi']) {
      const refused = await call(server, 'GET', '/projects', { headers: { authorization } });
      assert.ok(isProblem(refused, 401, 'unauthenticated'), authorization);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="skep"', authorization);
    }
  });

  test('sign out needs the CSRF token, then ends the session', async () => {
    const s = await adminSession(server);
    const noCsrf = await call(server, 'DELETE', '/session', { as: { session: s, csrf: false } });
    assert.ok(isProblem(noCsrf, 403, 'csrf'), problemText(noCsrf));
    const wrongCsrf = await call(server, 'DELETE', '/session', { as: { session: s, csrf: 'x'.repeat(s.csrf.length) } });
    assert.ok(isProblem(wrongCsrf, 403, 'csrf'), problemText(wrongCsrf));
    assert.equal((await call(server, 'GET', '/session', { as: { session: s } })).status, 200);
    const out = await call(server, 'DELETE', '/session', { as: { session: s } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /skep_session=;.*Max-Age=0/);
    assert.ok(isProblem(await call(server, 'GET', '/session', { as: { session: s } }), 401, 'unauthenticated'));
  });

  test('each session has its own CSRF token; another session’s token is refused', async () => {
    const a = await adminSession(server);
    const b = await adminSession(server);
    assert.notEqual(a.csrf, b.csrf);
    const r = await call(server, 'POST', '/projects', { as: { session: a, csrf: b.csrf }, json: { name: 'x' } });
    assert.ok(isProblem(r, 403, 'csrf'), problemText(r));
  });

  test('a session expires after 12 hours', async () => {
    const s = await adminSession(server);
    server.shiftClock(12 * 3600_000 - 60_000);
    try {
      assert.equal((await call(server, 'GET', '/session', { as: { session: s } })).status, 200);
      server.shiftClock(61_000);
      assert.ok(isProblem(await call(server, 'GET', '/session', { as: { session: s } }), 401, 'unauthenticated'));
    } finally {
      server.shiftClock(-(12 * 3600_000 + 1000));
    }
  });

  test('sign-in rate limit: after 5 failures for an email from one address, even the right password gets 429 for 5 minutes', async () => {
    await server.services.users.createUser({ email: 'limited@example.com', password: 'limited-right-password', createdBy: 'test' });
    for (let i = 0; i < 5; i++) {
      const r = await call(server, 'POST', '/session', { json: { email: 'limited@example.com', password: `wrong-${i}-password` } });
      assert.ok(isProblem(r, 401, 'unauthenticated'), problemText(r));
    }
    const blocked = await call(server, 'POST', '/session', { json: { email: 'Limited@example.com', password: 'limited-right-password' } });
    assert.ok(isProblem(blocked, 429, 'rate-limited'), problemText(blocked));
    // Retry-After: whole seconds until the oldest failure leaves the 5-minute window.
    const retryAfter = Number(blocked.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 290 && retryAfter <= 300, `Retry-After: ${blocked.headers.get('retry-after')}`);
    server.shiftClock(120_000);
    try {
      const later = await call(server, 'POST', '/session', { json: { email: 'limited@example.com', password: 'limited-right-password' } });
      assert.ok(isProblem(later, 429, 'rate-limited'), problemText(later));
      const left = Number(later.headers.get('retry-after'));
      assert.ok(left > 170 && left <= 180, `Retry-After after 2 minutes: ${left}`);
    } finally {
      server.shiftClock(-120_000);
    }
    // Other emails from the same address are not affected.
    assert.equal((await call(server, 'POST', '/session', { json: { email: 'admin@localhost', password: server.bootstrap.admin!.password } })).status, 200);
    server.shiftClock(5 * 60_000 + 1000);
    try {
      await signIn(server, 'limited@example.com', 'limited-right-password');
    } finally {
      server.shiftClock(-(5 * 60_000 + 1000));
    }
    const audit = await server.services.audit.list({ limit: 200 });
    assert.ok(audit.some((a) => a.action === 'user.sign-in-failed' && a.actor === 'user:limited@example.com' && a.detail === 'rate-limited'));
    assert.ok(audit.some((a) => a.action === 'user.sign-in-failed' && a.detail === 'wrong password'));
    assert.ok(audit.some((a) => a.action === 'user.signed-in' && a.actor === 'user:admin@localhost'));
    assert.ok(audit.some((a) => a.action === 'user.created' && a.detail === 'admin@localhost' && a.actor === 'bootstrap'));
  });

  test('at rest: the password is an argon2id hash, and sessions are stored by the SHA-256 of the cookie', async () => {
    const s = await adminSession(server);
    const db = new BetterSqlite3(join(server.dataDir, 'metadata.sqlite'), { readonly: true });
    try {
      const users = db.prepare('SELECT email, password_hash FROM users').all() as { email: string; password_hash: string }[];
      const admin = users.find((u) => u.email === 'admin@localhost')!;
      assert.match(admin.password_hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
      assert.ok(!admin.password_hash.includes(server.bootstrap.admin!.password));
      const sessions = db.prepare('SELECT id, csrf_token FROM sessions').all() as { id: string; csrf_token: string }[];
      const ids = sessions.map((r) => r.id);
      assert.ok(ids.includes(createHash('sha256').update(s.cookie).digest('hex')));
      assert.ok(!ids.includes(s.cookie));
    } finally {
      db.close();
    }
    const file = readFileSync(join(server.dataDir, 'metadata.sqlite'));
    assert.equal(file.includes(Buffer.from(s.cookie)), false);
    assert.equal(file.includes(Buffer.from(server.bootstrap.admin!.password)), false);
  });

  test('POST /session validates its body: bad JSON, unknown field, wrong type, wrong content type', async () => {
    const bad = await call(server, 'POST', '/session', { raw: '{"email":', headers: { 'content-type': 'application/json' } });
    assert.ok(isProblem(bad, 400, 'validation', 'body'), problemText(bad));
    const extra = await call(server, 'POST', '/session', { json: { email: 'a@b', password: 'x', remember: true } });
    assert.ok(isProblem(extra, 400, 'validation', 'remember'), problemText(extra));
    const type = await call(server, 'POST', '/session', { json: { email: 'a@b', password: 12345678 } });
    assert.ok(isProblem(type, 400, 'validation', 'password'), problemText(type));
    const missing = await call(server, 'POST', '/session', { json: { password: 'x' } });
    assert.ok(isProblem(missing, 400, 'validation', 'email'), problemText(missing));
    const form = await call(server, 'POST', '/session', { raw: 'email=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.ok(isProblem(form, 400, 'validation', 'body'), problemText(form));
  });
});

describe('REST API: sign-in limit per client address (password spraying)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('20 failures from one address over many emails: every sign-in from it gets 429 with Retry-After until the window frees', async () => {
    const admin = server.bootstrap.admin!;
    // One failure per email: the per-email limit (5) never trips.
    for (let i = 0; i < 20; i++) {
      const r = await call(server, 'POST', '/session', { json: { email: `victim-${i}@example.com`, password: 'Spring2024!' } });
      assert.ok(isProblem(r, 401, 'unauthenticated'), `attempt ${i}: ${problemText(r)}`);
    }
    for (const email of ['victim-99@example.com', admin.email]) {
      const r = await call(server, 'POST', '/session', { json: { email, password: email === admin.email ? admin.password : 'Spring2024!' } });
      assert.ok(isProblem(r, 429, 'rate-limited'), `${email}: ${problemText(r)}`);
      const retryAfter = Number(r.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter > 290 && retryAfter <= 300, `Retry-After: ${r.headers.get('retry-after')}`);
    }
    server.shiftClock(5 * 60_000 + 1000);
    try {
      await signIn(server, admin.email, admin.password);
    } finally {
      server.shiftClock(-(5 * 60_000 + 1000));
    }
    const audit = await server.services.audit.list({ limit: 100 });
    assert.ok(audit.some((a) => a.action === 'user.sign-in-failed' && a.actor === 'user:victim-99@example.com' && a.detail === 'rate-limited'));
  });

  test('a successful sign-in does not reset the address count', async () => {
    const other = await startTestServer();
    try {
      const admin = other.bootstrap.admin!;
      for (let i = 0; i < 19; i++) await call(other, 'POST', '/session', { json: { email: `spray-${i}@example.com`, password: 'Summer2024!' } });
      await signIn(other, admin.email, admin.password);
      assert.equal((await call(other, 'POST', '/session', { json: { email: 'spray-19@example.com', password: 'Summer2024!' } })).status, 401);
      const r = await call(other, 'POST', '/session', { json: { email: 'spray-20@example.com', password: 'Summer2024!' } });
      assert.ok(isProblem(r, 429, 'rate-limited'), problemText(r));
    } finally {
      await other.stop();
    }
  });
});

describe('REST API: session cookie under TLS', () => {
  let dir: string;
  let server: TestServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skep-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    server = await startTestServer({ tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the session cookie is Secure', async () => {
    const body = JSON.stringify({ email: 'admin@localhost', password: server.bootstrap.admin!.password });
    const { status, cookie } = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = httpsRequest(
        `${server.url}/api/v1/session`,
        { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    assert.match(cookie, /; Secure/);
  });
});

describe('skep user create', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    // The CLI opens the data folder beside the running server.
  });
  after(() => server.stop());

  test('--password with --project and --role owner makes an owner who can sign in; --json reports it', async () => {
    const r = await skep(['user', 'create', '--data', server.dataDir, '--email', 'Ops@Example.com', '--password', 'cli-password-1', '--project', server.bootstrap.projectId, '--role', 'owner', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.user.email, 'ops@example.com');
    assert.equal(out.membership.role, 'owner');
    const s = await signIn(server, 'ops@example.com', 'cli-password-1');
    const me = await call(server, 'GET', '/session', { as: { session: s } });
    assert.deepEqual(me.body.projects.map((p: { role: string }) => p.role), ['owner']);
  });

  test('the password from SKEP_USER_PASSWORD; --role member; a taken email fails', async () => {
    const r = await skep(['user', 'create', '--data', server.dataDir, '--email', 'env@example.com', '--project', 'default', '--role', 'member'], { SKEP_USER_PASSWORD: 'env-password-1' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /member of project default/);
    const s = await signIn(server, 'env@example.com', 'env-password-1');
    assert.equal((await call(server, 'GET', '/session', { as: { session: s } })).body.projects[0].role, 'member');
    const dup = await skep(['user', 'create', '--data', server.dataDir, '--email', 'ENV@example.com'], { SKEP_USER_PASSWORD: 'env-password-2' });
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /exists/);
  });

  test('--project without --role, or --role without --project, is refused in one line and makes no user', async () => {
    const refused: [string[], string][] = [
      [['--project', 'default'], '--project goes with --role owner|member.'],
      [['--role', 'member'], '--role goes with --project.'],
    ];
    for (const [args, message] of refused) {
      const r = await skep(['user', 'create', '--data', server.dataDir, '--email', 'unasked@example.com', '--password', 'cli-password-2', ...args]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(message), r.stderr);
    }
    // The email is still free.
    const later = await skep(['user', 'create', '--data', server.dataDir, '--email', 'unasked@example.com', '--password', 'cli-password-2']);
    assert.equal(later.code, 0, later.stderr);
    assert.match(later.stdout, /not a member of any project yet/);
  });

  test('the password from standard input; too short a password is refused', async () => {
    const entry = fileURLToPath(new URL('./helpers/skep-cli.ts', import.meta.url));
    const run = (email: string, input: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', entry, 'user', 'create', '--data', server.dataDir, '--email', email], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.stdout.resume();
        child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
        child.stdin.end(input);
      });
    const ok = await run('stdin@example.com', 'stdin-password-1\n');
    assert.equal(ok.code, 0, ok.stderr);
    await signIn(server, 'stdin@example.com', 'stdin-password-1');
    const short = await run('short@example.com', 'short\n');
    assert.notEqual(short.code, 0);
    assert.match(short.stderr, /at least 8/);
  });
});
