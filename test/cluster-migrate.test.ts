// test-engines: postgres ceph
// `skep migrate`: a data folder (SQLite and blob files) to PostgreSQL and Ceph, and back again,
// with every object checked on the way; then the migrated deployment serves the same objects,
// keys and uploads in progress. A corrupted blob in the source is reported, by object.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { readObject, md5Hex } from './helpers/s3.js';
import { cephSettings, engine, freshCephBucket, freshDatabase } from './helpers/engines.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { issue, skep, type Issued } from './helpers/tokens.js';
import { blobFiles } from './helpers/raw-s3.js';
import type { StorageSettings } from '../src/wiring.js';

const available = engine('postgres', 'ceph');
const MiB = 1024 * 1024;


describe('skep migrate', { skip: available.skip }, () => {
  const objects = new Map<string, Buffer>();
  let sourceDir: string;
  let masterKey: string;
  let token: Issued['credentials'];
  let upload: { UploadId: string; ETag: string; part: Buffer };
  let target: StorageSettings;
  const cleanup: string[] = [];

  before(async () => {
    available.require();
    // A deployment on the embedded default, with a bit of everything in it.
    const source = await startTestServer();
    const s3 = source.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'logs' }));
    const put = async (bucket: string, key: string, body: Buffer, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
      objects.set(`${bucket}/${key}`, body);
    };
    await put('photos', 'a.jpg', randomBytes(70_000));
    await put('photos', 'empty', Buffer.alloc(0));
    await put('photos', 'caf\u00e9/\u{1f600}.txt', Buffer.from('unicode key'));
    await put('logs', 'crc', randomBytes(5000), { ChecksumAlgorithm: 'CRC32C' });
    await put('logs', 'sha', randomBytes(5000), { ChecksumAlgorithm: 'SHA256' });
    for (const [key, alg] of [['multi', undefined], ['multi-crc', 'CRC32']] as const) {
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(777)];
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'logs', Key: key, ChecksumAlgorithm: alg }));
      const done = [];
      for (let i = 0; i < parts.length; i++) {
        const r = await s3.send(new UploadPartCommand({ Bucket: 'logs', Key: key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: alg }));
        done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
      }
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'logs', Key: key, UploadId, MultipartUpload: { Parts: done } }));
      objects.set(`logs/${key}`, Buffer.concat(parts));
    }
    const part = randomBytes(5 * MiB);
    const started = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'logs', Key: 'unfinished' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: 'logs', Key: 'unfinished', UploadId: started.UploadId, PartNumber: 1, Body: part }));
    upload = { UploadId: started.UploadId!, ETag: p1.ETag!, part };
    token = (await issue(source, { permission: 'object-rw', bucketScope: ['photos'] })).credentials;

    // The source is stopped (its folder kept) before it is migrated.
    sourceDir = await mkdtemp(join(tmpdir(), 'skep-migrate-src-'));
    await rm(sourceDir, { recursive: true });
    const { rename } = await import('node:fs/promises');
    await source.close();
    await rename(source.dataDir, sourceDir);
    cleanup.push(sourceDir);
    masterKey = (await readFile(join(sourceDir, 'master.key'), 'utf8')).trim();

    const ceph = cephSettings();
    target = {
      metadataUrl: await freshDatabase(),
      blobs: `s3://${await freshCephBucket()}/skep`,
      s3: { endpoint: ceph.endpoint, accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    };
  });
  after(async () => {
    for (const d of cleanup) await rm(d, { recursive: true, force: true });
  });

  const toPostgresArgs = (s: StorageSettings, data: string) => ['--to-data', data, '--to-metadata', s.metadataUrl!, '--to-blobs', s.blobs!, '--to-blobs-endpoint', s.s3!.endpoint!];
  const targetKeys = () => ({ SKEP_TO_BLOBS_ACCESS_KEY_ID: cephSettings().accessKeyId, SKEP_TO_BLOBS_SECRET_ACCESS_KEY: cephSettings().secretAccessKey });

  async function checkServes(server: TestServer): Promise<void> {
    const s3 = server.client();
    for (const [name, body] of objects) {
      const [bucket, ...key] = name.split('/');
      assert.equal(md5Hex(await readObject(s3, bucket, key.join('/'))), md5Hex(body), name);
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'logs', Key: 'crc', ChecksumMode: 'ENABLED' }));
    assert.ok(head.ChecksumCRC32C, 'the stored checksum came along');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'photos' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['a.jpg', 'caf\u00e9/\u{1f600}.txt', 'empty']);
    // The token made before the migration still signs (its secret was copied sealed).
    const t = server.client({ credentials: { accessKeyId: token.accessKeyId, secretAccessKey: token.secretAccessKey } });
    assert.equal(md5Hex(await readObject(t, 'photos', 'a.jpg')), md5Hex(objects.get('photos/a.jpg')!));
  }

  test('a data folder moves to PostgreSQL and Ceph, every object verified, and serves there', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'skep-migrate-pg-'));
    cleanup.push(dataDir);
    const r = await skep(['migrate', '--data', sourceDir, ...toPostgresArgs(target, dataDir)], targetKeys());
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Copied ${objects.size} objects \\(\\d+ blobs, [\\d.]+ MiB\\), 0 noncurrent versions and delete markers, and 1 parts of uploads in progress; every one read back`));
    assert.match(r.stdout, /SKEP_MASTER_KEY=\$\(cat .*master\.key\)/);
    assert.doesNotMatch(r.stdout, /DID NOT VERIFY/);

    const server = await startTestServer({ dataDir, storage: target, masterKey });
    try {
      await checkServes(server);
      // The upload in progress finishes on the new storage, with the part sent before.
      const s3 = server.client();
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'logs', Key: 'unfinished', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: upload.ETag }] } }));
      assert.equal(md5Hex(await readObject(s3, 'logs', 'unfinished')), md5Hex(upload.part));
      objects.set('logs/unfinished', upload.part);
    } finally {
      await server.close();
    }
  });

  test('and back: from PostgreSQL and Ceph to a new data folder', async () => {
    const back = await mkdtemp(join(tmpdir(), 'skep-migrate-back-'));
    await rm(back, { recursive: true });
    cleanup.push(back);
    const ceph = cephSettings();
    const r = await skep(['migrate', '--data', join(back, '..', 'unused-' + process.pid), '--to-data', back], {
      SKEP_METADATA_URL: target.metadataUrl!,
      SKEP_BLOBS: target.blobs!,
      SKEP_BLOBS_ENDPOINT: ceph.endpoint,
      SKEP_BLOBS_ACCESS_KEY_ID: ceph.accessKeyId,
      SKEP_BLOBS_SECRET_ACCESS_KEY: ceph.secretAccessKey,
      SKEP_MASTER_KEY: masterKey,
    });
    cleanup.push(join(back, '..', 'unused-' + process.pid));
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Copied ${objects.size} objects`));
    const server = await startTestServer({ dataDir: back });
    try {
      await checkServes(server);
      assert.equal((await blobFiles(server)).length > objects.size, true, 'blob files in the folder');
    } finally {
      await server.close();
    }
  });

  test('a blob whose bytes changed is reported by object, and the command fails', async () => {
    // Flip one byte in the middle of the source's blob for photos/a.jpg.
    const files = (await blobFiles({ dataDir: sourceDir } as TestServer)).filter((f) => !f.startsWith('inline/'));
    const sizes = await Promise.all(files.map(async (f) => ({ f, size: (await readFile(join(sourceDir, 'blobs', f))).length })));
    const victim = sizes.find((x) => x.size === 70_000)!.f;
    const fh = await open(join(sourceDir, 'blobs', victim), 'r+');
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, 35_000);
      b[0] ^= 0xff;
      await fh.write(b, 0, 1, 35_000);
    } finally {
      await fh.close();
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'skep-migrate-bad-'));
    cleanup.push(dataDir);
    const fresh: StorageSettings = { ...target, metadataUrl: await freshDatabase(), blobs: `s3://${await freshCephBucket()}` };
    const r = await skep(['migrate', '--data', sourceDir, ...toPostgresArgs(fresh, dataDir)], targetKeys());
    assert.equal(r.code, 1);
    assert.match(r.stdout, /DID NOT VERIFY: photos\/a\.jpg: its bytes do not match its ETag/);
    assert.equal(r.stdout.match(/DID NOT VERIFY/g)?.length, 1, 'only that object');

    // A target that already holds a deployment is refused.
    const again = await skep(['migrate', '--data', sourceDir, ...toPostgresArgs(target, dataDir)], targetKeys());
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the target already holds a deployment/);
  });
});

