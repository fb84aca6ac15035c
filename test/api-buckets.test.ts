import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateMultipartUploadCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, userSession, type As, type Page } from './helpers/api.js';

// Buckets through the REST API: each permission level and bucket scope decided by authorize(),
// the same as for S3; list filtering; delete with and without force.

describe('REST API: buckets', () => {
  let server: TestServer;
  let p: string;
  const root = () => rootBearer(server);
  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    for (const name of ['alpha', 'beta', 'gamma']) {
      const r = await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name } });
      assert.equal(r.status, 201, problemText(r));
    }
    await server.client().send(new PutObjectCommand({ Bucket: 'alpha', Key: 'one.txt', Body: 'hello' }));
    await server.client().send(new PutObjectCommand({ Bucket: 'alpha', Key: 'two.txt', Body: 'hello world' }));
  });
  after(() => server.stop());

  test('list: every bucket with region, creation time, object count and bytes', async () => {
    const r = await call(server, 'GET', `/projects/${p}/buckets`, { as: root() });
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(r.body.items.map((b: { name: string }) => b.name), ['alpha', 'beta', 'gamma']);
    const alpha = r.body.items[0];
    assert.deepEqual(Object.keys(alpha).sort(), ['bytes', 'createdAt', 'deleteMarkers', 'name', 'noncurrentBytes', 'noncurrentVersions', 'objects', 'region']);
    assert.equal(alpha.objects, 2);
    assert.equal(alpha.bytes, 16);
    assert.equal(alpha.region, 'us-east-1');
  });

  test('list: a bucket-scoped token sees only its buckets, for every level', async () => {
    for (const permission of ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission, bucketScope: ['beta', 'gamma'] });
      const r = await call(server, 'GET', `/projects/${p}/buckets`, { as });
      assert.equal(r.status, 200, problemText(r));
      assert.deepEqual(r.body.items.map((b: { name: string }) => b.name), ['beta', 'gamma'], permission);
    }
  });

  test('list paging: limit and cursor walk every visible bucket once, by name, also for a scoped token', async () => {
    const walk = async (as: As, limit: number) => {
      const seen: string[] = [];
      let cursor = null as string | null;
      let pages = 0;
      do {
        const r = await call<Page<{ name: string }>>(server, 'GET', `/projects/${p}/buckets?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { as });
        assert.equal(r.status, 200, problemText(r));
        assert.ok(r.body.items.length <= limit);
        seen.push(...r.body.items.map((b) => b.name));
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      return { seen, pages };
    };
    const all = await call(server, 'GET', `/projects/${p}/buckets`, { as: root() });
    assert.equal(all.body.nextCursor, null);
    const names = all.body.items.map((b: { name: string }) => b.name);
    assert.deepEqual(await walk(root(), 2), { seen: names, pages: Math.ceil(names.length / 2) });
    const scoped = await bearerToken(server, { permission: 'object-ro', bucketScope: ['gamma', 'alpha'] });
    assert.deepEqual(await walk(scoped.as, 1), { seen: ['alpha', 'gamma'], pages: 2 });
    const page = await call(server, 'GET', `/projects/${p}/buckets?limit=1`, { as: root() });
    assert.deepEqual(Object.keys(page.body.items[0]).sort(), ['bytes', 'createdAt', 'deleteMarkers', 'name', 'noncurrentBytes', 'noncurrentVersions', 'objects', 'region']);
  });

  test('list paging validation: a bad cursor or limit, an unknown query parameter: 400 naming it', async () => {
    for (const [q, field] of [['cursor=nope', 'cursor'], ['cursor=WzFd', 'cursor'], ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limt=5', 'limt']]) {
      const r = await call(server, 'GET', `/projects/${p}/buckets?${q}`, { as: root() });
      assert.ok(isProblem(r, 400, 'validation', field), `${q}: ${problemText(r)}`);
    }
  });

  test('create: admin-rw tokens, owners; not admin-ro, object tokens, members; not outside the scope', async () => {
    const cases: [string, As, number][] = [
      ['admin-rw', (await bearerToken(server, { permission: 'admin-rw' })).as, 201],
      ['admin-ro', (await bearerToken(server, { permission: 'admin-ro' })).as, 403],
      ['object-rw', (await bearerToken(server, { permission: 'object-rw' })).as, 403],
      ['object-ro', (await bearerToken(server, { permission: 'object-ro' })).as, 403],
      ['admin-rw scoped', (await bearerToken(server, { permission: 'admin-rw', bucketScope: ['alpha'] })).as, 403],
      ['owner', { session: await adminSession(server) }, 201],
      ['member', { session: await userSession(server, { projectId: p, role: 'member' }) }, 403],
    ];
    let n = 0;
    for (const [who, as, status] of cases) {
      const r = await call(server, 'POST', `/projects/${p}/buckets`, { as, json: { name: `made-${++n}` } });
      assert.equal(r.status, status, `${who}: ${problemText(r)}`);
      if (status === 201) assert.deepEqual(r.body, { name: `made-${n}`, region: 'us-east-1', createdAt: r.body.createdAt, objects: 0, bytes: 0, noncurrentVersions: 0, noncurrentBytes: 0, deleteMarkers: 0 });
      else assert.ok(isProblem(r, 403, 'forbidden'), who);
    }
  });

  test('create: a taken name is a 409 conflict; a bad name a 400 naming the field', async () => {
    const dup = await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: 'alpha' } });
    assert.ok(isProblem(dup, 409, 'conflict'), problemText(dup));
    const bad = await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: 'Bad_Name' } });
    assert.ok(isProblem(bad, 400, 'validation', 'name'), problemText(bad));
    const type = await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: ['x'] } });
    assert.ok(isProblem(type, 400, 'validation', 'name'), problemText(type));
    const extra = await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: 'ok-name', region: 'eu' } });
    assert.ok(isProblem(extra, 400, 'validation', 'region'), problemText(extra));
  });

  test('show: configuration readers and object tokens (probe) of the bucket; scope applies; missing is 404', async () => {
    for (const permission of ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission, bucketScope: ['alpha'] });
      const r = await call(server, 'GET', `/projects/${p}/buckets/alpha`, { as });
      assert.equal(r.status, 200, `${permission}: ${problemText(r)}`);
      assert.deepEqual({ ...r.body, createdAt: 'x' }, { name: 'alpha', region: 'us-east-1', createdAt: 'x', objects: 2, bytes: 16, noncurrentVersions: 0, noncurrentBytes: 0, deleteMarkers: 0, versioning: 'Disabled', objectLock: false, encryption: null });
      assert.ok(isProblem(await call(server, 'GET', `/projects/${p}/buckets/beta`, { as }), 403, 'forbidden'), permission);
    }
    assert.ok(isProblem(await call(server, 'GET', `/projects/${p}/buckets/nope`, { as: root() }), 404, 'not-found'));
  });

  test('delete: refused for non-admin levels; 409 while objects remain; 204 when empty', async () => {
    await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: 'to-delete' } });
    for (const permission of ['admin-ro', 'object-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission });
      assert.ok(isProblem(await call(server, 'DELETE', `/projects/${p}/buckets/to-delete`, { as }), 403, 'forbidden'), permission);
    }
    const busy = await call(server, 'DELETE', `/projects/${p}/buckets/alpha`, { as: root() });
    assert.ok(isProblem(busy, 409, 'conflict'), problemText(busy));
    assert.equal((await call(server, 'DELETE', `/projects/${p}/buckets/to-delete`, { as: root() })).status, 204);
    assert.ok(isProblem(await call(server, 'DELETE', `/projects/${p}/buckets/to-delete`, { as: root() }), 404, 'not-found'));
    assert.ok(isProblem(await call(server, 'DELETE', `/projects/${p}/buckets/alpha?force=yes`, { as: root() }), 400, 'validation', 'force'));
    // A misspelt parameter is refused rather than ignored (which would delete without force).
    const typo = await call(server, 'DELETE', `/projects/${p}/buckets/alpha?forse=true`, { as: root() });
    assert.ok(isProblem(typo, 400, 'validation', 'forse'), problemText(typo));
  });

  test('delete with force=true removes every object and multipart upload first', async () => {
    await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: 'full' } });
    const s3 = server.client();
    for (let i = 0; i < 30; i++) await s3.send(new PutObjectCommand({ Bucket: 'full', Key: `k/${i}`, Body: `v${i}` }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'full', Key: 'pending' }));
    const owner = { session: await adminSession(server) };
    assert.ok(isProblem(await call(server, 'DELETE', `/projects/${p}/buckets/full`, { as: owner }), 409, 'conflict'));
    const r = await call(server, 'DELETE', `/projects/${p}/buckets/full?force=true`, { as: owner });
    assert.equal(r.status, 204, problemText(r));
    const list = await call(server, 'GET', `/projects/${p}/buckets`, { as: root() });
    assert.ok(!list.body.items.some((b: { name: string }) => b.name === 'full'));
  });

  test('another project’s bucket routes: 403 for a bearer of this project', async () => {
    const admin = await adminSession(server);
    const other = (await call(server, 'POST', '/projects', { as: { session: admin }, json: { name: 'second' } })).body.id;
    assert.equal((await call(server, 'POST', `/projects/${other}/buckets`, { as: { session: admin }, json: { name: 'alpha' } })).status, 201);
    assert.ok(isProblem(await call(server, 'GET', `/projects/${other}/buckets`, { as: root() }), 403, 'forbidden'));
    assert.ok(isProblem(await call(server, 'GET', `/projects/${other}/buckets/alpha`, { as: root() }), 403, 'forbidden'));
  });
});
