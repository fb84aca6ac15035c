import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, PutBucketLifecycleConfigurationCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from './helpers/server.js';
import { readThenHangUp } from './helpers/partial-transfers.js';
import { skep, waitFor } from './helpers/tokens.js';
import { LifecycleWorker } from '../src/lifecycle/lifecycle-worker.js';
import { adminSession, bearerToken, call, isProblem, problemText, rootBearer, userSession, type As } from './helpers/api.js';

// GET /api/v1/projects/{id}/usage: request and byte counters from S3 (and API) traffic, written
// in batches; stored bytes and objects; who may read it; filters and validation.

const today = () => new Date().toISOString().slice(0, 10);

describe('REST API: usage', () => {
  let server: TestServer;
  let p: string;
  let s3: S3Client;
  let tokenId: string;
  let billing: As;
  const usage = (as: As, q = '') => call(server, 'GET', `/projects/${p}/usage${q}`, { as });

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'metered' } });
    await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'quiet' } });
    const t = await bearerToken(server, { permission: 'object-rw', billing: true });
    billing = t.as;
    tokenId = t.token.id;
    s3 = server.client({ credentials: { accessKeyId: t.credentials.accessKeyId, secretAccessKey: t.credentials.secretAccessKey } });
    await server.services.usage.flush();
  });
  after(() => server.stop());

  test('S3 requests show up per kind, with bytes in and out, once flushed; stored bytes and objects are current', async () => {
    const body = 'x'.repeat(1000);
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'a', Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: 'metered', Key: 'b', Body: body.slice(0, 500) }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'a' }));
    assert.equal((await got.Body!.transformToString()).length, 1000);
    await s3.send(new HeadObjectCommand({ Bucket: 'metered', Key: 'a' }));
    await s3.send(new ListObjectsV2Command({ Bucket: 'metered' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'metered', Key: 'b' }));
    await new Promise((r) => setTimeout(r, 50)); // a response is counted just after it is written
    // Counting is in memory until a flush; the report flushes this node's counts first.
    await server.services.usage.flush();
    const r = await usage(billing, `?bucket=metered&token=${tokenId}`);
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(Object.keys(r.body).sort(), ['buckets', 'current', 'days']);
    assert.equal(r.body.days.length, 30);
    const day = r.body.days[r.body.days.length - 1];
    assert.equal(day.date, today());
    assert.deepEqual(day.requests, { read: 2, write: 2, list: 1, delete: 1, other: 0 });
    assert.equal(day.bytesIn, 1500);
    assert.ok(day.bytesOut >= 1000, `bytesOut ${day.bytesOut}`);
    assert.deepEqual(r.body.buckets, [{ name: 'metered', bytes: 1000, objects: 1, noncurrentVersions: 0, noncurrentBytes: 0 }]);
    assert.deepEqual(r.body.current, { bytes: 1000, objects: 1 });
    // Earlier days are there, with zeros.
    assert.deepEqual(r.body.days[0].requests, { read: 0, write: 0, list: 0, delete: 0, other: 0 });
  });

  test('bytes out are what was sent: a download abandoned part way counts what went out before it was cut', async () => {
    const MiB = 1024 * 1024;
    await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name: 'cut-short' } });
    await s3.send(new PutObjectCommand({ Bucket: 'cut-short', Key: 'big', Body: randomBytes(48 * MiB) }));
    const bytesOut = async () => {
      const r = await usage(billing, `?bucket=cut-short&token=${tokenId}`);
      assert.equal(r.status, 200, problemText(r));
      return r.body.days[r.body.days.length - 1].bytesOut as number;
    };
    assert.equal(await bytesOut(), 0);
    // Through S3 (a presigned URL), then through the REST API (as the console downloads).
    await readThenHangUp(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'cut-short', Key: 'big' }), { expiresIn: 600 }), MiB);
    await waitFor('the cut S3 download to be counted', async () => (await bytesOut()) > 0);
    const viaS3 = await bytesOut();
    assert.ok(viaS3 >= MiB && viaS3 < 24 * MiB, `S3: counted ${viaS3} bytes`);
    const bearer = (billing as { bearer: string }).bearer;
    await readThenHangUp(`${server.url}/api/v1/projects/${p}/buckets/cut-short/objects/content?key=big`, MiB, { authorization: `Bearer ${bearer}` });
    await waitFor('the cut API download to be counted', async () => (await bytesOut()) > viaS3);
    const viaApi = (await bytesOut()) - viaS3;
    assert.ok(viaApi >= MiB && viaApi < 24 * MiB, `REST API: counted ${viaApi} bytes`);
    await s3.send(new DeleteObjectCommand({ Bucket: 'cut-short', Key: 'big' }));
    assert.equal((await call(server, 'DELETE', `/projects/${p}/buckets/cut-short`, { as: rootBearer(server) })).status, 204);
  });

  test('the counters live in the database, not only in memory', async () => {
    await s3.send(new GetObjectCommand({ Bucket: 'metered', Key: 'a' })).then((o) => o.Body!.transformToString());
    // The server counts a request once its response is written, which may be just after the client has it all.
    let rows = [] as Awaited<ReturnType<typeof server.meta.usageByDay>>;
    for (let i = 0; i < 50 && rows[0]?.requestsRead !== 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await server.services.usage.flush();
      rows = await server.meta.usageByDay({ projectId: p, from: today(), to: today(), bucket: 'metered', tokenId });
    }
    assert.equal(rows.length, 1);
    assert.equal(rows[0].requestsRead, 3);
  });

  test('API requests count too (sessions under no token)', async () => {
    const owner = await adminSession(server);
    const put = await call(server, 'PUT', `/projects/${p}/buckets/quiet/objects/content?key=k`, { as: { session: owner }, raw: 'twelve bytes' });
    assert.equal(put.status, 200);
    assert.equal((await call(server, 'GET', `/projects/${p}/buckets/quiet/objects/content?key=k`, { as: { session: owner } })).status, 200);
    // Bytes out are every body sent, as /metrics counts them: the download's 12 and the upload's JSON reply.
    const expectedOut = 12 + Buffer.byteLength(put.text);
    // `token=` (empty) selects console-session requests; a request counts once its response is written.
    let r = await usage({ session: owner }, `?bucket=quiet&token=&from=${today()}&to=${today()}`);
    for (let i = 0; i < 50 && r.body.days[0]?.bytesOut !== expectedOut; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      r = await usage({ session: owner }, `?bucket=quiet&token=&from=${today()}&to=${today()}`);
    }
    assert.equal(r.status, 200, problemText(r));
    const [day] = r.body.days;
    assert.equal(day.requests.write, 1);
    assert.equal(day.requests.read, 1);
    assert.equal(day.bytesIn, 12);
    assert.equal(day.bytesOut, expectedOut);
  });

  test('a request naming a bucket that does not exist counts for the project, under no bucket of that name', async () => {
    const tokens = async (q = '') => {
      await server.services.usage.flush();
      const r = await call(server, 'GET', `/projects/${p}/usage/tokens?from=${today()}&to=${today()}${q}`, { as: billing });
      assert.equal(r.status, 200, problemText(r));
      return r.body.tokens as { tokenId: string; requests: Record<string, number> }[];
    };
    const total = async () => Object.values((await tokens()).find((t) => t.tokenId === tokenId)?.requests ?? {}).reduce((a, b) => a + b, 0);
    const before = await total();
    const phantom = `phantom-${process.pid}`;
    assert.equal((await call(server, 'GET', `/projects/${p}/buckets/${phantom}/objects`, { as: billing })).status, 404);
    let after = await total();
    for (let i = 0; i < 50 && after < before + 2; i++) after = await total();
    assert.ok(after >= before + 2, 'the 404 (and the report read before it) counted for the token');
    assert.deepEqual(await tokens(`&bucket=${phantom}`), [], 'no traffic filed under the made-up name');
  });

  test('an upload refused before its body is read counts no bytes in, whatever its Content-Length declares', async () => {
    const owner = await adminSession(server);
    const bytesIn = async () => {
      await new Promise((r) => setTimeout(r, 50));
      const [day] = (await usage({ session: owner }, `?bucket=quiet&from=${today()}&to=${today()}`)).body.days;
      return day.bytesIn as number;
    };
    const before = await bytesIn();
    const reader = await bearerToken(server, { permission: 'object-ro' });
    const forbidden = await call(server, 'PUT', `/projects/${p}/buckets/quiet/objects/content?key=no`, { as: reader.as, raw: 'x'.repeat(1000) });
    assert.ok(isProblem(forbidden, 403, 'forbidden'), problemText(forbidden));
    // 6 GiB declared, past the API's 5 GiB: refused on its headers alone, no byte sent.
    const status = await headersOnly(server, `/api/v1/projects/${p}/buckets/quiet/objects/content?key=huge`, {
      authorization: `Bearer ${(rootBearer(server) as { bearer: string }).bearer}`,
      'content-type': 'application/octet-stream',
      'content-length': String(6 * 1024 ** 3),
    });
    assert.equal(status, 400);
    assert.equal(await bytesIn(), before);
  });

  test("the console's own page loads are not the user's requests; its uploads, downloads and deletes are", async () => {
    const owner = await adminSession(server);
    const { as, token } = await bearerToken(server, { permission: 'admin-rw', billing: true });
    await call(server, 'POST', `/projects/${p}/buckets`, { as, json: { name: 'pages' } });
    await server.services.usage.flush({ all: true });
    const counts = async (q: string) => {
      await server.services.usage.flush({ all: true });
      const [day] = (await usage({ session: owner }, `?bucket=pages&${q}&from=${today()}&to=${today()}`)).body.days;
      return day.requests;
    };
    const before = { session: await counts('token='), bearer: await counts(`token=${token.id}`) };
    // What the console fetches to draw its pages, as a signed-in user.
    for (const path of [`/projects/${p}/buckets`, `/projects/${p}/buckets/pages`, `/projects/${p}/buckets/pages/objects`, `/projects/${p}/usage?bucket=pages`]) {
      assert.equal((await call(server, 'GET', path, { as: { session: owner } })).status, 200, path);
    }
    assert.deepEqual(await counts('token='), before.session, 'page loads are not counted');
    // The same listing with a bearer token is an API client's request, and counts.
    assert.equal((await call(server, 'GET', `/projects/${p}/buckets/pages/objects`, { as })).status, 200);
    assert.equal((await counts(`token=${token.id}`)).list, before.bearer.list + 1);
    // What the user does through the console counts.
    await call(server, 'PUT', `/projects/${p}/buckets/pages/objects/content?key=k`, { as: { session: owner }, raw: 'x' });
    await call(server, 'GET', `/projects/${p}/buckets/pages/objects/content?key=k`, { as: { session: owner } });
    await call(server, 'DELETE', `/projects/${p}/buckets/pages/objects?key=k`, { as: { session: owner } });
    const after = await counts('token=');
    assert.deepEqual([after.write, after.read, after.delete], [before.session.write + 1, before.session.read + 1, before.session.delete + 1]);
  });

  test('who may read: members and owners, bearer tokens with billing; not without billing; not other projects', async () => {
    const member = await userSession(server, { projectId: p, role: 'member' });
    assert.equal((await usage({ session: member })).status, 200);
    assert.equal((await usage(rootBearer(server))).status, 200);
    for (const permission of ['admin-rw', 'object-ro']) {
      const { as } = await bearerToken(server, { permission, billing: false });
      assert.ok(isProblem(await usage(as), 403, 'forbidden'), permission);
    }
    const stranger = await userSession(server);
    assert.ok(isProblem(await usage({ session: stranger }), 403, 'forbidden'));
    assert.ok(isProblem(await usage(undefined), 401, 'unauthenticated'));
  });

  test('date range: explicit days, zero-filled; validation of from/to', async () => {
    const r = await usage(billing, '?from=2024-02-27&to=2024-03-02');
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(r.body.days.map((d: { date: string }) => d.date), ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02']);
    assert.ok(isProblem(await usage(billing, '?from=2024-13-01'), 400, 'validation', 'from'));
    assert.ok(isProblem(await usage(billing, '?from=yesterday'), 400, 'validation', 'from'));
    assert.ok(isProblem(await usage(billing, '?from=2024-03-02&to=2024-03-01'), 400, 'validation', 'from'));
    assert.ok(isProblem(await usage(billing, '?from=2020-01-01&to=2024-01-01'), 400, 'validation', 'from'));
    assert.ok(isProblem(await usage(billing, '?to=2024-02-30'), 400, 'validation', 'to'));
  });
});

