// The contract every BlobStore passes (the local folder, and S3 backends such as Ceph's gateway).
// Call it from a *.test.ts with a factory that opens a fresh, empty store and can tell what the
// store holds underneath (files, objects, unfinished uploads), so "leaves nothing behind" is
// checked against the backend itself, not through the store's own view of it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { describe, test } from 'node:test';
import type { BlobStore } from './blob-store.js';

export interface OpenedBlobStore {
  store: BlobStore;
  /** Everything the backend holds for this store: stored blobs, temp files, unfinished uploads. */
  leftovers(): Promise<string[]>;
  /** Removes the backend's data (after close). */
  dispose?(): Promise<void>;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir` that `keep` accepts (by name), as sorted paths relative to it. */
export function filesUnder(dir: string, keep: (name: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (keep(e.name)) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Splits `data` into chunks of uneven sizes. */
export function chunked(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, step = 1; i < data.length; i += step, step = ((step * 7 + 13) % 70_000) + 1) {
    out.push(data.subarray(i, i + step));
  }
  return out;
}

/** A body that yields `parts` chunks of `size` random bytes, then fails with `err`. */
function failingBody(parts: number, size: number, err: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= parts) {
        this.destroy(err);
        return;
      }
      sent++;
      this.push(randomBytes(size));
    },
  });
}

export function blobStoreContract(name: string, open: () => Promise<OpenedBlobStore>, opts: { largeBytes: number }): void {
  async function withStore(fn: (s: BlobStore, o: OpenedBlobStore) => Promise<void>): Promise<void> {
    const opened = await open();
    try {
      await fn(opened.store, opened);
    } finally {
      await opened.store.close();
      await opened.dispose?.();
    }
  }

  describe(`BlobStore contract: ${name}`, () => {
    test('put stores the bytes under a fresh 32-hex ref, and get reads them back', () =>
      withStore(async (store, o) => {
        const data = randomBytes(1024 * 1024 + 3);
        const { ref, size } = await store.put(Readable.from(chunked(data)));
        assert.match(ref, /^[0-9a-f]{32}$/);
        assert.equal(size, data.length);
        assert.ok((await readAll(store.get(ref))).equals(data));
        assert.equal((await o.leftovers()).length, 1, 'one thing stored');
      }));

    test(`a large body (${(opts.largeBytes / 1024 / 1024).toFixed(0)} MiB) streams in and out whole, and ranges cross its inner boundaries`, () =>
      withStore(async (store) => {
        const data = randomBytes(opts.largeBytes);
        const { ref, size } = await store.put(Readable.from(chunked(data)));
        assert.equal(size, data.length);
        assert.ok((await readAll(store.get(ref))).equals(data));
        const mid = Math.floor(data.length / 2);
        const range = { start: mid - 100_000, end: mid + 100_000 };
        assert.ok((await readAll(store.get(ref, range))).equals(data.subarray(range.start, range.end + 1)));
        // A slow reader (one chunk at a time, with pauses) still gets every byte: backpressure.
        const slow = store.get(ref);
        const got: Buffer[] = [];
        for await (const c of slow) {
          got.push(c as Buffer);
          if (got.length % 8 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        assert.ok(Buffer.concat(got).equals(data));
      }));

    test('put under a ref from newRef keeps that ref; newRef gives distinct refs', () =>
      withStore(async (store) => {
        const refs = new Set(Array.from({ length: 100 }, () => store.newRef()));
        assert.equal(refs.size, 100);
        for (const r of refs) assert.match(r, /^[0-9a-f]{32}$/);
        const chosen = store.newRef();
        const { ref } = await store.put(Readable.from([Buffer.from('mine')]), chosen);
        assert.equal(ref, chosen);
        assert.equal((await readAll(store.get(chosen))).toString(), 'mine');
        await assert.rejects(store.put(Readable.from([Buffer.from('x')]), '../escape'));
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

    test('a reader that stops early releases the read', () =>
      withStore(async (store) => {
        const data = randomBytes(2 * 1024 * 1024);
        const { ref } = await store.put(Readable.from([data]));
        for (let i = 0; i < 5; i++) {
          const s = store.get(ref);
          await new Promise<void>((resolve, reject) => {
            s.once('data', () => {
              s.destroy();
              resolve();
            });
            s.once('error', reject);
          });
        }
        assert.ok((await readAll(store.get(ref))).equals(data), 'the store still serves it');
      }));

    test('delete removes the blob and is idempotent, partial or not', () =>
      withStore(async (store, o) => {
        const { ref } = await store.put(Readable.from([Buffer.from('bye')]));
        await store.delete(ref);
        assert.deepEqual(await o.leftovers(), []);
        await assert.rejects(readAll(store.get(ref)), { code: 'ENOENT' });
        await store.delete(ref);
        await store.delete(ref, { partial: true });
        await store.delete('not-a-ref');
      }));

    test('list yields every stored blob with its time', () =>
      withStore(async (store) => {
        const before = Date.now() - 60_000;
        const refs = new Set<string>();
        for (let i = 0; i < 5; i++) refs.add((await store.put(Readable.from([randomBytes(10)]))).ref);
        const deleted = (await store.put(Readable.from([Buffer.from('x')]))).ref;
        await store.delete(deleted);
        const listed = new Map<string, Date>();
        for await (const { ref, mtime } of store.list()) listed.set(ref, mtime);
        assert.deepEqual(new Set(listed.keys()), refs);
        for (const m of listed.values()) assert.ok(m.getTime() >= before && m.getTime() <= Date.now() + 60_000);
      }));

    test('a body that errors midway leaves nothing and rejects with the same error', () =>
      withStore(async (store, o) => {
        const small = new Error('client went away');
        await assert.rejects(store.put(failingBody(3, 200_000, small)), (err) => err === small);
        // Past the first part of a multipart upload, too.
        const big = new Error('client went away later');
        await assert.rejects(store.put(failingBody(Math.ceil(opts.largeBytes / 1_000_000), 1_000_000, big)), (err) => err === big);
        assert.deepEqual(await o.leftovers(), []);
      }));

    test('an error raised in a Transform flush, after all data, leaves nothing', () =>
      withStore(async (store, o) => {
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
        assert.deepEqual(await o.leftovers(), []);
      }));

    test('concurrent puts get distinct refs and keep their own bytes', () =>
      withStore(async (store) => {
        const bodies = Array.from({ length: 24 }, (_, i) => randomBytes(1000 + i * 5000));
        const results = await Promise.all(bodies.map((b) => store.put(Readable.from(chunked(b)))));
        assert.equal(new Set(results.map((r) => r.ref)).size, bodies.length);
        for (let i = 0; i < bodies.length; i++) {
          assert.equal(results[i].size, bodies[i].length);
          assert.ok((await readAll(store.get(results[i].ref))).equals(bodies[i]));
        }
      }));

    test('ping answers while the backend is reachable', () =>
      withStore(async (store) => {
        await store.ping();
      }));
  });
}