// The fast path, with no engine: one data folder to another. Versions and encrypted objects,
// whose bytes a migration once left behind or cut to their plaintext length.
describe('skep migrate of noncurrent versions and encrypted objects', () => {
  const cleanup: string[] = [];
  after(async () => {
    for (const d of cleanup) await rm(d, { recursive: true, force: true });
  });

  const sseC = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: 'k'.repeat(32) };

  test('every version and every encrypted object or part reads back from the target', async () => {
    const source = await startTestServer();
    const s3 = source.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'vers' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'vers', VersioningConfiguration: { Status: 'Enabled' } }));
    const versions: { key: string; id: string; body: Buffer }[] = [];
    for (const [key, body] of [['doc', randomBytes(3000)], ['doc', randomBytes(4000)], ['gone', randomBytes(5000)]] as const) {
      const r = await s3.send(new PutObjectCommand({ Bucket: 'vers', Key: key, Body: body }));
      versions.push({ key, id: r.VersionId!, body });
    }
    await s3.send(new DeleteObjectCommand({ Bucket: 'vers', Key: 'gone' }));

    await s3.send(new CreateBucketCommand({ Bucket: 'sec' }));
    const sseS3 = randomBytes(150_000);
    await s3.send(new PutObjectCommand({ Bucket: 'sec', Key: 'sse-s3', Body: sseS3, ServerSideEncryption: 'AES256' }));
    const customer = randomBytes(100_000);
    await s3.send(new PutObjectCommand({ Bucket: 'sec', Key: 'sse-c', Body: customer, ...sseC }));
    const parts = [randomBytes(5 * MiB), randomBytes(777)];
    const multi = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sec', Key: 'multi', ServerSideEncryption: 'AES256' }));
    const done = [];
    for (let i = 0; i < parts.length; i++) {
      const r = await s3.send(new UploadPartCommand({ Bucket: 'sec', Key: 'multi', UploadId: multi.UploadId, PartNumber: i + 1, Body: parts[i] }));
      done.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'sec', Key: 'multi', UploadId: multi.UploadId, MultipartUpload: { Parts: done } }));
    const pending = randomBytes(5 * MiB);
    const started = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sec', Key: 'pending', ServerSideEncryption: 'AES256' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: 'sec', Key: 'pending', UploadId: started.UploadId, PartNumber: 1, Body: pending }));
    await source.close();
    cleanup.push(source.dataDir);

    const targetDir = await mkdtemp(join(tmpdir(), 'skep-migrate-folder-'));
    cleanup.push(targetDir);
    const r = await skep(['migrate', '--data', source.dataDir, '--to-data', targetDir]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Copied 4 objects \(\d+ blobs, [\d.]+ MiB\), 3 noncurrent versions and delete markers, and 1 parts/);

    const server = await startTestServer({ dataDir: targetDir });
    try {
      const t = server.client();
      for (const v of versions) {
        const got = await t.send(new GetObjectCommand({ Bucket: 'vers', Key: v.key, VersionId: v.id }));
        assert.equal(md5Hex(Buffer.from(await got.Body!.transformToByteArray())), md5Hex(v.body), `${v.key} ${v.id}`);
      }
      assert.equal(md5Hex(await readObject(t, 'sec', 'sse-s3')), md5Hex(sseS3));
      assert.equal(md5Hex(await readObject(t, 'sec', 'multi')), md5Hex(Buffer.concat(parts)));
      const got = await t.send(new GetObjectCommand({ Bucket: 'sec', Key: 'sse-c', ...sseC }));
      assert.equal(md5Hex(Buffer.from(await got.Body!.transformToByteArray())), md5Hex(customer));
      // The encrypted upload in progress finishes on the target with the part sent before.
      await t.send(new CompleteMultipartUploadCommand({ Bucket: 'sec', Key: 'pending', UploadId: started.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } }));
      assert.equal(md5Hex(await readObject(t, 'sec', 'pending')), md5Hex(pending));
    } finally {
      await server.close();
    }
  });

  test('a source whose server still runs is refused', async () => {
    const running = await startTestServer();
    try {
      const targetDir = await mkdtemp(join(tmpdir(), 'skep-migrate-running-'));
      cleanup.push(targetDir);
      const r = await skep(['migrate', '--data', running.dataDir, '--to-data', targetDir]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /A server runs on .*: stop it before migrating/);
    } finally {
      await running.close();
      cleanup.push(running.dataDir);
    }
  });

  test('a target whose copy did not finish is refused by serve, and by a second migrate', async () => {
    const source = await startTestServer();
    const s3 = source.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'bkt' }));
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'fine', Body: randomBytes(1000) }));
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'bad', Body: randomBytes(70_000) }));
    await source.close();
    cleanup.push(source.dataDir);
    // One blob is cut short, so the copy cannot verify it (as a copy cut short by kill -9 is partial).
    const files = (await blobFiles(source)).filter((f) => !f.startsWith('inline/'));
    const sizes = await Promise.all(files.map(async (f) => ({ f, size: (await readFile(join(source.dataDir, 'blobs', f))).length })));
    await truncate(join(source.dataDir, 'blobs', sizes.find((x) => x.size === 70_000)!.f), 35_000);

    const targetDir = await mkdtemp(join(tmpdir(), 'skep-migrate-partial-'));
    cleanup.push(targetDir);
    const r = await skep(['migrate', '--data', source.dataDir, '--to-data', targetDir]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /DID NOT VERIFY: bkt\/bad/);
    await assert.rejects(startTestServer({ dataDir: targetDir }), /target of a skep migrate that did not finish/);
    const again = await skep(['migrate', '--data', source.dataDir, '--to-data', targetDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the target holds an unfinished migration/);
  });
});