describe('REST API: stored bytes and objects per day', () => {
  const DAY_MS = 86_400_000;
  let server: TestServer;
  let p: string;
  let start: number;
  let shifted = 0;
  const root = () => rootBearer(server);
  const day = (n: number) => new Date(start + n * DAY_MS).toISOString().slice(0, 10);
  const usage = (q: string) => call(server, 'GET', `/projects/${p}/usage${q}`, { as: root() });
  const put = async (bucket: string, key: string, size: number) => {
    const r = await call(server, 'PUT', `/projects/${p}/buckets/${bucket}/objects/content?key=${key}`, { as: root(), raw: 'x'.repeat(size) });
    assert.equal(r.status, 200, problemText(r));
  };
  /**
   * Lets the server count the last responses, then writes counters and snapshots (all of them: a
   * timed flush may leave a bucket measured moments ago for later; that pacing has its own test).
   */
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 50));
    await server.services.usage.flush({ all: true });
  };
  /** Moves the server to day n (from the day the test started). */
  const toDay = (n: number) => {
    server.shiftClock(n * DAY_MS - shifted);
    shifted = n * DAY_MS;
  };
  type Day = { date: string; storedBytes: number | null; objects: number | null };
  const stored = (days: Day[]) => days.map((d) => [d.date, d.storedBytes, d.objects]);

  before(async () => {
    server = await startTestServer();
    p = server.bootstrap.projectId;
    start = Date.now();
    for (const name of ['alpha', 'beta']) assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name } })).status, 201);

    // Day 0: alpha gets 1000 bytes.
    await put('alpha', 'a', 1000);
    await settle();
    // Day 1: alpha gets two more objects (the last possibly after that day's snapshot), beta one.
    toDay(1);
    await put('alpha', 'b', 500);
    await put('beta', 'x', 200);
    await settle();
    await put('alpha', 'c', 100);
    await new Promise((r) => setTimeout(r, 50));
    // Day 3 (today): the first flush records day 1's last change under day 1; then alpha loses "a".
    toDay(3);
    await server.services.usage.flush();
    assert.equal((await call(server, 'DELETE', `/projects/${p}/buckets/alpha/objects?key=a`, { as: root() })).status, 204);
    await settle();
  });
  after(() => server.stop());

  test('the project: each day its last figure, quiet days carried forward, today live, 0 before the buckets existed, null after today', async () => {
    const r = await usage(`?from=${day(-1)}&to=${day(4)}`);
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(stored(r.body.days), [
      [day(-1), 0, 0],
      [day(0), 1000, 1],
      [day(1), 1800, 4],
      [day(2), 1800, 4],
      [day(3), 800, 3],
      [day(4), null, null],
    ]);
    assert.deepEqual(r.body.current, { bytes: 800, objects: 3 });
    // Request counters are unchanged by this: day 1 had three writes.
    assert.equal(r.body.days[2].requests.write, 3);
  });

  test('one bucket: only its figures; unknown between its creation and its first figure', async () => {
    const alpha = await usage(`?bucket=alpha&from=${day(-1)}&to=${day(3)}`);
    assert.equal(alpha.status, 200, problemText(alpha));
    assert.deepEqual(stored(alpha.body.days), [
      [day(-1), 0, 0],
      [day(0), 1000, 1],
      [day(1), 1600, 3],
      [day(2), 1600, 3],
      [day(3), 600, 2],
    ]);
    const beta = await usage(`?bucket=beta&from=${day(-1)}&to=${day(3)}`);
    assert.deepEqual(stored(beta.body.days), [
      [day(-1), 0, 0],
      [day(0), null, null],
      [day(1), 200, 1],
      [day(2), 200, 1],
      [day(3), 200, 1],
    ]);
  });

  test('a range that starts after the last change starts from the figure before it', async () => {
    const r = await usage(`?from=${day(2)}&to=${day(2)}`);
    assert.deepEqual(stored(r.body.days), [[day(2), 1800, 4]]);
  });

  test('a new bucket stored nothing before it existed; a bucket never seen has no figures', async () => {
    assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: root(), json: { name: 'gamma' } })).status, 201);
    const r = await usage(`?bucket=gamma&from=${day(-1)}&to=${day(3)}`);
    const days = stored(r.body.days);
    assert.deepEqual(days[0], [day(-1), 0, 0]);
    assert.deepEqual(days[4], [day(3), 0, 0]);
    const none = await usage(`?bucket=no-such-bucket&from=${day(2)}&to=${day(2)}`);
    assert.deepEqual(stored(none.body.days), [[day(2), null, null]]);
  });

  test('a token report has no stored bytes: storage belongs to buckets, not to tokens', async () => {
    const token = (await server.meta.getTokenByAccessKeyId(server.bootstrap.issued!.accessKeyId))!.id;
    const r = await usage(`?token=${token}&from=${day(0)}&to=${day(3)}`);
    assert.equal(r.status, 200, problemText(r));
    assert.deepEqual(stored(r.body.days), [0, 1, 2, 3].map((n) => [day(n), null, null]));
    assert.equal(r.body.days[1].requests.write, 3);
  });

  test('the figures live in the database', async () => {
    const rows = await server.meta.storageSnapshots({ projectId: p, from: day(0), to: day(3) });
    assert.deepEqual(
      rows.map((s) => [s.day, s.bucket, s.bytes, s.objects]),
      [
        [day(0), 'alpha', 1000, 1],
        [day(1), 'alpha', 1600, 3],
        [day(1), 'beta', 200, 1],
        [day(3), 'alpha', 600, 2],
      ],
    );
  });
});

