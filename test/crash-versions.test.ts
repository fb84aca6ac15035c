import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type ObjectVersion,
  type S3Client,
} from '@aws-sdk/client-s3';
import { serveProcess, type ServeProcess } from './helpers/serve-process.js';

// Crashes (kill -9 of `skep serve`) in the middle of versioned writes and of a lifecycle pass:
// after a restart on the same data folder, every version a client was told about (a PUT that
// answered 200 with its version ID) is still there with exactly its bytes, and a lifecycle pass
// resumes where it stopped without applying a rule twice.

const folders: string[] = [];
const running = new Set<ServeProcess>();
after(async () => {
  for (const s of running) await s.kill9().catch(() => undefined);
  for (const f of folders) await rm(f, { recursive: true, force: true });
});

async function start(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const s = await serveProcess(dataDir, env);
  running.add(s);
  return s;
}

async function crash(s: ServeProcess): Promise<void> {
  await s.kill9();
  running.delete(s);
}

const sha = (b: Uint8Array | Buffer) => createHash('sha256').update(b).digest('hex');

async function everyVersion(s3: S3Client, bucket: string): Promise<{ versions: ObjectVersion[]; markers: { Key?: string; VersionId?: string; IsLatest?: boolean }[] }> {
  const versions: ObjectVersion[] = [];
  const markers: { Key?: string; VersionId?: string; IsLatest?: boolean }[] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker, VersionIdMarker }));
    versions.push(...(out.Versions ?? []));
    markers.push(...(out.DeleteMarkers ?? []));
    if (!out.IsTruncated) return { versions, markers };
    KeyMarker = out.NextKeyMarker;
    VersionIdMarker = out.NextVersionIdMarker;
  }
}

async function folder(tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `skep-crash-${tag}-`));
  folders.push(dir);
  return dir;
}

describe('kill -9 during versioned overwrites', { timeout: 180_000 }, () => {
  test('every acknowledged version survives with its bytes; one version is current; nothing half-written shows', async () => {
    const dir = await folder('versions');
    let server = await start(dir);
    let s3 = server.client();
    const bucket = 'crash-versions';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));

    // Writers overwrite two keys as fast as they can; each acknowledged PUT is remembered.
    const acked = new Map<string, { key: string; sha: string; size: number }>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = i % 2 === 0 ? 'hot' : `cold/${w}`;
        const body = Buffer.concat([Buffer.from(`w${w}-${i}:`), randomBytes(1000 + ((w * 7919 + i * 104729) % 200_000))]);
        try {
          const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          acked.set(out.VersionId!, { key, sha: sha(body), size: body.length });
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acked.size < 80) await new Promise((r) => setTimeout(r, 10));
    await crash(server); // with PUTs in flight
    stop = true;
    await Promise.all(writers);

    server = await start(dir);
    s3 = server.client();
    const { versions } = await everyVersion(s3, bucket);
    const listed = new Map(versions.map((v) => [v.VersionId!, v]));
    for (const [versionId, want] of acked) {
      const v = listed.get(versionId);
      assert.ok(v, `acknowledged version ${versionId} of ${want.key} is listed`);
      assert.equal(v.Key, want.key);
      assert.equal(v.Size, want.size);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: want.key, VersionId: versionId }));
      assert.equal(sha(await got.Body!.transformToByteArray()), want.sha, `version ${versionId} has its bytes`);
    }
    // Every listed version (acknowledged or not) is whole, and each key has exactly one current version.
    for (const v of versions) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId }));
      assert.equal((await got.Body!.transformToByteArray()).length, v.Size);
    }
    const latest = new Map<string, number>();
    for (const v of versions) if (v.IsLatest) latest.set(v.Key!, (latest.get(v.Key!) ?? 0) + 1);
    assert.deepEqual([...new Set(versions.map((v) => v.Key))].filter((k) => latest.get(k!) !== 1), []);
    await server.stop();
    running.delete(server);
  });
});

describe('kill -9 during a lifecycle pass', { timeout: 180_000 }, () => {
  test('no acknowledged version is lost; the pass resumes after the restart and expires each object exactly once', async () => {
    const dir = await folder('lifecycle');
    // A lifecycle "day" of one second, a pass every 200 ms, batches of two versions: a pass takes
    // hundreds of batches, each saving its place, so the kill lands in the middle of one.
    const env = { SKEP_LIFECYCLE_INTERVAL: '0.2', SKEP_LIFECYCLE_DAY_SECONDS: '1', SKEP_LIFECYCLE_BATCH: '2' };
    let server = await start(dir, env);
    let s3 = server.client();
    const bucket = 'crash-lifecycle';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const acked = new Map<string, { key: string; sha: string }>();
    const TOTAL = 600;
    for (let batch = 0; batch < TOTAL; batch += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const i = batch + j;
          const key = i % 10 === 0 ? `keep/${i}` : `exp/${String(i).padStart(4, '0')}`;
          const body = Buffer.from(`object ${i} ${randomBytes(8).toString('hex')}`);
          const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          acked.set(out.VersionId!, { key, sha: sha(body) });
        }),
      );
    }
    const expiring = [...acked.values()].filter((a) => a.key.startsWith('exp/')).length;
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'exp', Status: 'Enabled', Filter: { Prefix: 'exp/' }, Expiration: { Days: 1 } }] } }),
    );
    // Kill it once the pass has started (the first expiring key, first in key order, is behind a
    // marker) and before it is done (the last one is not yet). HEADs are one indexed lookup each,
    // far quicker than the pass.
    const current = (key: string) =>
      s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
        () => true,
        (err: { name?: string }) => {
          if (err.name === 'NotFound') return false;
          throw err;
        },
      );
    while (await current('exp/0001')) await new Promise((r) => setTimeout(r, 10));
    const lastStillCurrent = await current('exp/0599');
    await crash(server);
    assert.ok(lastStillCurrent, 'the pass was still running when the server was killed');

    server = await start(dir, env);
    s3 = server.client();
    for (const [versionId, want] of acked) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: want.key, VersionId: versionId }));
      assert.equal(sha(await got.Body!.transformToByteArray()), want.sha, `version ${versionId} of ${want.key} survives with its bytes`);
    }
    // The resumed pass finishes: every exp/ key behind exactly one delete marker, keep/ untouched.
    let state = await everyVersion(s3, bucket);
    const deadline = Date.now() + 60_000;
    while (state.markers.length < expiring && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      state = await everyVersion(s3, bucket);
    }
    const perKey = new Map<string, number>();
    for (const m of state.markers) perKey.set(m.Key!, (perKey.get(m.Key!) ?? 0) + 1);
    assert.equal(perKey.size, expiring, 'every expiring key got its marker');
    assert.deepEqual([...perKey].filter(([, count]) => count !== 1), [], 'no key expired twice');
    assert.ok([...perKey.keys()].every((k) => k.startsWith('exp/')));
    assert.equal(state.versions.length, acked.size, 'every version is still there');
    assert.ok(state.versions.filter((v) => v.Key!.startsWith('keep/')).every((v) => v.IsLatest));
    await server.stop();
    running.delete(server);
  });
});
