import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, signIn, userSession, type As, type Session } from './helpers/api.js';
import { MAX_SIGN_IN_FAILURES, SIGN_IN_WINDOW_MS } from '../src/users/user-service.js';

// What the console's Account and Project settings pages use: a user's own password, a project's
// name and maximum token lifetime, its members and their roles. Owners change a project; every
// change is audited.

describe('REST API: account and project settings', () => {
  let server: TestServer;
  let p: string;
  let owner: Session;

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    owner = await adminSession(server);
  });
  after(() => server.stop());

  test('a user changes their password with the current one; other sessions end, this one stays', async () => {
    await server.services.users.createUser({ email: 'pw@example.com', password: 'first-password-1', createdBy: 'test' });
    const here = await signIn(server, 'pw@example.com', 'first-password-1');
    const elsewhere = await signIn(server, 'pw@example.com', 'first-password-1');
    const change = (json: unknown, as: Session = here) => call(server, 'POST', '/session/password', { as: { session: as }, json });
    assert.ok(isProblem(await change({ currentPassword: 'not-it-at-all', newPassword: 'second-password-2' }), 400, 'validation', 'currentPassword'));
    assert.ok(isProblem(await change({ currentPassword: 'first-password-1', newPassword: 'short' }), 400, 'validation', 'newPassword'));
    assert.ok(isProblem(await change({ currentPassword: 'first-password-1', newPassword: 'first-password-1' }), 400, 'validation', 'newPassword'));
    const ok = await change({ currentPassword: 'first-password-1', newPassword: 'second-password-2' });
    assert.equal(ok.status, 204, problemText(ok));
    assert.equal((await call(server, 'GET', '/session', { as: { session: here } })).status, 200, 'this session stays');
    assert.equal((await call(server, 'GET', '/session', { as: { session: elsewhere } })).status, 401, 'the other one ended');
    assert.equal((await call(server, 'POST', '/session', { json: { email: 'pw@example.com', password: 'first-password-1' } })).status, 401);
    await signIn(server, 'pw@example.com', 'second-password-2');
    const events = await server.services.audit.list({ actor: 'user:pw@example.com', actions: ['user.password-changed'], limit: 5 });
    assert.equal(events.length, 1);
    assert.equal(events[0].detail, '1 other session signed out');
    // Sessions only, with the CSRF header.
    assert.ok(isProblem(await call(server, 'POST', '/session/password', { as: rootBearer(server), json: { currentPassword: 'x', newPassword: 'yyyyyyyyy' } }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'POST', '/session/password', { as: { session: here, csrf: false }, json: { currentPassword: 'x', newPassword: 'yyyyyyyyy' } }), 403, 'csrf'));
  });

  test('wrong current passwords count as failed sign-ins: past the limit, 429 with Retry-After, for the change and the sign-in alike', async () => {
    await server.services.users.createUser({ email: 'guess@example.com', password: 'right-password-1', createdBy: 'test' });
    const here = await signIn(server, 'guess@example.com', 'right-password-1');
    const change = (currentPassword: string) => call(server, 'POST', '/session/password', { as: { session: here }, json: { currentPassword, newPassword: 'next-password-2' } });
    for (let i = 0; i < MAX_SIGN_IN_FAILURES; i++) assert.ok(isProblem(await change(`guess-${i}`), 400, 'validation', 'currentPassword'), `guess ${i}`);
    // The right password is refused too until the window frees, as a sign-in is.
    const limited = await change('right-password-1');
    assert.ok(isProblem(limited, 429, 'rate-limited'), problemText(limited));
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= SIGN_IN_WINDOW_MS / 1000, `Retry-After ${retryAfter}`);
    const audited = await server.services.audit.list({ actor: 'user:guess@example.com', limit: 50 });
    const failures = audited.filter((a) => a.action === 'user.sign-in-failed').map((a) => a.detail);
    assert.equal(failures.filter((d) => d === 'wrong current password on a password change').length, MAX_SIGN_IN_FAILURES);
    assert.ok(failures.includes('password change rate-limited'));
    assert.ok(isProblem(await call(server, 'POST', '/session', { json: { email: 'guess@example.com', password: 'right-password-1' } }), 429, 'rate-limited'));
    server.shiftClock(SIGN_IN_WINDOW_MS);
    try {
      assert.equal((await change('right-password-1')).status, 204);
    } finally {
      server.shiftClock(-SIGN_IN_WINDOW_MS);
    }
  });

  test('owners rename a project and set its maximum token lifetime; members and bearers may not', async () => {
    const patch = (json: unknown, as: As) => call(server, 'PATCH', `/projects/${p}`, { as, json });
    const r = await patch({ name: 'renamed', maxTokenDays: 30 }, { session: owner });
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual([r.body.name, r.body.maxTokenDays, r.body.role], ['renamed', 30, 'owner']);
    assert.equal((await server.services.projects.require(p)).maxTokenDays, 30);
    // A token of more than 30 days is now beyond the project's limit.
    const tooLong = await call(server, 'POST', `/projects/${p}/tokens`, { as: { session: owner }, json: { name: 'x', permission: 'object-ro', bucketScope: null, expiresInDays: 31 } });
    assert.ok(isProblem(tooLong, 422, 'limit-exceeded', 'expiresInDays'), problemText(tooLong));
    assert.match(tooLong.body.detail, /at most 30 days/);
    assert.equal((await patch({ maxTokenDays: null }, { session: owner })).body.maxTokenDays, null);
    assert.ok(isProblem(await patch({ maxTokenDays: 0 }, { session: owner }), 400, 'validation', 'maxTokenDays'));
    assert.ok(isProblem(await patch({ colour: 'red' }, { session: owner }), 400, 'validation', 'colour'));
    const member = await userSession(server, { projectId: p, role: 'member' });
    assert.ok(isProblem(await patch({ name: 'mine' }, { session: member }), 403, 'forbidden'));
    assert.ok(isProblem(await patch({ name: 'mine' }, rootBearer(server)), 403, 'forbidden'));
    const audit = await server.services.audit.list({ projectId: p, actions: ['project.updated'], limit: 5 });
    assert.equal(audit[audit.length - 1].detail, 'name: "default" -> "renamed"; max token days: none -> 30');
    assert.equal(audit[0].actor, 'user:admin@localhost');
    await patch({ name: 'default' }, { session: owner });
  });

  test('members: list, add by email, change role, remove; the last owner stays; every change audited', async () => {
    const members = () => call(server, 'GET', `/projects/${p}/members`, { as: { session: owner } });
    const before = await members();
    assert.equal(before.status, 200, problemText(before));
    assert.ok(before.body.items.some((m: { email: string; role: string }) => m.email === 'admin@localhost' && m.role === 'owner'));
    const newcomer = await server.services.users.createUser({ email: 'newcomer@example.com', password: 'newcomer-password', createdBy: 'test' });
    const add = (json: unknown, as: Session = owner) => call(server, 'POST', `/projects/${p}/members`, { as: { session: as }, json });
    const added = await add({ email: 'Newcomer@Example.com', role: 'member' });
    assert.equal(added.status, 200, problemText(added));
    assert.deepEqual(added.body, { userId: newcomer.id, email: 'newcomer@example.com', role: 'member' });
    const unknown = await add({ email: 'nobody@example.com', role: 'member' });
    assert.ok(isProblem(unknown, 404, 'not-found'), problemText(unknown));
    assert.match(unknown.body.detail, /skep user create --email nobody@example\.com/);

    // The newcomer now sees the project, as a member.
    const theirs = await signIn(server, 'newcomer@example.com', 'newcomer-password');
    assert.ok((await call(server, 'GET', '/projects', { as: { session: theirs } })).body.items.some((x: { id: string; role: string }) => x.id === p && x.role === 'member'));
    // Members see the member list but change nothing.
    assert.equal((await call(server, 'GET', `/projects/${p}/members`, { as: { session: theirs } })).status, 200);
    assert.ok(isProblem(await add({ email: 'newcomer@example.com', role: 'owner' }, theirs), 403, 'forbidden'));

    const role = (userId: string, r: string, as: Session = owner) => call(server, 'PATCH', `/projects/${p}/members/${userId}`, { as: { session: as }, json: { role: r } });
    assert.equal((await role(newcomer.id, 'owner')).body.role, 'owner');
    // Two owners: one may step down. With one owner left, it may not.
    const adminId = owner.userId;
    assert.equal((await role(adminId, 'member')).status, 200);
    assert.ok(isProblem(await role(newcomer.id, 'member'), 403, 'forbidden'), 'the admin is a member now');
    const last = await role(newcomer.id, 'member', theirs);
    assert.ok(isProblem(last, 409, 'conflict'), problemText(last));
    assert.match(last.body.detail, /last owner/);
    const removeLast = await call(server, 'DELETE', `/projects/${p}/members/${newcomer.id}`, { as: { session: theirs } });
    assert.ok(isProblem(removeLast, 409, 'conflict'), problemText(removeLast));
    // The newcomer (now the owner) restores the admin and removes itself.
    assert.equal((await call(server, 'PATCH', `/projects/${p}/members/${adminId}`, { as: { session: theirs }, json: { role: 'owner' } })).status, 200);
    assert.equal((await call(server, 'DELETE', `/projects/${p}/members/${newcomer.id}`, { as: { session: owner } })).status, 204);
    assert.ok(!(await members()).body.items.some((m: { email: string }) => m.email === 'newcomer@example.com'));
    assert.ok(isProblem(await call(server, 'DELETE', `/projects/${p}/members/${newcomer.id}`, { as: { session: owner } }), 404, 'not-found'));
    assert.equal((await call(server, 'GET', '/projects', { as: { session: theirs } })).body.items.some((x: { id: string }) => x.id === p), false);

    const audit = (await server.services.audit.list({ projectId: p, actions: ['project.member-added', 'project.member-role-changed', 'project.member-removed'], limit: 20 })).reverse();
    assert.deepEqual(audit.map((a) => [a.action, a.actor, a.detail]), [
      ['project.member-added', 'user:admin@localhost', 'newcomer@example.com as member'],
      ['project.member-role-changed', 'user:admin@localhost', 'newcomer@example.com: member -> owner'],
      ['project.member-role-changed', 'user:admin@localhost', 'admin@localhost: owner -> member'],
      ['project.member-role-changed', 'user:newcomer@example.com', 'admin@localhost: member -> owner'],
      ['project.member-removed', 'user:admin@localhost', 'newcomer@example.com (owner)'],
    ]);
    // Bearer tokens do not manage people.
    const { as } = await bearerToken(server, { permission: 'admin-rw' });
    assert.ok(isProblem(await call(server, 'GET', `/projects/${p}/members`, { as }), 403, 'forbidden'));
  });
});
