import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bucketRow, hex, newBlob, objectRow, partRow, projectRow, uploadRow } from './contract.js';
import type { MetadataStore } from './metadata-store.js';
import { snapshotSqliteBlobReferences } from './sqlite-blob-references.js';
import { insertObjectsLike } from './sqlite-bulk-objects.js';
import { openSqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skep-blob-refs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function withStore(fn: (s: MetadataStore, file: string, bucketId: string) => Promise<void>): Promise<void> {
  const file = join(dir, `meta-${++n}.sqlite`);
  const s = await openSqliteStore(file, { blobLedger: false });
  try {
    const p = projectRow();
    await s.createProject(p);
    const b = bucketRow(p.id, 'b');
    await s.createBucket(b);
    await fn(s, file, b.id);
  } finally {
    await s.close();
  }
}

/** Inserts `count` object rows like the bucket's first one (new keys, one new blob each) straight into the file. */
function insertObjects(file: string, bucketId: string, count: number): string[] {
  const random = randomBytes(16 * count);
  const refs = Array.from({ length: count }, (_, i) => random.toString('hex', 16 * i, 16 * (i + 1)));
  insertObjectsLike(file, bucketId, count, (i) => ({ key: `bulk/${String(i).padStart(8, '0')}`, blobs: JSON.stringify([{ ref: refs[i], size: 1 }]) }));
  return refs;
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('the blob reference snapshot on SQLite', () => {
  test('answers for objects (every blob), versions and parts, at any page size, and nothing released', () =>
    withStore(async (s, file, bucketId) => {
      const want: string[] = [];
      for (const key of ['a', 'b', 'c', 'd', 'e']) {
        const o = objectRow(bucketId, key, { blobs: [newBlob(), newBlob()] });
        await s.putObject(o, { kind: 'none' });
        want.push(...o.blobs.map((x) => x.ref));
      }
      for (let i = 1; i <= 4; i++) {
        const v = objectRow(bucketId, 'v', { versionId: `version-${i}`, blobs: [newBlob()] });
        assert.ok((await s.putObject(v, { kind: 'none' }, 'enabled', () => true)).ok);
        want.push(v.blobs[0].ref);
      }
      assert.ok((await s.putDeleteMarker({ bucketId, key: 'v', versionId: 'marker', lastModified: new Date() }, 'enabled', () => true)).ok);
      for (const key of ['m', 'n']) {
        const u = uploadRow(bucketId, key);
        await s.createUpload(u);
        for (let part = 1; part <= 3; part++) {
          const p = partRow(u.uploadId, part);
          await s.putPart(p);
          want.push(p.blob.ref);
        }
      }
      const replaced = objectRow(bucketId, 'gone');
      await s.putObject(replaced, { kind: 'none' });
      await s.deleteObject(bucketId, 'gone');
      const unknown = [hex(16), hex(16), replaced.blobs[0].ref];

      for (const pageSize of [1, 2, 3, 1000]) {
        const snapshot = await snapshotSqliteBlobReferences(file, pageSize);
        try {
          assert.deepEqual(await snapshot.referenced([...want, ...unknown]), new Set(want), `pages of ${pageSize}`);
          assert.deepEqual(await snapshot.referenced(unknown), new Set());
        } finally {
          await snapshot.close();
        }
      }
      assert.equal(existsSync(`${file}.orphan-sweep`), false, 'the scratch file goes with the snapshot');
      // Through the store's interface too.
      const snapshot = await s.snapshotBlobReferences();
      assert.deepEqual(await snapshot.referenced([...want, ...unknown]), new Set(want));
      await snapshot.close();
    }));

  test('is one snapshot, copied while the store goes on writing', () =>
    withStore(async (s, file, bucketId) => {
      await s.putObject(objectRow(bucketId, 'template'), { kind: 'none' });
      const old = insertObjects(file, bucketId, 20_000);
      let copying = true;
      const building = snapshotSqliteBlobReferences(file, 5).finally(() => (copying = false));
      // Writes commit (on the store's own connection) while the copy is under way.
      const during: string[] = [];
      let committedWhileCopying = 0;
      for (let i = 0; copying && i < 1000; i++) {
        const o = objectRow(bucketId, `during/${i}`);
        await s.putObject(o, { kind: 'none' });
        during.push(o.blobs[0].ref);
        if (copying) committedWhileCopying++;
      }
      const snapshot = await building;
      try {
        assert.ok(committedWhileCopying > 0, 'the store wrote while the copy ran');
        assert.deepEqual(await snapshot.referenced(old), new Set(old));
        // Rows committed after the snapshot began are not in it (the sweep spares new blobs by their age).
        const seen = await snapshot.referenced(during);
        assert.ok(seen.size < during.length, `${seen.size} of ${during.length} writes made during the copy were in the snapshot`);
      } finally {
        await snapshot.close();
      }
    }));

  test('one at a time: a second snapshot waits until the first closes', () =>
    withStore(async (s, file, bucketId) => {
      const o = objectRow(bucketId, 'k');
      await s.putObject(o, { kind: 'none' });
      const ref = o.blobs[0].ref;
      const first = await snapshotSqliteBlobReferences(file);
      let secondOpen = false;
      const second = snapshotSqliteBlobReferences(file).then((snapshot) => ((secondOpen = true), snapshot));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(secondOpen, false);
      assert.deepEqual(await first.referenced([ref]), new Set([ref]));
      await first.close();
      const next = await second;
      assert.deepEqual(await next.referenced([ref]), new Set([ref]), 'a scratch file of its own');
      await next.close();
      assert.equal(existsSync(`${file}.orphan-sweep`), false);
    }));

  test('keeps the refs on disk: memory does not grow with them', () =>
    withStore(async (s, file, bucketId) => {
      await s.putObject(objectRow(bucketId, 'template'), { kind: 'none' });
      const count = 150_000;
      const refs = insertObjects(file, bucketId, count);
      const sample = refs.filter((_, i) => i % 1000 === 0);
      const before = heapAfterGc();
      const snapshot = await snapshotSqliteBlobReferences(file);
      try {
        const grown = heapAfterGc() - before;
        // The refs held in a Set would take about 5 MiB of heap.
        assert.ok(grown < 2 * 2 ** 20, `the heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
        assert.deepEqual(await snapshot.referenced(sample), new Set(sample));
      } finally {
        await snapshot.close();
      }
    }));

  test('a snapshot stopped midway (the server stopping) removes its scratch file and lets the next one open', () =>
    withStore(async (s, file, bucketId) => {
      await s.putObject(objectRow(bucketId, 'template'), { kind: 'none' });
      const [ref] = insertObjects(file, bucketId, 50);
      const stop = new AbortController();
      const stopped = snapshotSqliteBlobReferences(file, 10, stop.signal);
      stop.abort();
      await assert.rejects(stopped, { name: 'AbortError' });
      assert.equal(existsSync(`${file}.orphan-sweep`), false, 'no scratch file left');
      const next = await snapshotSqliteBlobReferences(file, 10);
      try {
        assert.deepEqual(await next.referenced([ref]), new Set([ref]));
      } finally {
        await next.close();
      }
    }));
});
