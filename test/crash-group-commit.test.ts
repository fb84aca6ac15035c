import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { serveProcess, type ServeProcess } from './helpers/serve-process.js';

// Concurrent small PUTs share their disk flushes (the blob folder's fsync and the metadata WAL's,
// see wal-sync.ts). Sharing must not weaken what a 200 means: writers keep many PUTs in flight,
// the server is killed (kill -9) in the middle of them, and after a restart on the same folder
// every PUT that was acknowledged reads back byte for byte, and a PUT cut short is either absent
// or whole.

const folders: string[] = [];
const running = new Set<ServeProcess>();
after(async () => {
  for (const s of running) await s.kill9().catch(() => undefined);
  for (const f of folders) await rm(f, { recursive: true, force: true });
});

const sha = (b: Uint8Array | Buffer) => createHash('sha256').update(b).digest('hex');

describe('kill -9 while concurrent PUTs share their flushes', { timeout: 180_000 }, () => {
  test('every acknowledged PUT survives with its bytes; the others are absent or whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skep-crash-group-'));
    folders.push(dir);
    let server = await serveProcess(dir);
    running.add(server);
    let s3 = server.client();
    const bucket = 'group-commit';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const acked = new Map<string, string>();
    const sent = new Map<string, string>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}/${i}`;
        const body = randomBytes(4096 + ((w * 131 + i * 17) % 4096));
        sent.set(key, sha(body));
        try {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          acked.set(key, sha(body));
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 24 }, (_, w) => writer(w));
    // Until a good number of PUTs have been acknowledged, with 24 always in flight.
    while (acked.size < 400) await new Promise((r) => setTimeout(r, 20));
    await server.kill9();
    running.delete(server);
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.size >= 400);

    server = await serveProcess(dir);
    running.add(server);
    s3 = server.client();
    for (const [key, digest] of acked) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(sha(await out.Body!.transformToByteArray()), digest, `acknowledged ${key} reads back as written`);
    }
    for (const [key, digest] of sent) {
      if (acked.has(key)) continue;
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(sha(await out.Body!.transformToByteArray()), digest, `${key}, cut short, is whole if it is there at all`);
      } catch (err) {
        assert.equal((err as { name?: string }).name, 'NoSuchKey', `${key}: ${(err as Error).message}`);
      }
    }
    await server.stop();
    running.delete(server);
  });
});
