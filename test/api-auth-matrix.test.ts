import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, type As, type Session } from './helpers/api.js';

// Every route of the served OpenAPI document, called the ways that must fail, with the exact
// status and problem type. The route list is read from /api/v1/openapi.json, so a new route is
// covered the day it is declared.

interface Operation {
  tags?: string[];
  security: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
}

interface Route {
  method: string;
  /** The documented path, e.g. /api/v1/projects/{projectId}. */
  template: string;
  op: Operation;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const name = (r: Route) => `${r.method} ${r.template}`;
const takesJson = (r: Route) => r.op.requestBody?.content['application/json'] !== undefined;

describe('REST API: every route, called without the right credentials', () => {
  let server: TestServer;
  let routes: Route[];
  let p: string;
  let admin: Session;
  let victimId: string;
  let foreignTokenId: string;
  let foreignAdmin: As;

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    admin = await adminSession(server);
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'matrix' } })).status, 201);
    victimId = (await bearerToken(server, { permission: 'object-ro' })).token.id;
    const other = await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: 'elsewhere' } });
    assert.equal(other.status, 201, problemText(other));
    foreignAdmin = (await bearerToken(server, { permission: 'admin-rw', billing: true, projectId: other.body.id })).as;
    foreignTokenId = (await bearerToken(server, { permission: 'object-ro', projectId: other.body.id })).token.id;

    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, Operation>> };
    routes = Object.entries(doc.paths).flatMap(([template, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((m) => ({ method: m.toUpperCase(), template, op: item[m] })),
    );
    assert.ok(routes.length >= 27, `only ${routes.length} routes`);
  });
  after(() => server.stop());

  /** The route's URL under /api/v1 with real path parameters (tokenId: a token of this project). */
  const url = (r: Route, tokenId = victimId) =>
    r.template
      .replace(/^\/api\/v1/, '')
      .replace('{projectId}', p)
      .replace('{bucket}', 'matrix')
      .replace('{tokenId}', tokenId)
      .replace('{slug}', 'validation');

  test('(a) without credentials: 401 unauthenticated on every route that declares security; the open ones answer', async () => {
    const open: string[] = [];
    for (const r of routes) {
      const reply = await call(server, r.method, url(r));
      if (r.op.security.length === 0) {
        open.push(name(r));
        assert.notEqual(reply.status, 401, `${name(r)} is open: ${problemText(reply)}`);
        continue;
      }
      assert.ok(isProblem(reply, 401, 'unauthenticated'), `${name(r)}: ${problemText(reply)}`);
      // RFC 9110 §15.5.2: a 401 names the scheme to authenticate with (Bearer: no browser prompt).
      assert.equal(reply.headers.get('www-authenticate'), 'Bearer realm="skep"', name(r));
    }
    assert.deepEqual(open.sort(), ['GET /api/v1/openapi.json', 'GET /api/v1/problems/{slug}', 'POST /api/v1/session']);
  });

  test('(b) a session without the CSRF header: 403 csrf on every unsafe method; safe methods never ask for it', async () => {
    let unsafe = 0;
    for (const r of routes) {
      const reply = await call(server, r.method, url(r), { as: { session: admin, csrf: false } });
      if (SAFE.has(r.method)) {
        assert.notEqual(reply.body?.type, '/api/v1/problems/csrf', `${name(r)}: ${problemText(reply)}`);
        continue;
      }
      // Signing in is the one unsafe route open to anyone; an old cookie sent with it is ignored.
      if (r.op.security.length === 0) continue;
      unsafe++;
      assert.ok(
        r.op.security.every((s) => !('session' in s) || 'csrf' in s),
        `${name(r)}: the document must require csrf with the session`,
      );
      assert.ok(isProblem(reply, 403, 'csrf'), `${name(r)}: ${problemText(reply)}`);
      // The wrong session's token is no better than none.
      const wrong = await call(server, r.method, url(r), { as: { session: admin, csrf: 'x'.repeat(admin.csrf.length) } });
      assert.ok(isProblem(wrong, 403, 'csrf'), `${name(r)} wrong token: ${problemText(wrong)}`);
    }
    assert.ok(unsafe >= 13, `only ${unsafe} unsafe routes`);
  });

  test('(c) malformed JSON: 400 validation with field "body" on every route that takes a JSON body', async () => {
    const json = routes.filter(takesJson);
    assert.ok(json.length >= 6, json.map(name).join(', '));
    for (const r of json) {
      const reply = await call(server, r.method, url(r), { as: { session: admin }, raw: '{"name": ', headers: { 'content-type': 'application/json' } });
      assert.ok(isProblem(reply, 400, 'validation', 'body'), `${name(r)}: ${problemText(reply)}`);
    }
  });

  test('(d) unknown query parameters: 400 validation naming the parameter, on every route', async () => {
    for (const r of routes) {
      const path = url(r);
      const reply = await call(server, r.method, `${path}${path.includes('?') ? '&' : '?'}tokn=x`, { as: { session: admin } });
      assert.ok(isProblem(reply, 400, 'validation', 'tokn'), `${name(r)}: ${problemText(reply)}`);
    }
  });

  describe('(e) token management', () => {
    const tokenRoutes = () => routes.filter((r) => r.op.tags?.includes('tokens'));
    /** A body that passes validation, so that the decision under test is the one reached. */
    const body = (r: Route): unknown =>
      !takesJson(r) ? undefined : r.template.endsWith('/rotate') ? {} : { name: 'escalate', permission: 'object-ro', bucketScope: null };

    test('the token routes are exactly list, create, show, disable, enable, revoke, rotate, confirm-rotation and temporary credentials', () => {
      const base = '/api/v1/projects/{projectId}/tokens';
      assert.deepEqual(
        tokenRoutes().map(name).sort(),
        [
          `GET ${base}`, `POST ${base}`, `GET ${base}/{tokenId}`, `POST ${base}/{tokenId}/disable`, `POST ${base}/{tokenId}/enable`,
          `POST ${base}/{tokenId}/revoke`, `POST ${base}/{tokenId}/rotate`, `POST ${base}/{tokenId}/confirm-rotation`,
          `GET ${base}/{tokenId}/temporary-credentials`, `POST ${base}/{tokenId}/temporary-credentials`,
          `POST ${base}/{tokenId}/temporary-credentials/{credentialId}/revoke`,
        ].sort(),
      );
    });

    test('admin-ro, object-rw and object-ro bearers: 403 forbidden on each', async () => {
      for (const permission of ['admin-ro', 'object-rw', 'object-ro']) {
        const { as } = await bearerToken(server, { permission, billing: true });
        for (const r of tokenRoutes()) {
          const reply = await call(server, r.method, url(r), { as, json: body(r) });
          assert.ok(isProblem(reply, 403, 'forbidden'), `${permission} ${name(r)}: ${problemText(reply)}`);
        }
      }
    });

    test("another project's admin-rw bearer: 403 forbidden on each (projects it has no part in)", async () => {
      for (const r of tokenRoutes()) {
        const reply = await call(server, r.method, url(r), { as: foreignAdmin, json: body(r) });
        assert.ok(isProblem(reply, 403, 'forbidden'), `${name(r)}: ${problemText(reply)}`);
      }
    });

    test("another project's token id through this project, by this project's admin: 404 not-found", async () => {
      const byId = tokenRoutes().filter((r) => r.template.includes('{tokenId}'));
      assert.equal(byId.length, 9);
      for (const r of byId) {
        const reply = await call(server, r.method, url(r, foreignTokenId), { as: rootBearer(server), json: body(r) });
        assert.ok(isProblem(reply, 404, 'not-found'), `${name(r)}: ${problemText(reply)}`);
      }
    });

    test('none of the refused calls changed a token', async () => {
      const victim = await server.tokens.show(victimId, p);
      assert.deepEqual([victim.status, victim.rotationPending], ['active', false]);
      const foreign = await server.tokens.show(foreignTokenId);
      assert.deepEqual([foreign.status, foreign.rotationPending], ['active', false]);
      assert.ok(!(await server.tokens.list(p)).some((t) => t.name === 'escalate'));
    });
  });
});
