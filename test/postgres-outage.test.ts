// test-engines: postgres
// PostgreSQL ending skep's connections under load, as a restart does (pg_ctl stop -m fast sends
// each session 57P01 "terminating connection due to administrator command"). The sessions are
// ended with pg_terminate_backend, which sends the same error to each of them, rather than by
// restarting the run's PostgreSQL, which other test files use at the same time. A connection that
// fails between two queries of a request used to crash the process (an 'error' event with no
// listener); the requests in flight may fail, the server must go on and its pool reconnect.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { engine, freshDatabase, postgresAdminUrl } from './helpers/engines.js';
import { serveProcess } from './helpers/serve-process.js';
import { ROOT_KEY, TEST_MASTER_KEY } from './helpers/server.js';
import { sleep } from './helpers/raw-s3.js';
import { freePort } from './engines/process-util.js';

const available = engine('postgres');

/** Ends every session on the database `url` names, as a fast shutdown does; returns how many. */
async function endSessions(url: string): Promise<number> {
  const database = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: postgresAdminUrl() });
  await admin.connect();
  try {
    const { rows } = await admin.query('select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
    return rows.length;
  } finally {
    await admin.end();
  }
}

test('skep survives PostgreSQL ending its connections under concurrent requests', { skip: available.skip, timeout: 120_000 }, async () => {
  available.require();
  const url = await freshDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'skep-pg-outage-'));
  const server = await serveProcess(dataDir, { SKEP_METADATA_URL: url, SKEP_MASTER_KEY: TEST_MASTER_KEY, SKEP_METADATA_POOL_SIZE: '4' });
  let exit: number | null | undefined;
  server.child.once('exit', (code) => (exit = code));
  try {
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'load' }));
    // Four writers of small objects, as the outage happens; each failure's status is kept.
    let running = true;
    const failures: Array<number | string> = [];
    const writer = async (w: number) => {
      for (let i = 0; running; i++) {
        await s3.send(new PutObjectCommand({ Bucket: 'load', Key: `w${w}/${i}`, Body: `object ${i}` })).catch((err: S3ServiceException) => {
          failures.push(err.$metadata?.httpStatusCode ?? err.name);
        });
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await sleep(500);
    let ended = 0;
    for (let round = 0; round < 5 && exit === undefined; round++) {
      ended += await endSessions(url);
      await sleep(300);
    }
    running = false;
    await Promise.all(writers);
    assert.ok(ended > 0, 'sessions were ended');
    assert.equal(exit, undefined, `skep exited:\n${server.output()}`);
    // A request whose query failed is answered (500 or 503), not cut off.
    for (const f of failures) assert.ok(f === 500 || f === 503, `a request failed with ${f}`);
    // The pool has reconnected: requests succeed again.
    await s3.send(new PutObjectCommand({ Bucket: 'load', Key: 'after', Body: 'after the outage' }));
    const back = await s3.send(new GetObjectCommand({ Bucket: 'load', Key: 'after' }));
    assert.equal(await back.Body!.transformToString(), 'after the outage');
    // Idle connections failing too (pg-pool attaches the client to their errors)...
    assert.ok((await endSessions(url)) > 0);
    await sleep(300);
    assert.equal(exit, undefined, `skep exited:\n${server.output()}`);
    // ...each failed connection is one short warning, without the session's cancel key.
    const log = server.output();
    assert.match(log, /a PostgreSQL connection failed/);
    assert.doesNotMatch(log, /secretKey|processID/);
  } finally {
    if (exit === undefined) await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

// A node binds its port before it opens its stores and bootstraps (so that a port in use stops it
// before a first start creates credentials); until it is ready it must answer 503 with
// Retry-After, which SDKs retry, rather than leave requests hanging. Another node holding the
// bootstrap lock keeps this one in that window for as long as the test needs.
test('a node still starting answers 503 with Retry-After, then serves', { skip: available.skip, timeout: 120_000 }, async () => {
  available.require();
  const url = await freshDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'skep-pg-starting-'));
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  // The key postgres-store.ts's exclusive('bootstrap') takes: "skep" and hashtext(name).
  await holder.query(`select pg_advisory_lock(x'736b6570'::int, hashtext('bootstrap'))`);
  const port = await freePort();
  const starting = serveProcess(dataDir, { SKEP_METADATA_URL: url, SKEP_MASTER_KEY: TEST_MASTER_KEY }, port);
  starting.catch(() => undefined);
  let server: Awaited<typeof starting> | undefined;
  try {
    const base = `http://127.0.0.1:${port}`;
    let early: Response | undefined;
    for (let i = 0; i < 200 && !early; i++) {
      early = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch((err: Error) => {
        if (err.name === 'TimeoutError') throw err; // listening, but not answering
        return undefined; // not listening yet
      });
      if (!early) await sleep(100);
    }
    assert.ok(early, 'the node bound its port');
    assert.equal(early.status, 503);
    assert.equal(early.headers.get('retry-after'), '1');
    // An S3 request too (signed: the credentials cannot be checked yet).
    const s3 = new S3Client({ endpoint: base, region: 'us-east-1', forcePathStyle: true, credentials: ROOT_KEY, maxAttempts: 1 });
    const refused = await s3.send(new ListBucketsCommand({})).catch((err: S3ServiceException) => err);
    assert.equal((refused as S3ServiceException).$metadata?.httpStatusCode, 503);
    await holder.query(`select pg_advisory_unlock_all()`);
    server = await starting;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.ok((await s3.send(new ListBucketsCommand({}))).Buckets);
    s3.destroy();
  } finally {
    await holder.end();
    if (server) await server.stop();
    else await starting.then((s) => s.stop(), () => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
});
