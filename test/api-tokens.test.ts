import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, userSession, type As, type Page, type Session } from './helpers/api.js';

// API tokens through the REST API: who may manage them, secrets shown once and never listed,
// the lifecycle actions, and that no caller hands out more than it has.

const TOKEN_VIEW_KEYS = [
  'accessKeyId', 'allowedNetworks', 'billing', 'bucketScope', 'createdAt', 'createdBy', 'description', 'disabledAt', 'expiresAt', 'id', 'lastUsedAt',
  'name', 'permission', 'permissionLabel', 'projectId', 'rateLimit', 'revokedAt', 'rotationDeadline', 'rotationPending', 'status',
].sort();

describe('REST API: tokens', () => {
  let server: TestServer;
  let p: string;
  let owner: Session;
  let member: Session;
  const tokens = `/projects/PID/tokens`;
  const path = (suffix = '') => tokens.replace('PID', p) + suffix;

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    owner = await adminSession(server);
    member = await userSession(server, { projectId: p, role: 'member' });
    for (const name of ['one', 'two']) await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name } });
  });
  after(() => server.stop());

  test('create: 201 with the view, credentials once, endpoint, region and ready-made snippets; the key pair works with S3', async () => {
    const r = await call(server, 'POST', path(), {
      as: { session: owner },
      json: { name: 'ci deploy', description: 'GitHub Actions', permission: 'object-rw', bucketScope: ['one'], expiresInDays: 30, billing: false },
    });
    assert.equal(r.status, 201, problemText(r));
    assert.deepEqual(Object.keys(r.body).sort(), ['credentials', 'endpoint', 'region', 'snippets', 'token']);
    assert.deepEqual(Object.keys(r.body.token).sort(), TOKEN_VIEW_KEYS);
    assert.equal(r.body.token.createdBy, 'user:admin@localhost');
    assert.equal(r.body.token.permissionLabel, 'Object Read & Write');
    assert.deepEqual(r.body.token.bucketScope, ['one']);
    assert.equal(r.body.endpoint, server.url);
    assert.equal(r.body.region, 'us-east-1');
    const { bearerToken: bearer, accessKeyId, secretAccessKey } = r.body.credentials;
    assert.match(bearer, /^skep_v1_/);
    for (const s of ['awsCli', 'rclone', 'boto3', 'jsSdk']) {
      assert.ok(r.body.snippets[s].includes(secretAccessKey), s);
      assert.ok(r.body.snippets[s].includes(server.url), s);
    }
    assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    const s3 = new S3Client({ endpoint: r.body.endpoint, region: r.body.region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    try {
      const buckets = await s3.send(new ListBucketsCommand({}));
      assert.deepEqual(buckets.Buckets?.map((b) => b.Name), ['one']);
    } finally {
      s3.destroy();
    }
    assert.equal((await call(server, 'GET', `/projects/${p}/buckets`, { as: { bearer } })).status, 200);
  });

  test('list and show never contain a secret', async () => {
    const created = await call(server, 'POST', path(), { as: { session: owner }, json: { name: 'quiet', permission: 'admin-ro', bucketScope: null } });
    const { bearerToken: bearer, secretAccessKey } = created.body.credentials;
    const list = await call(server, 'GET', path(), { as: { session: owner } });
    assert.equal(list.status, 200);
    assert.ok(list.body.items.length >= 3);
    for (const item of list.body.items) assert.deepEqual(Object.keys(item).sort(), TOKEN_VIEW_KEYS);
    const show = await call(server, 'GET', path(`/${created.body.token.id}`), { as: rootBearer(server) });
    assert.equal(show.status, 200);
    assert.deepEqual(show.body, { ...created.body.token, lastUsedAt: show.body.lastUsedAt });
    for (const r of [list, show]) {
      assert.ok(!r.text.includes(secretAccessKey));
      assert.ok(!r.text.includes(bearer));
      assert.ok(!r.text.includes(bearer.split('_').pop()!));
      assert.ok(!r.text.includes(server.bootstrap.issued!.secretAccessKey));
      assert.doesNotMatch(r.text, /"\w*(secret|ciphertext|hash|bearer)\w*"\s*:/i);
    }
  });

  test('who may manage: members and owners, admin-rw bearers; not other levels; not other projects', async () => {
    assert.equal((await call(server, 'GET', path(), { as: { session: member } })).status, 200);
    assert.equal((await call(server, 'GET', path(), { as: rootBearer(server) })).status, 200);
    for (const permission of ['admin-ro', 'object-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission, billing: true });
      assert.ok(isProblem(await call(server, 'GET', path(), { as }), 403, 'forbidden'), permission);
      assert.ok(isProblem(await call(server, 'POST', path(), { as, json: { name: 'x', permission: 'object-ro', bucketScope: null } }), 403, 'forbidden'), permission);
    }
    const stranger = await userSession(server);
    assert.ok(isProblem(await call(server, 'GET', path(), { as: { session: stranger } }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'GET', path()), 401, 'unauthenticated'));
  });

  test('no escalation: members create object tokens only; scoped bearers only within their scope; billing only from billing', async () => {
    const asMember: As = { session: member };
    assert.equal((await call(server, 'POST', path(), { as: asMember, json: { name: 'm1', permission: 'object-ro', bucketScope: null, billing: true } })).status, 201);
    const mAdmin = await call(server, 'POST', path(), { as: asMember, json: { name: 'm2', permission: 'admin-rw', bucketScope: null } });
    assert.ok(isProblem(mAdmin, 403, 'forbidden'), problemText(mAdmin));
    assert.ok(isProblem(await call(server, 'POST', path(), { as: asMember, json: { name: 'm3', permission: 'admin-ro', bucketScope: null } }), 403, 'forbidden'));

    const scoped = await bearerToken(server, { permission: 'admin-rw', bucketScope: ['one'] });
    assert.equal((await call(server, 'POST', path(), { as: scoped.as, json: { name: 's1', permission: 'object-rw', bucketScope: ['one'] } })).status, 201);
    assert.ok(isProblem(await call(server, 'POST', path(), { as: scoped.as, json: { name: 's2', permission: 'object-rw', bucketScope: null } }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'POST', path(), { as: scoped.as, json: { name: 's3', permission: 'object-rw', bucketScope: ['one', 'two'] } }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'POST', path(), { as: scoped.as, json: { name: 's4', permission: 'object-rw', bucketScope: ['one'], billing: true } }), 403, 'forbidden'));
    // …nor rotate (and so read the secrets of) a token with more power than itself.
    const root = server.bootstrap.issued!;
    const rootId = (await server.tokens.list(p)).find((t) => t.accessKeyId === root.accessKeyId)!.id;
    assert.ok(isProblem(await call(server, 'POST', path(`/${rootId}/rotate`), { as: scoped.as, json: {} }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'POST', path(`/${rootId}/rotate`), { as: asMember, json: {} }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'POST', path(`/${rootId}/revoke`), { as: asMember }), 403, 'forbidden'));
  });

  test('create validation: unknown field, wrong types, bad level, unknown bucket, expiry range', async () => {
    const as: As = { session: owner };
    const cases: [unknown, string][] = [
      [{ name: 'x', permission: 'object-ro', bucketScope: null, admin: true }, 'admin'],
      [{ name: 5, permission: 'object-ro', bucketScope: null }, 'name'],
      [{ name: 'x', permission: 'root', bucketScope: null }, 'permission'],
      [{ name: 'x', permission: 'object-ro', bucketScope: 'one' }, 'bucketScope'],
      [{ name: 'x', permission: 'object-ro', bucketScope: [] }, 'bucketScope'],
      [{ name: 'x', permission: 'object-ro', bucketScope: ['nope'] }, 'bucketScope'],
      [{ name: 'x', permission: 'object-ro', bucketScope: [3] }, 'bucketScope.0'],
      [{ name: 'x', permission: 'object-ro', bucketScope: null, expiresInDays: 0 }, 'expiresInDays'],
      [{ name: 'x', permission: 'object-ro', bucketScope: null, expiresInDays: 366 }, 'expiresInDays'],
      [{ name: 'x', permission: 'object-ro', bucketScope: null, expiresInDays: 1.5 }, 'expiresInDays'],
      [{ name: 'x', permission: 'object-ro', bucketScope: null, billing: 'yes' }, 'billing'],
      [{ name: 'x', permission: 'object-ro' }, 'bucketScope'],
      [{ name: '   ', permission: 'object-ro', bucketScope: null }, 'name'],
      // The overlap check compares every pair of entries: a scope is bounded.
      [{ name: 'x', permission: 'object-ro', bucketScope: Array.from({ length: 1001 }, (_, i) => `one/p${i}/`) }, 'bucketScope'],
      [{ name: 'x', permission: 'object-ro', bucketScope: null, allowedNetworks: Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`) }, 'allowedNetworks'],
    ];
    for (const [json, field] of cases) {
      const r = await call(server, 'POST', path(), { as, json });
      assert.ok(isProblem(r, 400, 'validation', field), `${JSON.stringify(json)}: ${problemText(r)}`);
    }
    // The limits are the services' own, worded for the console's form.
    const long = await call(server, 'POST', path(), { as, json: { name: 'x', permission: 'object-ro', bucketScope: Array.from({ length: 1001 }, (_, i) => `one/p${i}/`) } });
    assert.equal(long.body.detail, 'A bucket scope holds at most 1000 entries.');
    const many = await call(server, 'POST', path(), { as, json: { name: 'x', permission: 'object-ro', bucketScope: null, allowedNetworks: Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`) } });
    assert.equal(many.body.detail, 'At most 100 addresses or networks.');
  });

  test('disable, enable, rotate (both secrets work in the grace), confirm-rotation, revoke', async () => {
    const as: As = { session: owner };
    const created = await call(server, 'POST', path(), { as, json: { name: 'cycle', permission: 'object-ro', bucketScope: null } });
    const id = created.body.token.id;
    const oldBearer: As = { bearer: created.body.credentials.bearerToken };
    const projectsOf = (who: As) => call(server, 'GET', '/projects', { as: who }).then((r) => r.status);

    const disabled = await call(server, 'POST', path(`/${id}/disable`), { as });
    assert.equal(disabled.status, 200, problemText(disabled));
    assert.equal(disabled.body.status, 'disabled');
    assert.equal(await projectsOf(oldBearer), 401);
    const enabled = await call(server, 'POST', path(`/${id}/enable`), { as });
    assert.equal(enabled.body.status, 'active');
    assert.equal(await projectsOf(oldBearer), 200);

    const rotated = await call(server, 'POST', path(`/${id}/rotate`), { as, json: { graceDays: 2 } });
    assert.equal(rotated.status, 200, problemText(rotated));
    assert.equal(rotated.body.token.rotationPending, true);
    assert.equal(rotated.body.credentials.accessKeyId, created.body.credentials.accessKeyId);
    assert.notEqual(rotated.body.credentials.secretAccessKey, created.body.credentials.secretAccessKey);
    const newBearer: As = { bearer: rotated.body.credentials.bearerToken };
    assert.equal(await projectsOf(oldBearer), 200);
    assert.equal(await projectsOf(newBearer), 200);
    const confirmed = await call(server, 'POST', path(`/${id}/confirm-rotation`), { as });
    assert.equal(confirmed.body.rotationPending, false);
    assert.equal(await projectsOf(oldBearer), 401);
    assert.equal(await projectsOf(newBearer), 200);
    assert.ok(isProblem(await call(server, 'POST', path(`/${id}/confirm-rotation`), { as }), 409, 'conflict'));

    // rotate without a body uses the default grace
    const again = await call(server, 'POST', path(`/${id}/rotate`), { as });
    assert.equal(again.status, 200, problemText(again));
    assert.ok(isProblem(await call(server, 'POST', path(`/${id}/rotate`), { as, json: { graceDays: 31 } }), 400, 'validation', 'graceDays'));
    assert.ok(isProblem(await call(server, 'POST', path(`/${id}/rotate`), { as, json: { grace: 1 } }), 400, 'validation', 'grace'));

    const revoked = await call(server, 'POST', path(`/${id}/revoke`), { as });
    assert.equal(revoked.body.status, 'revoked');
    assert.equal(await projectsOf({ bearer: again.body.credentials.bearerToken }), 401);
    assert.ok(isProblem(await call(server, 'POST', path(`/${id}/enable`), { as }), 409, 'conflict'));
    assert.ok(isProblem(await call(server, 'POST', path(`/${id}/rotate`), { as }), 409, 'conflict'));
    assert.ok(isProblem(await call(server, 'POST', path(`/nope/revoke`), { as }), 404, 'not-found'));

    const audit = await server.services.audit.list({ tokenId: id, limit: 20 });
    // (auth.failed events for the disabled and confirmed-away credentials come in between)
    assert.deepEqual(
      audit.filter((a) => a.action.startsWith('token.')).map((a) => a.action).reverse(),
      ['token.created', 'token.disabled', 'token.enabled', 'token.rotated', 'token.rotation-confirmed', 'token.rotated', 'token.revoked'],
    );
    assert.ok(audit.filter((a) => a.action.startsWith('token.')).every((a) => a.actor === 'user:admin@localhost'));
  });

  test('a bearer token cannot create a token that outlives it: 422 naming the limit; its default shrinks to fit', async () => {
    const parent = await bearerToken(server, { permission: 'admin-rw', expiresInDays: 1 });
    const create = (json: Record<string, unknown>) =>
      call(server, 'POST', path(), { as: parent.as, json: { name: 'child', permission: 'object-ro', bucketScope: null, ...json } });
    const long = await create({ expiresInDays: 365 });
    assert.ok(isProblem(long, 422, 'limit-exceeded', 'expiresInDays'), problemText(long));
    assert.match(long.body.detail, new RegExp(`expires at ${parent.token.expiresAt}.*cannot create tokens`));
    assert.ok(isProblem(await create({}), 422, 'limit-exceeded', 'expiresInDays'), 'a 1-day token has less than a day left: none at all');
    // A 10-day token hands out at most 9 whole days (a moment has passed since it was made).
    const ten = await bearerToken(server, { permission: 'admin-rw', expiresInDays: 10 });
    const nine = await call(server, 'POST', path(), { as: ten.as, json: { name: 'c9', permission: 'object-ro', bucketScope: null, expiresInDays: 9 } });
    assert.equal(nine.status, 201, problemText(nine));
    const over = await call(server, 'POST', path(), { as: ten.as, json: { name: 'c10', permission: 'object-ro', bucketScope: null, expiresInDays: 10 } });
    assert.ok(isProblem(over, 422, 'limit-exceeded', 'expiresInDays'));
    assert.match(over.body.detail, /may last at most 9 days \(asked for 10\)/);
    const dflt = await call(server, 'POST', path(), { as: ten.as, json: { name: 'cd', permission: 'object-ro', bucketScope: null } });
    assert.equal(dflt.status, 201, problemText(dflt));
    assert.ok(Date.parse(dflt.body.token.expiresAt) <= Date.parse(ten.token.expiresAt!));
    // Created by the token, in the one actor format.
    assert.equal(dflt.body.token.createdBy, `token:${ten.token.id}`);
    // A console user has no expiry: the project's limits alone apply.
    assert.equal((await call(server, 'POST', path(), { as: { session: owner }, json: { name: 'long', permission: 'object-ro', bucketScope: null, expiresInDays: 365 } })).status, 201);
  });

  test('rotating while a rotation is pending is 409 naming it; the first old secret keeps its grace', async () => {
    const created = await call(server, 'POST', path(), { as: { session: owner }, json: { name: 'twice', permission: 'object-ro', bucketScope: null, expiresInDays: 5 } });
    const id = created.body.token.id;
    const first = await call(server, 'POST', path(`/${id}/rotate`), { as: { session: owner }, json: { graceDays: 30 } });
    assert.equal(first.status, 200, problemText(first));
    // The grace ends with the token: 5 days, not 30.
    assert.equal(first.body.token.rotationDeadline, first.body.token.expiresAt);
    const second = await call(server, 'POST', path(`/${id}/rotate`), { as: { session: owner } });
    assert.ok(isProblem(second, 409, 'conflict'), problemText(second));
    assert.match(second.body.detail, new RegExp(`rotation of this token is pending: its previous secret works until ${first.body.token.rotationDeadline}`));
    const old = await call(server, 'GET', '/projects', { as: { bearer: created.body.credentials.bearerToken } });
    assert.equal(old.status, 200, 'the first secret still works');
    assert.equal((await call(server, 'POST', path(`/${id}/confirm-rotation`), { as: { session: owner } })).status, 200);
    assert.equal((await call(server, 'POST', path(`/${id}/rotate`), { as: { session: owner } })).status, 200);
  });

  test('token ids of another project are not found through this project', async () => {
    const other = (await call(server, 'POST', '/projects', { as: { session: owner }, json: { name: 'other' } })).body.id;
    const made = await call(server, 'POST', `/projects/${other}/tokens`, { as: { session: owner }, json: { name: 'o', permission: 'object-ro', bucketScope: null } });
    assert.equal(made.status, 201, problemText(made));
    assert.ok(isProblem(await call(server, 'GET', path(`/${made.body.token.id}`), { as: { session: owner } }), 404, 'not-found'));
    assert.ok(isProblem(await call(server, 'POST', path(`/${made.body.token.id}/revoke`), { as: { session: owner } }), 404, 'not-found'));
  });

  test('list paging: limit and cursor walk every token once, newest first; bad cursors are 400', async () => {
    const as: As = { session: owner };
    for (let i = 0; i < 4; i++) await call(server, 'POST', path(), { as, json: { name: `paged-${i}`, permission: 'object-ro', bucketScope: null } });
    const all = await call(server, 'GET', path(), { as });
    assert.equal(all.body.nextCursor, null);
    const ids = all.body.items.map((t: { id: string }) => t.id);
    assert.ok(ids.length >= 6);
    const times = all.body.items.map((t: { createdAt: string }) => Date.parse(t.createdAt));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
    const seen: string[] = [];
    let cursor = null as string | null;
    let pages = 0;
    do {
      const r = await call<Page<{ id: string }>>(server, 'GET', path(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), { as: rootBearer(server) });
      assert.equal(r.status, 200, problemText(r));
      assert.ok(r.body.items.length <= 2);
      for (const item of r.body.items) assert.deepEqual(Object.keys(item).sort(), TOKEN_VIEW_KEYS);
      seen.push(...r.body.items.map((t) => t.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    assert.deepEqual(seen, ids);
    assert.equal(pages, Math.ceil(ids.length / 2));
    for (const [q, field] of [['cursor=zzz', 'cursor'], ['cursor=WyJhIiwiYiJd', 'cursor'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['tokn=x', 'tokn']]) {
      const r = await call(server, 'GET', path(`?${q}`), { as });
      assert.ok(isProblem(r, 400, 'validation', field), `${q}: ${problemText(r)}`);
    }
  });

  test('session state changes need the CSRF header', async () => {
    const r = await call(server, 'POST', path(), { as: { session: owner, csrf: false }, json: { name: 'x', permission: 'object-ro', bucketScope: null } });
    assert.ok(isProblem(r, 403, 'csrf'), problemText(r));
  });
});

describe('REST API: what a bearer token hands out never outlives it', () => {
  let server: TestServer;
  let p: string;
  const HOUR_MS = 3_600_000;
  const path = (suffix = '') => `/projects/${p}/tokens${suffix}`;
  const bootstrapId = async () => (await server.tokens.list(p)).find((t) => t.name === 'bootstrap')!.id;

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
  });
  after(() => server.stop());

  test('a token does not rotate a token that outlives it (and so hold its new secret): 422 as for creating one', async () => {
    const sooner = await bearerToken(server, { permission: 'object-ro', expiresInDays: 1 });
    const short = await bearerToken(server, { permission: 'admin-rw', expiresInDays: 1, billing: true });
    const long = await bearerToken(server, { permission: 'object-ro', bucketScope: null, expiresInDays: 365 });
    for (const id of [long.token.id, await bootstrapId()]) {
      const r = await call(server, 'POST', path(`/${id}/rotate`), { as: short.as, json: { graceDays: 0 } });
      assert.ok(isProblem(r, 422, 'limit-exceeded'), problemText(r));
      assert.match(r.body.detail, new RegExp(`cannot rotate a token that outlives it.*expires at ${short.token.expiresAt}`));
      assert.equal((await server.tokens.show(id)).rotationPending, false, 'nothing rotated');
    }
    assert.equal((await call(server, 'GET', '/projects', { as: long.as })).status, 200, "the long token's secret still works");
    // A token ending no later than the caller's, and the caller itself, rotate as before.
    const r = await call(server, 'POST', path(`/${sooner.token.id}/rotate`), { as: short.as, json: { graceDays: 0 } });
    assert.equal(r.status, 200, problemText(r));
    assert.equal((await call(server, 'POST', path(`/${short.token.id}/rotate`), { as: short.as, json: { graceDays: 1 } })).status, 200);
    // A console user is no token: the owner rotates the long one.
    const owner = await adminSession(server);
    assert.equal((await call(server, 'POST', path(`/${long.token.id}/rotate`), { as: { session: owner }, json: {} })).status, 200);
  });

  test("temporary credentials a token makes of another token end by its expiry: 422 past it; the default shrinks to fit", async () => {
    const short = await bearerToken(server, { permission: 'admin-rw', expiresInDays: 1 });
    const long = await bearerToken(server, { permission: 'object-ro', bucketScope: null, expiresInDays: 365 });
    const temporary = (json: Record<string, unknown>) => call(server, 'POST', path(`/${long.token.id}/temporary-credentials`), { as: short.as, json });
    server.shiftClock(23 * HOUR_MS);
    try {
      const over = await temporary({ durationSeconds: 43_200 });
      assert.ok(isProblem(over, 422, 'limit-exceeded', 'durationSeconds'), problemText(over));
      assert.match(over.body.detail, new RegExp(`never outlive the token that makes them.*expires at ${short.token.expiresAt}, so they may last at most \\d+ s \\(asked for 43200\\)`));
      assert.equal((await call(server, 'GET', path(`/${long.token.id}/temporary-credentials`), { as: short.as })).body.items.length, 0, 'nothing issued');
      const within = await temporary({ durationSeconds: 1800 });
      assert.equal(within.status, 201, problemText(within));
      const dflt = await temporary({});
      assert.equal(dflt.status, 201, problemText(dflt));
      assert.ok(Date.parse(dflt.body.credentials.expiration) <= Date.parse(short.token.expiresAt!), dflt.body.credentials.expiration);
      server.shiftClock(50 * 60_000);
      const late = await temporary({});
      assert.ok(isProblem(late, 422, 'limit-exceeded', 'durationSeconds'), problemText(late));
      assert.match(late.body.detail, /in less than 15 minutes/);
      // The long token's own credentials, and the owner's for it, are bounded by it alone.
      const own = await call(server, 'POST', path(`/${long.token.id}/temporary-credentials`), { as: long.as, json: { durationSeconds: 43_200 } });
      assert.equal(own.status, 201, problemText(own));
      const owner = await adminSession(server);
      assert.equal((await call(server, 'POST', path(`/${long.token.id}/temporary-credentials`), { as: { session: owner }, json: { durationSeconds: 43_200 } })).status, 201);
    } finally {
      server.shiftClock(-(23 * HOUR_MS + 50 * 60_000));
    }
  });
});

describe('REST API: a bearer token sees and changes only the tokens it could have created', () => {
  let server: TestServer;
  let p: string;
  const path = (suffix = '') => `/projects/${p}/tokens${suffix}`;
  const listed = async (as: As) => {
    const r = await call<Page<{ id: string }>>(server, 'GET', path(), { as });
    assert.equal(r.status, 200, problemText(r));
    return r.body.items.map((t) => t.id);
  };

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    for (const name of ['one', 'two']) await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name } });
  });
  after(() => server.stop());

  test('a bucket- or prefix-scoped token lists and shows only tokens within its scope and powers; other tokens are 403', async () => {
    const scoped = await bearerToken(server, { permission: 'admin-rw', bucketScope: ['one'], expiresInDays: 30 });
    const within = await bearerToken(server, { permission: 'object-rw', bucketScope: ['one/logs/'], expiresInDays: 10 });
    const other = await bearerToken(server, { permission: 'object-ro', bucketScope: ['two'], expiresInDays: 10 });
    const all = await bearerToken(server, { permission: 'object-ro', bucketScope: null, expiresInDays: 10 });
    const prefixed = await bearerToken(server, { permission: 'admin-rw', bucketScope: ['one/logs/'], expiresInDays: 30 });
    const bootstrap = (await server.tokens.list(p)).find((t) => t.name === 'bootstrap')!.id;

    const seen = await listed(scoped.as);
    for (const t of [scoped, within, prefixed]) assert.ok(seen.includes(t.token.id), t.token.bucketScope?.join());
    for (const id of [other.token.id, all.token.id, bootstrap]) assert.ok(!seen.includes(id), id);
    assert.deepEqual((await listed(prefixed.as)).sort(), [prefixed.token.id, within.token.id].sort());

    assert.equal((await call(server, 'GET', path(`/${within.token.id}`), { as: scoped.as })).status, 200);
    for (const id of [other.token.id, all.token.id, bootstrap]) {
      const r = await call(server, 'GET', path(`/${id}`), { as: scoped.as });
      assert.ok(isProblem(r, 403, 'forbidden'), problemText(r));
      assert.doesNotMatch(r.text, /two|bucketScope/, 'nothing of what it may reach');
    }
    // The root token and console users see every token, as before.
    const everyone = [scoped, within, other, all, prefixed].map((t) => t.token.id).concat(bootstrap);
    for (const as of [rootBearer(server), { session: await userSession(server, { projectId: p, role: 'member' }) }]) {
      const ids = await listed(as);
      for (const id of everyone) assert.ok(ids.includes(id), id);
    }
  });

  test('disable, enable, revoke, rotate: 403 for a wider token, 422 for one that outlives the caller; nothing changes', async () => {
    const scoped = await bearerToken(server, { permission: 'admin-rw', bucketScope: ['one'], expiresInDays: 30 });
    const other = await bearerToken(server, { permission: 'object-ro', bucketScope: ['two'], expiresInDays: 10 });
    const all = await bearerToken(server, { permission: 'object-ro', bucketScope: null, expiresInDays: 10 });
    const longer = await bearerToken(server, { permission: 'object-ro', bucketScope: ['one'], expiresInDays: 365 });
    const shorter = await bearerToken(server, { permission: 'object-ro', bucketScope: ['one'], expiresInDays: 10 });
    const act = (id: string, action: string, as: As = scoped.as) => call(server, 'POST', path(`/${id}/${action}`), { as, json: action === 'rotate' ? {} : undefined });

    for (const t of [other, all]) {
      for (const action of ['disable', 'revoke', 'rotate']) assert.ok(isProblem(await act(t.token.id, action), 403, 'forbidden'), `${action} ${t.token.bucketScope}`);
    }
    // A token disabled by an owner is not enabled again by a narrower token.
    assert.equal((await act(other.token.id, 'disable', { session: await adminSession(server) })).status, 200);
    assert.ok(isProblem(await act(other.token.id, 'enable'), 403, 'forbidden'));

    for (const action of ['disable', 'enable', 'revoke', 'rotate', 'confirm-rotation']) {
      const r = await act(longer.token.id, action);
      assert.ok(isProblem(r, 422, 'limit-exceeded'), `${action}: ${problemText(r)}`);
      assert.match(r.body.detail, new RegExp(`cannot ${action} a token that outlives it.*expires at ${scoped.token.expiresAt}, this one at ${longer.token.expiresAt}`));
    }
    const all365 = await bearerToken(server, { permission: 'object-ro', bucketScope: null, expiresInDays: 365 });
    const short = await bearerToken(server, { permission: 'admin-rw', bucketScope: null, expiresInDays: 1 });
    assert.ok(isProblem(await act(all365.token.id, 'disable', short.as), 422, 'limit-exceeded'));
    assert.ok((await listed(short.as)).includes(all365.token.id), 'a token it cannot change is still listed');
    for (const id of [longer.token.id, all.token.id, all365.token.id]) assert.equal((await server.tokens.show(id)).status, 'active');
    assert.equal((await server.tokens.show(other.token.id)).status, 'disabled');

    // Tokens it could have created, and itself, it changes as before.
    for (const action of ['disable', 'enable', 'rotate', 'confirm-rotation', 'revoke']) {
      const r = await act(shorter.token.id, action);
      assert.equal(r.status, 200, `${action}: ${problemText(r)}`);
    }
    assert.equal((await act(scoped.token.id, 'rotate')).status, 200);
    assert.equal((await act(longer.token.id, 'disable', { session: await adminSession(server) })).status, 200);
  });
});
