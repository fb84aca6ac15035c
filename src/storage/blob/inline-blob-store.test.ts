import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { BlobStore } from './blob-store.js';
import { blobStoreContract, chunked, filesUnder, readAll } from './contract.js';
import { openFsBlobStore } from './fs-blob-store.js';
import { INLINE_FILE, INLINE_MAX_BYTES, withInlineBlobs } from './inline-blob-store.js';
import { sqliteDriver } from '../metadata/sqlite-driver.js';

const root = mkdtempSync(join(tmpdir(), 'skep-inline-blobs-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${++n}`);

/** Files under `dir` other than the inline database's own. */
const blobFiles = (dir: string) => filesUnder(dir, (name) => !name.startsWith(INLINE_FILE));

/** The refs held in the inline database, read by a connection of its own. */
function inlineRefs(dir: string): string[] {
  const Database = sqliteDriver();
  const db = new Database(join(dir, INLINE_FILE), { readonly: true });
  try {
    return (db.prepare('select ref from blobs order by ref').pluck().all() as string[]).map((r) => `inline:${r}`);
  } finally {
    db.close();
  }
}

async function open(dir: string, maxBytes?: number): Promise<BlobStore> {
  return withInlineBlobs(await openFsBlobStore(dir), dir, maxBytes);
}

const leftovers = (dir: string) => async () => [...blobFiles(dir), ...inlineRefs(dir)];

// Most contract bodies are small, so this runs them inline; the large one goes to a file.
blobStoreContract(
  'local folder with inline small blobs',
  async () => {
    const dir = freshDir();
    return { store: await open(dir), leftovers: leftovers(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
  { largeBytes: 3 * 1024 * 1024 },
);

// A tiny limit: bodies cross from inline to a file mid-stream, failing ones included.
blobStoreContract(
  'local folder with inline blobs up to 100 bytes',
  async () => {
    const dir = freshDir();
    return { store: await open(dir, 100), leftovers: leftovers(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
  { largeBytes: 1024 * 1024 },
);

describe('inline small blobs', () => {
  test('a body up to the limit is kept inline, one byte more becomes a file', async () => {
    const dir = freshDir();
    const store = await open(dir);
    try {
      const small = randomBytes(INLINE_MAX_BYTES);
      const big = randomBytes(INLINE_MAX_BYTES + 1);
      const a = await store.put(Readable.from(chunked(small)));
      const b = await store.put(Readable.from(chunked(big)));
      assert.deepEqual(inlineRefs(dir), [`inline:${a.ref}`]);
      assert.deepEqual(blobFiles(dir), [join(b.ref.slice(0, 2), b.ref.slice(2, 4), b.ref)]);
      assert.ok((await readAll(store.get(a.ref))).equals(small));
      assert.ok((await readAll(store.get(b.ref))).equals(big));
      assert.ok((await readAll(store.get(a.ref, { start: 5, end: 9 }))).equals(small.subarray(5, 10)));
      // At once, for a small GET: the inline blob and a range of it; a file blob is streamed instead.
      assert.ok(store.getInline!(a.ref, small.length)!.equals(small));
      assert.ok(store.getInline!(a.ref, small.length, { start: 5, end: 9 })!.equals(small.subarray(5, 10)));
      assert.equal(store.getInline!(b.ref, big.length), undefined);
      // A size above the limit is answered without a lookup (a blob kept inline under a larger
      // limit is still read, streamed by get()).
      assert.equal(store.getInline!(a.ref, INLINE_MAX_BYTES + 1), undefined);
      const listed = [];
      for await (const e of store.list()) listed.push(e.ref);
      assert.deepEqual(listed.sort(), [a.ref, b.ref].sort());
      await store.delete(a.ref);
      await store.delete(b.ref);
      assert.deepEqual(await leftovers(dir)(), []);
    } finally {
      await store.close();
    }
  });

  test('an inline blob is on disk once put resolves: a reopened store reads it', async () => {
    const dir = freshDir();
    const data = randomBytes(4096);
    const first = await open(dir);
    const { ref } = await first.put(Readable.from([data]));
    await first.close();
    const second = await open(dir);
    try {
      assert.ok((await readAll(second.get(ref))).equals(data));
    } finally {
      await second.close();
    }
  });

  test('list pages through many inline blobs', async () => {
    const dir = freshDir();
    const store = await open(dir);
    try {
      const refs = await Promise.all(Array.from({ length: 2100 }, (_, i) => store.put(Readable.from([Buffer.from(`blob ${i}`)])).then((r) => r.ref)));
      const listed: string[] = [];
      for await (const e of store.list()) listed.push(e.ref);
      assert.deepEqual(listed, [...refs].sort());
    } finally {
      await store.close();
    }
  });
});