describe('REST API: usage history after changes no request made', () => {
  const DAY_MS = 1000;
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ lifecycleDayMs: DAY_MS });
  });
  after(() => server.stop());

  test('lifecycle expiry and `skep bucket delete --force` record the new stored figures', async () => {
    const p = server.bootstrap.projectId;
    const s3 = server.client();
    for (const name of ['expiring', 'doomed']) assert.equal((await call(server, 'POST', `/projects/${p}/buckets`, { as: rootBearer(server), json: { name } })).status, 201);
    for (const [bucket, key] of [['expiring', 'app/1'], ['expiring', 'keep'], ['doomed', 'a']]) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x'.repeat(100) }));
    }
    await server.lifecycle.stop(); // this test drives a pass itself
    await s3.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: 'expiring',
      LifecycleConfiguration: { Rules: [{ ID: 'app', Status: 'Enabled', Filter: { Prefix: 'app/' }, Expiration: { Days: 1 } }] },
    }));
    await new Promise((r) => setTimeout(r, 50));
    await server.services.usage.flush({ all: true });
    await new Promise((r) => setTimeout(r, 2 * DAY_MS + 100));
    const worker = new LifecycleWorker({ meta: server.meta, objects: server.objects, audit: server.services.audit, log: server.log, intervalMs: 1, dayMs: DAY_MS });
    await worker.runOnce();
    await worker.stop();
    await server.services.usage.flush({ all: true });
    const forced = await skep(['bucket', 'delete', 'doomed', '--project', p, '--force', '--data', server.dataDir]);
    assert.equal(forced.code, 0, forced.stderr);
    const today = new Date().toISOString().slice(0, 10);
    const rows = await server.meta.storageSnapshots({ projectId: p, from: today, to: today });
    assert.deepEqual(
      rows.map((s) => [s.bucket, s.bytes, s.objects]).sort(),
      [
        ['doomed', 0, 0],
        ['expiring', 100, 1],
      ],
    );
  });
});

/** Sends a PUT's headers without its body; resolves with the status the server answers. */
function headersOnly(server: TestServer, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => {
      const lines = Object.entries({ host: `127.0.0.1:${server.port}`, ...headers }).map(([k, v]) => `${k}: ${v}`);
      socket.write(`PUT ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.once('data', (chunk: Buffer) => {
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1]));
      socket.destroy();
    });
    socket.once('error', reject);
  });
}
