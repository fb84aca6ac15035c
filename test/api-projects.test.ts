import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, userSession, type Page, type Session } from './helpers/api.js';

// GET/POST /api/v1/projects and GET /api/v1/projects/{id}: sessions see their memberships,
// bearer tokens their own project; nobody sees a project they have no part in.

describe('REST API: projects', () => {
  let server: TestServer;
  let admin: Session;
  let projectId: string;
  before(async () => {
    server = await startTestServer();
    admin = await adminSession(server);
    projectId = server.bootstrap.projectId;
  });
  after(() => server.stop());

  test('a session lists its projects with its role', async () => {
    const r = await call(server, 'GET', '/projects', { as: { session: admin } });
    assert.equal(r.status, 200, problemText(r));
    assert.equal(r.body.items.length, 1);
    const p = r.body.items[0];
    assert.deepEqual(Object.keys(p).sort(), ['createdAt', 'id', 'maxTokenDays', 'name', 'role', 's3Endpoint']);
    assert.deepEqual({ id: p.id, name: p.name, role: p.role, maxTokenDays: p.maxTokenDays }, { id: projectId, name: 'default', role: 'owner', maxTokenDays: null });
    // Without a project domain, the endpoint is the server's (as the client reached it).
    assert.equal(p.s3Endpoint, server.url);
  });

  test('a bearer token lists exactly its own project, without a role', async () => {
    const r = await call(server, 'GET', '/projects', { as: rootBearer(server) });
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(r.body.items.map((p: { id: string }) => p.id), [projectId]);
    assert.equal(r.body.items[0].role, undefined);
  });

  test('without credentials: 401', async () => {
    assert.ok(isProblem(await call(server, 'GET', '/projects'), 401, 'unauthenticated'));
    assert.ok(isProblem(await call(server, 'GET', `/projects/${projectId}`), 401, 'unauthenticated'));
  });

  test('POST /projects makes the signed-in user its owner; other users do not see it', async () => {
    const r = await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: '  Team X ' } });
    assert.equal(r.status, 201, problemText(r));
    assert.equal(r.body.name, 'Team X');
    assert.equal(r.body.role, 'owner');
    const mine = await call(server, 'GET', '/projects', { as: { session: admin } });
    assert.ok(mine.body.items.some((p: { id: string; role: string }) => p.id === r.body.id && p.role === 'owner'));
    const other = await userSession(server, { projectId, role: 'member' });
    const theirs = await call(server, 'GET', '/projects', { as: { session: other } });
    assert.deepEqual(theirs.body.items.map((p: { id: string; role: string }) => [p.id, p.role]), [[projectId, 'member']]);
    assert.ok(isProblem(await call(server, 'GET', `/projects/${r.body.id}`, { as: { session: other } }), 403, 'forbidden'));
    const audit = await server.services.audit.list({ projectId: r.body.id, limit: 10 });
    assert.ok(audit.some((a) => a.action === 'project.created' && a.actor === 'user:admin@localhost'));
  });

  test('POST /projects: bearer tokens may not (403); the CSRF header is required (403); the body is validated', async () => {
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: rootBearer(server), json: { name: 'x' } }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: { session: admin, csrf: false }, json: { name: 'x' } }), 403, 'csrf'));
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: '' } }), 400, 'validation', 'name'));
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: 7 } }), 400, 'validation', 'name'));
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: 'x', owner: 'me' } }), 400, 'validation', 'owner'));
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: { session: admin }, json: ['x'] }), 400, 'validation'));
    assert.ok(isProblem(await call(server, 'POST', '/projects', { as: { session: admin }, raw: 'nope', headers: { 'content-type': 'application/json' } }), 400, 'validation', 'body'));
  });

  test('GET /projects/{id}: members (with role) and the project’s bearer tokens; others 403, unknown ids too', async () => {
    const s = await call(server, 'GET', `/projects/${projectId}`, { as: { session: admin } });
    assert.equal(s.status, 200);
    assert.equal(s.body.role, 'owner');
    const b = await call(server, 'GET', `/projects/${projectId}`, { as: rootBearer(server) });
    assert.equal(b.status, 200);
    assert.equal(b.body.role, undefined);
    assert.equal(b.body.id, projectId);
    const other = (await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: 'other' } })).body.id;
    assert.ok(isProblem(await call(server, 'GET', `/projects/${other}`, { as: rootBearer(server) }), 403, 'forbidden'));
    const stranger = await userSession(server);
    assert.ok(isProblem(await call(server, 'GET', `/projects/${projectId}`, { as: { session: stranger } }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'GET', '/projects/no-such-project', { as: { session: admin } }), 403, 'forbidden'));
  });

  test('any permission level may read its project', async () => {
    for (const permission of ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission, bucketScope: null });
      assert.equal((await call(server, 'GET', `/projects/${projectId}`, { as })).status, 200, permission);
    }
  });

  test('revoked, disabled and expired bearer tokens: 401', async () => {
    const revoked = await bearerToken(server, { permission: 'admin-rw' });
    await server.tokens.revoke(revoked.token.id, { actor: 'test' });
    const disabled = await bearerToken(server, { permission: 'admin-rw' });
    await server.tokens.disable(disabled.token.id, { actor: 'test' });
    const expiring = await bearerToken(server, { permission: 'admin-rw', expiresInDays: 1 });
    for (const as of [revoked.as, disabled.as]) {
      const r = await call(server, 'GET', '/projects', { as });
      assert.ok(isProblem(r, 401, 'unauthenticated'), problemText(r));
    }
    assert.equal((await call(server, 'GET', '/projects', { as: expiring.as })).status, 200);
    server.shiftClock(86_400_000 + 1000);
    try {
      assert.ok(isProblem(await call(server, 'GET', '/projects', { as: expiring.as }), 401, 'unauthenticated'));
    } finally {
      server.shiftClock(-(86_400_000 + 1000));
    }
    assert.ok(isProblem(await call(server, 'GET', '/projects', { as: { bearer: 'skep_v1_nope' } }), 401, 'unauthenticated'));
    const r = await call(server, 'GET', '/projects', { headers: { authorization: 'Basic YTpi' } });
    assert.ok(isProblem(r, 401, 'unauthenticated'), problemText(r));
  });

  test('paging: limit and cursor walk every project once, oldest first; the default page holds them all', async () => {
    const pager = await userSession(server);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await call(server, 'POST', '/projects', { as: { session: pager }, json: { name: `paged-${i}` } })).body.id);
    const all = await call(server, 'GET', '/projects', { as: { session: pager } });
    assert.equal(all.status, 200, problemText(all));
    assert.deepEqual(all.body.items.map((p: { id: string }) => p.id), made);
    assert.equal(all.body.nextCursor, null);
    const seen: string[] = [];
    let cursor = null as string | null;
    let pages = 0;
    do {
      const r = await call<Page<{ id: string; role: string }>>(server, 'GET', `/projects?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { as: { session: pager } });
      assert.equal(r.status, 200, problemText(r));
      assert.ok(r.body.items.length <= 2);
      assert.ok(r.body.items.every((p) => p.role === 'owner'));
      seen.push(...r.body.items.map((p) => p.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    assert.deepEqual(seen, made);
    assert.equal(pages, 3);
    // A bearer token's one project is a single, last page.
    const bearer = await call(server, 'GET', '/projects?limit=1', { as: rootBearer(server) });
    assert.deepEqual([bearer.body.items.length, bearer.body.nextCursor], [1, null]);
  });

  test('paging validation: a cursor this API made, limit 1..1000, no unknown query parameters', async () => {
    const as = { session: admin };
    for (const [q, field] of [['cursor=garbage', 'cursor'], ['cursor=', 'cursor'], ['cursor=WzEsMl0', 'cursor'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=x', 'limit'], ['limit=0x10', 'limit'], ['limit=1e2', 'limit'], ['limit=%201', 'limit'], ['limit=1.0', 'limit'], ['limit=', 'limit'], ['tokn=x', 'tokn']]) {
      const r = await call(server, 'GET', `/projects?${q}`, { as });
      assert.ok(isProblem(r, 400, 'validation', field), `${q}: ${problemText(r)}`);
    }
    // A limit is digits, leading zeros allowed.
    assert.equal((await call(server, 'GET', '/projects?limit=0010', { as })).status, 200);
    // However large, a limit past the maximum is told the maximum.
    for (const limit of ['1001', '99999999999999999999999', '9'.repeat(400)]) {
      const r = await call(server, 'GET', `/projects?limit=${limit}`, { as });
      assert.match(r.body.detail, /1000/, problemText(r));
    }
  });

  test('unknown API paths answer a 404 problem', async () => {
    assert.ok(isProblem(await call(server, 'GET', '/nope', { as: rootBearer(server) }), 404, 'not-found'));
  });

  test('a method a route path does not take answers 405 with Allow listing those it does (RFC 9110 §15.5.6)', async () => {
    const p = server.bootstrap.projectId;
    for (const [method, path, allow] of [
      ['PUT', '/projects', 'GET, HEAD, POST'],
      ['DELETE', `/projects/${p}`, 'GET, HEAD, PATCH'],
      ['POST', `/projects/${p}/buckets/b/objects/content?key=k`, 'GET, HEAD, PUT'],
      ['GET', `/projects/${p}/tokens/t/revoke`, 'POST'],
      ['PATCH', '/openapi.json', 'GET, HEAD'],
    ]) {
      for (const as of [rootBearer(server), undefined]) {
        const r = await call(server, method, path, { as });
        assert.ok(isProblem(r, 405, 'method-not-allowed'), `${method} ${path}: ${problemText(r)}`);
        assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
      }
    }
    // A path no route has is still 404, whatever the method.
    assert.ok(isProblem(await call(server, 'PUT', '/projects/x/nope', { as: rootBearer(server) }), 404, 'not-found'));
  });
});
