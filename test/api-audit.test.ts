import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';
import type { AuditRow } from '../src/storage/metadata/metadata-store.js';
import { AUDIT_ACTIONS } from '../src/audit/actions.js';
import { CreateBucketCommand, DeleteBucketCommand, DeleteBucketCorsCommand, DeleteBucketTaggingCommand, PutBucketCorsCommand, PutBucketPolicyCommand, PutBucketTaggingCommand, PutPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, signIn, userSession, type As } from './helpers/api.js';

// GET /api/v1/projects/{id}/audit: owners and admin-rw tokens read their project's log, newest
// first, in pages that a cursor walks without gaps or repeats.

describe('REST API: audit', () => {
  let server: TestServer;
  let p: string;
  const audit = (as: As, q = '') => call(server, 'GET', `/projects/${p}/audit${q}`, { as });

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    for (let i = 0; i < 7; i++) await bearerToken(server, { permission: 'object-ro' });
  });
  after(() => server.stop());

  test('owner sessions and admin-rw bearers read it; members, other levels and strangers do not', async () => {
    const owner = await adminSession(server);
    const r = await audit({ session: owner });
    assert.equal(r.status, 200, problemText(r));
    assert.equal((await audit(rootBearer(server))).status, 200);
    const member = await userSession(server, { projectId: p, role: 'member' });
    assert.ok(isProblem(await audit({ session: member }), 403, 'forbidden'));
    for (const permission of ['admin-ro', 'object-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission, billing: true });
      assert.ok(isProblem(await audit(as), 403, 'forbidden'), permission);
    }
    assert.ok(isProblem(await audit({ session: await userSession(server) }), 403, 'forbidden'));
    assert.ok(isProblem(await audit(undefined), 401, 'unauthenticated'));
  });

  test('an admin-rw token scoped to some buckets or prefixes reads neither the log nor its export: it names every bucket', async () => {
    await server.client().send(new CreateBucketCommand({ Bucket: 'scoped-audit' }));
    for (const bucketScope of [['scoped-audit'], ['scoped-audit/uploads/']]) {
      const { as } = await bearerToken(server, { permission: 'admin-rw', bucketScope });
      const r = await audit(as, '?bucket=scoped-audit');
      assert.ok(isProblem(r, 403, 'forbidden'), problemText(r));
      assert.match(r.body.detail, /only a token of all buckets reads it/);
      assert.ok(isProblem(await call(server, 'GET', `/projects/${p}/audit/export?format=json`, { as }), 403, 'forbidden'), bucketScope[0]);
    }
    const { as } = await bearerToken(server, { permission: 'admin-rw', bucketScope: null });
    assert.equal((await audit(as)).status, 200);
  });

  test('rows are the project’s, newest first, with ISO times and no secrets', async () => {
    const r = await audit(rootBearer(server), '?limit=1000');
    assert.ok(r.body.items.length >= 8);
    const first = r.body.items[0];
    assert.deepEqual(Object.keys(first).sort(), ['action', 'actor', 'at', 'bucket', 'detail', 'id', 'projectId', 'source', 'tokenId']);
    assert.ok(r.body.items.every((row: { projectId: string }) => row.projectId === p));
    const times = r.body.items.map((row: { at: string }) => Date.parse(row.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
    assert.ok(r.body.items.some((row: { action: string; actor: string }) => row.action === 'token.created' && row.actor === 'bootstrap'));
    assert.equal(r.body.nextCursor, null);
    assert.ok(!r.text.includes(server.bootstrap.issued!.secretAccessKey));
  });

  test('paging with limit and cursor visits every row once', async () => {
    const all = (await audit(rootBearer(server), '?limit=1000')).body.items.map((row: { id: string }) => row.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 50; i++) {
      const r = await audit(rootBearer(server), `?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, problemText(r));
      assert.ok(r.body.items.length <= 3);
      seen.push(...r.body.items.map((row: { id: string }) => row.id));
      cursor = r.body.nextCursor;
      if (!cursor) break;
    }
    // New rows may be appended at the top meanwhile (reads are not audited), so compare the walk.
    assert.deepEqual(seen, all);
  });

  test('validation: limit 1..1000, a cursor this API made, no unknown query parameters', async () => {
    assert.ok(isProblem(await audit(rootBearer(server), '?limit=0'), 400, 'validation', 'limit'));
    assert.ok(isProblem(await audit(rootBearer(server), '?limit=1001'), 400, 'validation', 'limit'));
    assert.ok(isProblem(await audit(rootBearer(server), '?cursor=garbage'), 400, 'validation', 'cursor'));
    assert.ok(isProblem(await audit(rootBearer(server), '?limit=5&tokn=x'), 400, 'validation', 'tokn'));
  });
});

describe('REST API: what is audited, filters and export', () => {
  let server: TestServer;
  let p: string;
  const root = () => rootBearer(server);
  const audit = (q = '') => call(server, 'GET', `/projects/${p}/audit${q}`, { as: root() });
  let rootTokenId: string;

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    rootTokenId = (await server.tokens.list(p)).find((t) => t.name === 'bootstrap')!.id;
  });
  after(() => server.stop());

  test('bucket create, delete and force delete (REST and S3), object deletes and presigned URLs name the actor and the bucket', async () => {
    const owner = await adminSession(server);
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: { session: owner }, json: { name: 'rest-bucket' } })).status, 201);
    await call(server, 'PUT', `/projects/${p}/buckets/rest-bucket/objects/content?key=a.txt`, { as: { session: owner }, raw: 'a' });
    await call(server, 'PUT', `/projects/${p}/buckets/rest-bucket/objects/content?key=b.txt`, { as: { session: owner }, raw: 'b' });
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets/rest-bucket/presign`, { as: { session: owner }, json: { key: 'a.txt', method: 'GET', expiresIn: 600 } })).status, 200);
    assert.equal((await call(server, 'DELETE', `/projects/${p}/buckets/rest-bucket/objects?key=a.txt`, { as: { session: owner } })).status, 204);
    assert.equal((await call(server, 'DELETE', `/projects/${p}/buckets/rest-bucket?force=true`, { as: { session: owner } })).status, 204);
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 's3-bucket' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 's3-bucket' }));

    const rows = (await audit('?limit=1000')).body.items as AuditItem[];
    const find = (action: string, bucket: string) => rows.filter((r) => r.action === action && r.bucket === bucket);
    const user = 'user:admin@localhost';
    assert.deepEqual(find('bucket.created', 'rest-bucket').map((r) => [r.actor, r.source]), [[user, '127.0.0.1']]);
    assert.match(find('object.presigned', 'rest-bucket')[0].detail!, /^GET a\.txt until \d{4}-/);
    assert.equal(find('object.presigned', 'rest-bucket')[0].actor, user);
    assert.deepEqual(find('object.deleted', 'rest-bucket').map((r) => [r.actor, r.detail]), [[user, 'a.txt']]);
    assert.deepEqual(find('bucket.deleted', 'rest-bucket').map((r) => [r.actor, r.detail]), [[user, 'force: 1 object and 0 uploads removed']]);
    assert.deepEqual(find('bucket.created', 's3-bucket').map((r) => [r.actor, r.tokenId]), [[`token:${rootTokenId}`, null]]);
    assert.deepEqual(find('bucket.deleted', 's3-bucket').map((r) => [r.actor, r.source]), [[`token:${rootTokenId}`, '127.0.0.1']]);
  });

  test('a sign-in is in the log of every project of the user, with the role', async () => {
    const other = (await server.services.projects.create('second')).id;
    const user = await server.services.users.createUser({ email: 'two@example.com', password: 'two-projects-pass', createdBy: 'test' });
    await server.services.users.addMember(p, user.id, 'member');
    await server.services.users.addMember(other, user.id, 'owner');
    await signIn(server, 'two@example.com', 'two-projects-pass');
    const events = await server.services.audit.list({ actor: 'user:two@example.com', actions: ['user.signed-in'], limit: 10 });
    assert.deepEqual(events.map((e) => [e.projectId, e.detail, e.source]).sort(), [[other, 'role: owner', '127.0.0.1'], [p, 'role: member', '127.0.0.1']].sort());
    // So the project's own log (owners read it) shows who signed in with access to it.
    const inProject = (await audit('?action=user.signed-in&limit=1000')).body.items as AuditItem[];
    assert.ok(inProject.some((r) => r.actor === 'user:two@example.com'));
  });

  test('bucket configuration changes go through one audited call, the setting named in the detail', async () => {
    const bucket = await server.services.buckets.create(p, 'configured', 'us-east-1', { actor: 'cli:op' });
    await server.services.buckets.putSetting(bucket, 'versioning', JSON.stringify({ status: 'Enabled' }), { actor: `token:${rootTokenId}`, source: '10.0.0.5' }, 'Enabled');
    await server.services.buckets.putSetting(bucket, 'cors', null, { actor: 'user:admin@localhost' });
    assert.equal((await server.meta.getBucketSettings(bucket.id)).versioning, '{"status":"Enabled"}');
    const rows = (await audit('?bucket=configured&action=bucket.config-changed')).body.items as AuditItem[];
    assert.deepEqual(rows.map((r) => [r.actor, r.source, r.detail]), [
      ['user:admin@localhost', null, 'cors: removed'],
      [`token:${rootTokenId}`, '10.0.0.5', 'versioning: Enabled'],
    ]);
  });

  test('S3 configuration writes (CORS, public access block, policy, tags) are audited with the signer and the change', async () => {
    const s3 = server.client();
    const Bucket = 's3-configured';
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['*'] }] } }));
    await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false } }));
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*` }] };
    await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(policy) }));
    await s3.send(new DeleteBucketCorsCommand({ Bucket }));
    await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'team', Value: 'web' }, { Key: 'env', Value: 'prod' }] } }));
    await s3.send(new DeleteBucketTaggingCommand({ Bucket }));
    const rows = (await audit(`?bucket=${Bucket}&action=bucket.config-changed`)).body.items as AuditItem[];
    assert.deepEqual(rows.map((r) => [r.actor, r.detail]), [
      [`token:${rootTokenId}`, 'tagging: removed'],
      [`token:${rootTokenId}`, 'tagging: 2 tags'],
      [`token:${rootTokenId}`, 'cors: removed'],
      [`token:${rootTokenId}`, 'policy: public'],
      [`token:${rootTokenId}`, 'public-access-block: BlockPublicAcls, IgnorePublicAcls'],
      [`token:${rootTokenId}`, 'cors: 1 rule'],
    ]);
    assert.ok(rows.every((r) => r.source === '127.0.0.1'));
  });

  test('filters: actor, action (several), token, bucket and a time range; paging keeps the filter', async () => {
    const byActor = (await audit(`?actor=${encodeURIComponent('user:admin@localhost')}&limit=1000`)).body.items as AuditItem[];
    assert.ok(byActor.length >= 4 && byActor.every((r) => r.actor === 'user:admin@localhost'));
    // Every action the log records may be asked for (lifecycle's and the governance bypass too); no other.
    for (const action of AUDIT_ACTIONS) assert.equal((await audit(`?action=${action}&limit=1`)).status, 200, action);
    for (const bad of ['token.nope', 'bogus.thing']) assert.ok(isProblem(await audit(`?action=${bad}`), 400, 'validation'), bad);
    const two = (await audit('?action=bucket.created,bucket.deleted&limit=1000')).body.items as AuditItem[];
    assert.ok(two.length >= 4 && two.every((r) => r.action === 'bucket.created' || r.action === 'bucket.deleted'));
    const token = (await audit(`?token=${rootTokenId}`)).body.items as AuditItem[];
    assert.ok(token.length >= 1 && token.every((r) => r.tokenId === rootTokenId));
    const bucket = (await audit('?bucket=rest-bucket')).body.items as AuditItem[];
    assert.deepEqual([...new Set(bucket.map((r) => r.action))].sort(), ['bucket.created', 'bucket.deleted', 'object.deleted', 'object.presigned']);
    const all = (await audit('?limit=1000')).body.items as AuditItem[];
    const middle = all[Math.floor(all.length / 2)];
    const newer = (await audit(`?from=${encodeURIComponent(middle.at)}&limit=1000`)).body.items as AuditItem[];
    const older = (await audit(`?to=${encodeURIComponent(middle.at)}&limit=1000`)).body.items as AuditItem[];
    assert.equal(newer.length + older.length, all.length);
    assert.ok(newer.every((r) => r.at >= middle.at) && older.every((r) => r.at < middle.at));
    // A filtered walk by cursor sees each filtered row once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await audit(`?action=bucket.created,bucket.deleted&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...r.body.items.map((x: AuditItem) => x.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, two.map((r) => r.id));
    assert.ok(isProblem(await audit('?action=nonsense'), 400, 'validation', 'action'));
    assert.ok(isProblem(await audit('?from=yesterday'), 400, 'validation', 'from'));
  });

  test('export: the whole filtered log as CSV (one event a line, spreadsheet-safe) or JSON, as a download', async () => {
    const csv = await call(server, 'GET', `/projects/${p}/audit/export?format=csv&bucket=rest-bucket`, { as: root() });
    assert.equal(csv.status, 200, csv.text);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="audit-.*\.csv"$/);
    const lines = csv.text.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,at,action,actor,tokenId,projectId,bucket,source,detail');
    const fromApi = (await audit('?bucket=rest-bucket&limit=1000')).body.items as AuditItem[];
    assert.equal(lines.length - 1, fromApi.length);
    assert.ok(lines.slice(1).every((l) => l.includes(',rest-bucket,')));
    const json = await call(server, 'GET', `/projects/${p}/audit/export?format=json&actor=${encodeURIComponent('user:admin@localhost')}`, { as: root() });
    assert.equal(json.status, 200);
    assert.ok(Array.isArray(json.body) && json.body.length >= 4 && json.body.every((r: AuditItem) => r.actor === 'user:admin@localhost'));
    const none = await call(server, 'GET', `/projects/${p}/audit/export?format=json&bucket=no-such-bucket`, { as: root() });
    assert.deepEqual(none.body, []);
    // Spreadsheet formulas in text a stranger chose are defused.
    await server.services.audit.record({ action: 'auth.failed', actor: 'anonymous', projectId: p, detail: '=HYPERLINK("http://evil")' });
    const evil = await call(server, 'GET', `/projects/${p}/audit/export?format=csv&action=auth.failed`, { as: root() });
    assert.match(evil.text, /,"'=HYPERLINK\(""http:\/\/evil""\)"\r\n/);
    // Same rules as the log: owners and admin-rw bearers only.
    const { as } = await bearerToken(server, { permission: 'admin-ro' });
    assert.ok(isProblem(await call(server, 'GET', `/projects/${p}/audit/export`, { as }), 403, 'forbidden'));
  });

  test('events past the retention period are pruned', async () => {
    await server.services.audit.record({ action: 'token.created', actor: 'cli:old', projectId: p, detail: 'old' });
    server.shiftClock(40 * 86_400_000);
    try {
      await server.services.audit.record({ action: 'token.created', actor: 'cli:new', projectId: p, detail: 'new' });
      assert.ok((await server.services.audit.prune(30)) >= 1);
      const left = await server.services.audit.list({ projectId: p, limit: 1000 });
      assert.ok(left.some((r) => r.actor === 'cli:new'));
      assert.ok(!left.some((r) => r.actor === 'cli:old'));
    } finally {
      server.shiftClock(-40 * 86_400_000);
    }
  });
});

/** An audit row as the API sends it. */
type AuditItem = Omit<AuditRow, 'at'> & { at: string };
