import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { captureLog, startTestServer, type CapturedLog, type TestServer } from './helpers/server.js';
import { IN_CI } from './helpers/clients.js';
import { adminSession, call, isProblem } from './helpers/api.js';
import { signedHeaders } from './helpers/raw-s3.js';

// A full disk, for real: the data folder is a small tmpfs mounted for this test (root only; in
// CI, which runs as root, a missing mount fails the test). Writes that do not fit are answered
// 507 XMinioStorageFull (S3) and 507 storage-full (REST API), one warning line is logged without
// a stack, nothing partial is left, and once space is freed writes work again. A client that
// drops its upload half-way is logged as an abort, not as an internal error.

const MiB = 1024 * 1024;

function canMount(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  return false;
}

const reason = canMount();
const skip = reason && !IN_CI ? reason : false;

describe('a full disk', { skip }, () => {
  let mountPoint: string;
  let mounted = false;
  let server: TestServer;
  let log: CapturedLog;

  before(async () => {
    if (reason) throw new Error(`${reason} — required in CI`);
    mountPoint = await mkdtemp(join(tmpdir(), 'skep-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mountPoint]);
    mounted = true;
    log = captureLog('info');
    server = await startTestServer({ dataDir: join(mountPoint, 'data') }, { log: log.logger });
    await server.client().send(new CreateBucketCommand({ Bucket: 'full' }));
  });

  after(async () => {
    await server?.close();
    if (mounted) execFileSync('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  const tmpFiles = async () => readdir(join(server.dataDir, 'blobs', 'tmp'));

  test('a PUT that does not fit is 507 XMinioStorageFull with one warning line and nothing left behind', async () => {
    const s3 = server.client({ maxAttempts: 1 });
    const before = log.lines.length;
    let err: unknown;
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'too-big.bin', Body: Buffer.alloc(12 * MiB, 7) }));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof S3ServiceException, String(err));
    assert.equal(err.name, 'XMinioStorageFull');
    assert.equal(err.$metadata.httpStatusCode, 507);
    assert.match(err.message, /minimum free drive threshold/);
    const lines = log.lines.slice(before);
    const warnings = lines.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(warnings[0].msg, /storage full/);
    assert.equal(warnings[0].code, 'ENOSPC');
    assert.equal(warnings[0].op, 'PutObject');
    assert.ok(!JSON.stringify(lines).includes('"stack"'), 'no stack trace');
    assert.ok(!lines.some((l) => l.level >= 50), 'nothing logged as an error');
    assert.deepEqual(await tmpFiles(), [], 'the partial blob was removed');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'full', Key: 'too-big.bin' })), (e: S3ServiceException) => e.$metadata.httpStatusCode === 404);
  });

  test('the REST API answers 507 storage-full; once space is free, writes work again', async () => {
    const owner = await adminSession(server);
    const big = await call(server, 'PUT', `/projects/${server.bootstrap.projectId}/buckets/full/objects/content?key=api-big.bin`, { as: { session: owner }, raw: Buffer.alloc(12 * MiB, 1) });
    assert.ok(isProblem(big, 507, 'storage-full'), `${big.status} ${big.text}`);
    assert.deepEqual(await tmpFiles(), []);
    // Space was freed by the failed writes themselves: a small object fits and reads back.
    const s3 = server.client({ maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'small.txt', Body: 'still works' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'full', Key: 'small.txt' }));
    assert.equal(await got.Body!.transformToString(), 'still works');
  });

  test('an upload the client drops half-way is logged as an abort, not an internal error', async () => {
    const before = log.lines.length;
    const body = Buffer.alloc(256 * 1024, 3);
    const headers = await signedHeaders(server, { method: 'PUT', path: '/full/dropped.bin', body, headers: { 'content-length': String(body.length) } });
    await new Promise<void>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
        socket.write(`PUT /full/dropped.bin HTTP/1.1\r\n${head}\r\n\r\n`);
        socket.write(body.subarray(0, 64 * 1024), () => setTimeout(() => (socket.destroy(), resolve()), 100));
      });
      socket.on('error', reject);
    });
    const s3 = server.client({ maxAttempts: 1 });
    for (let i = 0; i < 100 && !log.lines.slice(before).some((l) => /aborted/.test(l.msg)); i++) await new Promise((r) => setTimeout(r, 20));
    const lines = log.lines.slice(before);
    const aborts = lines.filter((l) => /client aborted the request/.test(l.msg));
    assert.equal(aborts.length, 1, JSON.stringify(lines));
    assert.equal(aborts[0].level, 30);
    assert.equal(aborts[0].op, 'PutObject');
    assert.ok(!lines.some((l) => l.level >= 50), JSON.stringify(lines));
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: 'full', Key: 'dropped.bin' })));
    assert.deepEqual(await tmpFiles(), []);
  });
});
