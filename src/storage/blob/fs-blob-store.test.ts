import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { BlobStore } from './blob-store.js';
import { openFsBlobStore } from './fs-blob-store.js';

const root = mkdtempSync(join(tmpdir(), 'skep-blobs-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${++n}`);

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Splits `data` into chunks of uneven sizes. */
function chunked(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, step = 1; i < data.length; i += step, step = (step * 7 + 13) % 70_000 + 1) {
    out.push(data.subarray(i, i + step));
  }
  return out;
}

async function withStore(fn: (store: BlobStore, dir: string) => Promise<void>): Promise<void> {
  const dir = freshDir();
  const store = await openFsBlobStore(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close();
  }
}

describe('FsBlobStore', () => {
  test('put stores the bytes under a fresh opaque ref in the fan-out layout', () =>
    withStore(async (store, dir) => {
      const data = randomBytes(1024 * 1024 + 3); // several write batches
      const { ref, size } = await store.put(Readable.from(chunked(data)));
      assert.match(ref, /^[0-9a-f]{32}$/);
      assert.equal(size, data.length);
      assert.deepEqual(filesUnder(dir), [join(ref.slice(0, 2), ref.slice(2, 4), ref)]);
      assert.ok((await readAll(store.get(ref))).equals(data));
    }));

  test('puts in flight together share one fan-out folder, yet every ref is distinct', () =>
    withStore(async (store, dir) => {
      const refs = (await Promise.all(Array.from({ length: 24 }, (_, i) => store.put(Readable.from([Buffer.from(`blob ${i}`)]))))).map((r) => r.ref);
      assert.equal(new Set(refs).size, refs.length);
      // One folder: one folder fsync covers all of these renames.
      assert.deepEqual(new Set(refs.map((r) => r.slice(0, 4))).size, 1);
      assert.equal(readdirSync(dir).filter((e) => e !== 'tmp').length, 1);
      for (const [i, ref] of refs.entries()) assert.equal((await readAll(store.get(ref))).toString(), `blob ${i}`);
    }));

  test('a ranged read reads (and so allocates) no more than the range at a time', () =>
    withStore(async (store) => {
      const data = randomBytes(4096);
      const { ref } = await store.put(Readable.from([data]));
      // Each read allocates a buffer of the stream's high-water mark: 256 KiB for a 4 KiB object
      // is garbage that, at thousands of GETs a second, forces back-to-back major GCs.
      const small = store.get(ref, { start: 0, end: data.length - 1 });
      assert.equal(small.readableHighWaterMark, data.length);
      assert.ok((await readAll(small)).equals(data));
      const big = randomBytes(1024 * 1024);
      const { ref: bigRef } = await store.put(Readable.from([big]));
      const whole = store.get(bigRef, { start: 0, end: big.length - 1 });
      assert.equal(whole.readableHighWaterMark, 256 * 1024, 'large reads keep the 256 KiB read-ahead');
      assert.ok((await readAll(whole)).equals(big));
    }));

  test('an empty body makes an empty blob', () =>
    withStore(async (store) => {
      const { ref, size } = await store.put(Readable.from([]));
      assert.equal(size, 0);
      assert.equal((await readAll(store.get(ref))).length, 0);
    }));

  test('string and Uint8Array chunks are stored as bytes', () =>
    withStore(async (store) => {
      const { ref, size } = await store.put(Readable.from(['h\u00e9', new Uint8Array([33, 10])], { objectMode: true }));
      assert.equal(size, 5);
      assert.deepEqual(await readAll(store.get(ref)), Buffer.from('h\u00e9!\n'));
    }));

  test('get reads an inclusive byte range', () =>
    withStore(async (store) => {
      const data = randomBytes(700_000);
      const { ref } = await store.put(Readable.from(chunked(data)));
      assert.deepEqual(await readAll(store.get(ref, { start: 0, end: 0 })), data.subarray(0, 1));
      assert.deepEqual(await readAll(store.get(ref, { start: 10, end: 19 })), data.subarray(10, 20));
      const tail = await readAll(store.get(ref, { start: 300_000, end: data.length - 1 }));
      assert.ok(tail.equals(data.subarray(300_000)));
    }));

  test('get of a missing or malformed ref fails with ENOENT', () =>
    withStore(async (store) => {
      for (const ref of ['0'.repeat(32), '../../../etc/passwd', '']) {
        await assert.rejects(readAll(store.get(ref)), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
      }
    }));

  test('delete removes the blob and is idempotent', () =>
    withStore(async (store, dir) => {
      const { ref } = await store.put(Readable.from([Buffer.from('bye')]));
      await store.delete(ref);
      assert.deepEqual(filesUnder(dir), []);
      await assert.rejects(readAll(store.get(ref)), { code: 'ENOENT' });
      await store.delete(ref);
      await store.delete('not-a-ref');
    }));

  test('list yields every stored blob with its mtime, and nothing from tmp/', () =>
    withStore(async (store, dir) => {
      const before = Date.now() - 2000;
      const refs = new Set<string>();
      for (let i = 0; i < 5; i++) refs.add((await store.put(Readable.from([randomBytes(10)]))).ref);
      const deleted = (await store.put(Readable.from([Buffer.from('x')]))).ref;
      await store.delete(deleted);
      // A put in flight (named like a ref) and a stray file in a fan-out folder are not blobs.
      writeFileSync(join(dir, 'tmp', randomBytes(16).toString('hex')), 'partial');
      const someRef = [...refs][0];
      writeFileSync(join(dir, someRef.slice(0, 2), someRef.slice(2, 4), 'notes.txt'), 'stray');
      const listed = new Map<string, Date>();
      for await (const { ref, mtime } of store.list()) listed.set(ref, mtime);
      assert.deepEqual(new Set(listed.keys()), refs);
      for (const m of listed.values()) {
        assert.ok(m instanceof Date);
        assert.ok(m.getTime() >= before && m.getTime() <= Date.now() + 2000);
      }
    }));

  test('a body that errors midway leaves nothing and rejects with the same error', () =>
    withStore(async (store, dir) => {
      const boom = new Error('client went away');
      let sent = 0;
      const body = new Readable({
        read() {
          if (sent >= 3) {
            this.destroy(boom);
            return;
          }
          sent++;
          this.push(randomBytes(200_000));
        },
      });
      await assert.rejects(store.put(body), (err) => err === boom);
      assert.deepEqual(filesUnder(dir), []);
      assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    }));

  test('an error raised in a Transform flush, after all data, leaves nothing', () =>
    withStore(async (store, dir) => {
      const bad = Object.assign(new Error('checksum mismatch'), { code: 'BadDigest' });
      let seen = 0;
      const check = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          cb(null, chunk);
        },
        flush(cb) {
          cb(bad);
        },
      });
      const data = randomBytes(600_000);
      Readable.from(chunked(data)).pipe(check);
      await assert.rejects(store.put(check), (err) => err === bad);
      assert.equal(seen, data.length, 'every byte went through before the failure');
      assert.deepEqual(filesUnder(dir), []);
    }));

  test('concurrent puts get distinct refs and keep their own bytes', () =>
    withStore(async (store) => {
      const bodies = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 5000));
      const results = await Promise.all(bodies.map((b) => store.put(Readable.from(chunked(b)))));
      assert.equal(new Set(results.map((r) => r.ref)).size, bodies.length);
      for (let i = 0; i < bodies.length; i++) {
        assert.equal(results[i].size, bodies[i].length);
        assert.ok((await readAll(store.get(results[i].ref))).equals(bodies[i]));
      }
    }));

  test('opening removes leftover temp files and keeps blobs', async () => {
    const dir = freshDir();
    const first = await openFsBlobStore(dir);
    const { ref } = await first.put(Readable.from([Buffer.from('kept')]));
    await first.close();
    writeFileSync(join(dir, 'tmp', 'crashed-upload-1'), randomBytes(100));
    writeFileSync(join(dir, 'tmp', 'crashed-upload-2'), randomBytes(100));

    const second = await openFsBlobStore(dir);
    try {
      assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
      assert.deepEqual(await readAll(second.get(ref)), Buffer.from('kept'));
      assert.ok(statSync(join(dir, ref.slice(0, 2), ref.slice(2, 4), ref)).isFile());
      assert.ok(existsSync(join(dir, 'tmp')));
    } finally {
      await second.close();
    }
  });
});
