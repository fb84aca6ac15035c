import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { BlobStore } from './blob-store.js';
import { blobStoreContract, chunked, filesUnder, readAll } from './contract.js';
import { openFsBlobStore } from './fs-blob-store.js';

const root = mkdtempSync(join(tmpdir(), 'skep-blobs-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${++n}`);

async function withStore(fn: (store: BlobStore, dir: string) => Promise<void>): Promise<void> {
  const dir = freshDir();
  const store = await openFsBlobStore(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close();
  }
}

// What the folder holds is every file under it: blobs, and the temp files a failed put would leave.
blobStoreContract(
  'local folder',
  async () => {
    const dir = freshDir();
    return { store: await openFsBlobStore(dir), leftovers: async () => filesUnder(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
  { largeBytes: 12 * 1024 * 1024 },
);

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

  test('opening removes leftover temp files and keeps blobs', async () => {
    const dir = freshDir();
    const first = await openFsBlobStore(dir);
    const { ref } = await first.put(Readable.from([Buffer.from('kept')]));
    await first.close();
    writeFileSync(join(dir, 'tmp', 'crashed-upload-1'), randomBytes(100));
    writeFileSync(join(dir, 'tmp', 'crashed-upload-2'), randomBytes(100));

    // Another opener (an operator command beside the server) leaves them: they may be puts in progress.
    const bystander = await openFsBlobStore(dir);
    await bystander.close();
    assert.deepEqual(readdirSync(join(dir, 'tmp')).sort(), ['crashed-upload-1', 'crashed-upload-2']);

    const second = await openFsBlobStore(dir, { emptyTmp: true });
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
