import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openSqliteStore } from '../storage/metadata/sqlite-store.js';
import type { MetadataStore, ObjectRow } from '../storage/metadata/metadata-store.js';
import { listPage, listVersionsPage, type ListingPage } from './listing.js';
import { compareUtf8 } from '../storage/metadata/key-order.js';

// The paging engine against a real SQLite store: every page walk must visit each entry exactly
// once, in UTF-8 byte order, whatever the page size, prefix and delimiter.

async function storeWith(keys: string[]): Promise<{ meta: MetadataStore; bucketId: string }> {
  const meta = await openSqliteStore(':memory:');
  await meta.createProject({ id: 'p', name: 'p', createdAt: new Date(), maxTokenDays: null });
  await meta.createBucket({ id: 'b', projectId: 'p', name: 'bucket', region: 'us-east-1', createdAt: new Date() });
  for (const key of keys) {
    const row: ObjectRow = {
      bucketId: 'b', key, size: 1, etag: '"x"', lastModified: new Date(), headers: {}, userMetadata: {},
      checksum: null, blobs: [{ ref: randomBytes(8).toString('hex'), size: 1 }], partsCount: null, tags: {}, storageClass: 'STANDARD',
    };
    await meta.putObject(row, { kind: 'none' });
  }
  return { meta, bucketId: 'b' };
}

/** What one unpaged listing must return, computed the simple way. */
function expected(keys: string[], prefix: string, delimiter: string): string[] {
  const out = new Set<string>();
  for (const key of [...keys].sort(compareUtf8)) {
    if (!key.startsWith(prefix)) continue;
    const idx = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    out.add(idx >= 0 ? `P:${key.slice(0, idx + delimiter.length)}` : `K:${key}`);
  }
  return [...out];
}

function entries(page: ListingPage): string[] {
  // Contents and prefixes interleave in key order.
  return [...page.contents.map((c) => `K:${c.key}`), ...page.commonPrefixes.map((p) => `P:${p}`)].sort((a, b) => compareUtf8(a.slice(2), b.slice(2)));
}

async function walk(meta: MetadataStore, bucketId: string, prefix: string, delimiter: string, maxKeys: number, within?: string[]): Promise<string[]> {
  const seen: string[] = [];
  let marker: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await listPage(meta, bucketId, { prefix, delimiter, marker, maxKeys, within });
    assert.ok(page.contents.length + page.commonPrefixes.length <= maxKeys);
    seen.push(...entries(page));
    if (!page.isTruncated) return seen;
    assert.ok(page.last, 'a truncated page names where to resume');
    marker = page.last;
  }
  throw new Error('listing did not terminate');
}

/**
 * The store, counting the listing reads made through it: batches of rows (listObjects) and the
 * rows they returned, and walks (listDelimited) and the entries they returned. With `walks`
 * false, the store declines every walk (as one that cannot walk a listing does).
 */
function countingReads(meta: MetadataStore, walks = true) {
  const reads = { queries: 0, rows: 0, walks: 0, entries: 0 };
  const counting = new Proxy(meta, {
    get(target, prop, receiver) {
      if (prop === 'listObjects') {
        return async (...args: Parameters<MetadataStore['listObjects']>) => {
          reads.queries++;
          const out = await target.listObjects(...args);
          reads.rows += out.length;
          return out;
        };
      }
      if (prop === 'listDelimited') {
        return async (...args: Parameters<MetadataStore['listDelimited']>) => {
          if (!walks) return null;
          reads.walks++;
          const out = await target.listDelimited(...args);
          reads.entries += out?.length ?? 0;
          return out;
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { counting, reads };
}

const KEYS = [
  'a', 'a/1', 'a/2', 'a/b/1', 'a/b/2', 'a/c', 'ab', 'b/x', 'b/y/z', 'c', 'photos/2024/jan.jpg', 'photos/2024/feb.jpg',
  'photos/2025/mar.jpg', 'photos/readme', 'z', '\u00e9t\u00e9/1', '\uffff/x', '\u{1F600}/emoji', '\ue000', '\u{10000}',
  'dir//double', 'dir/', 'dir/x', 'sp ace/1', 'plus+/1',
];

test('every page size visits each entry exactly once, in byte order', async () => {
  const { meta, bucketId } = await storeWith(KEYS);
  for (const [prefix, delimiter] of [['', ''], ['', '/'], ['a/', '/'], ['photos/', '/'], ['photos/2024/', '/'], ['a', 'b'], ['', '//'], ['dir/', '/']]) {
    const want = expected(KEYS, prefix, delimiter);
    for (const maxKeys of [1, 2, 3, 7, 1000]) {
      assert.deepEqual(await walk(meta, bucketId, prefix, delimiter, maxKeys), want, `prefix=${prefix} delimiter=${delimiter} maxKeys=${maxKeys}`);
    }
  }
  await meta.close();
});

test('a common prefix as marker resumes after all of its keys', async () => {
  const { meta, bucketId } = await storeWith(KEYS);
  const page = await listPage(meta, bucketId, { prefix: '', delimiter: '/', marker: 'a/', maxKeys: 2 });
  assert.deepEqual(entries(page), ['K:ab', 'P:b/']);
  await meta.close();
});

test('a key marker inside a common prefix still rolls later keys into that prefix', async () => {
  const { meta, bucketId } = await storeWith(KEYS);
  const page = await listPage(meta, bucketId, { prefix: '', delimiter: '/', marker: 'a/1', maxKeys: 2 });
  assert.deepEqual(entries(page), ['P:a/', 'K:ab']);
  await meta.close();
});

test('a page of 1000 under many rolled-up keys is one small read, then one walk of the store', async () => {
  const keys: string[] = [];
  for (let d = 0; d < 30; d++) for (let f = 0; f < 200; f++) keys.push(`dir${String(d).padStart(2, '0')}/file${f}`);
  keys.push('dir15-plain', 'dir29/');
  const { meta, bucketId } = await storeWith(keys);
  const { counting, reads } = countingReads(meta);
  const page = await listPage(counting, bucketId, { prefix: '', delimiter: '/', maxKeys: 1000 });
  assert.deepEqual(entries(page), expected(keys, '', '/'));
  assert.equal(page.isTruncated, false);
  // The first read (of dir00/) shows the prefixes are large; the walk passes each of the rest with one seek.
  assert.deepEqual(reads, { queries: 1, rows: 64, walks: 1, entries: 30 });
  await meta.close();
});

test('a store that cannot walk a listing gets one seek per common prefix, not a scan', async () => {
  const keys: string[] = [];
  for (let d = 0; d < 30; d++) for (let f = 0; f < 200; f++) keys.push(`dir${String(d).padStart(2, '0')}/file${f}`);
  const { meta, bucketId } = await storeWith(keys);
  const { counting, reads } = countingReads(meta, false);
  const page = await listPage(counting, bucketId, { prefix: '', delimiter: '/', maxKeys: 1000 });
  assert.equal(page.commonPrefixes.length, 30);
  assert.equal(page.isTruncated, false);
  assert.ok(reads.queries <= 31, `expected one query per common prefix, got ${reads.queries}`);
  // The first read shows the prefixes are large; after it, each is one seek of a few rows.
  assert.ok(reads.rows <= 64 + 30 * 8, `${reads.rows} rows read`);
  await meta.close();
});

test('the walk carries on across pages and scoped ranges, from keys and common prefixes alike', async () => {
  // Large prefixes (the walk), keys between them, and ranges that split a folder.
  const keys: string[] = [];
  for (let d = 0; d < 12; d++) for (let f = 0; f < 20; f++) keys.push(`d${String(d).padStart(2, '0')}/${f % 2 ? 'x' : 'y'}/f${f}`);
  keys.push('d05', 'd05/', 'd05-', 'e/\u{1F600}/1', 'e/\uffff/1', 'e/\u00e9', 'e/z');
  const { meta, bucketId } = await storeWith(keys);
  const { counting, reads } = countingReads(meta);
  for (const [prefix, delimiter] of [['', '/'], ['d05/', '/'], ['e/', '/'], ['', 'f1'], ['d0', '/x/']]) {
    for (const maxKeys of [1, 2, 5, 1000]) {
      assert.deepEqual(await walk(counting, bucketId, prefix, delimiter, maxKeys), expected(keys, prefix, delimiter), `prefix=${prefix} delimiter=${delimiter} maxKeys=${maxKeys}`);
    }
  }
  const allowed = ['d03/x/', 'd03/y/', 'd07/', 'e/\u00e9', 'e/\uffff'];
  const visible = keys.filter((k) => allowed.some((p) => k.startsWith(p)));
  for (const [prefix, delimiter] of [['', '/'], ['d03/', '/'], ['e/', '/']]) {
    const within = allowed.filter((p) => p.startsWith(prefix)).sort(compareUtf8);
    for (const maxKeys of [1, 2, 1000]) {
      assert.deepEqual(await walk(counting, bucketId, prefix, delimiter, maxKeys, within), expected(visible, prefix, delimiter), `within: prefix=${prefix} maxKeys=${maxKeys}`);
    }
  }
  assert.ok(reads.walks > 0, 'the store walked');
  await meta.close();
});

test('small common prefixes are walked within each read, not sought one by one', async () => {
  // 3000 prefixes of 2 keys (and a few plain keys between them): the walk reads each row about once.
  const keys: string[] = [];
  for (let d = 0; d < 3000; d++) {
    keys.push(`d${String(d).padStart(5, '0')}/a`, `d${String(d).padStart(5, '0')}/b`);
    if (d % 500 === 0) keys.push(`d${String(d).padStart(5, '0')}-plain`);
  }
  const { meta, bucketId } = await storeWith(keys);
  const { counting, reads } = countingReads(meta);
  const page = await listPage(counting, bucketId, { prefix: '', delimiter: '/', maxKeys: 1000 });
  assert.equal(page.commonPrefixes.length + page.contents.length, 1000);
  assert.equal(page.isTruncated, true);
  assert.deepEqual(entries(page), expected(keys, '', '/').slice(0, 1000));
  assert.ok(reads.queries <= 4 && reads.rows <= 4 * 1001, `${reads.queries} reads of ${reads.rows} rows for a page of 1000 entries`);
  assert.deepEqual(await walk(counting, bucketId, '', '/', 1000), expected(keys, '', '/'));
  await meta.close();
});

test('a listing within prefixes (a prefix-scoped token) shows only their keys, folders above them included', async () => {
  const { meta, bucketId } = await storeWith(KEYS);
  const allowed = ['a/b/', 'photos/2024/', 'photos/r', '\u{1F600}/'];
  const visible = KEYS.filter((k) => allowed.some((p) => k.startsWith(p)));
  for (const [prefix, delimiter] of [['', ''], ['', '/'], ['a/', '/'], ['photos/', '/'], ['photos/', ''], ['p', '/']]) {
    const within = allowed.filter((p) => p.startsWith(prefix)).sort(compareUtf8);
    const want = expected(visible, prefix, delimiter);
    for (const maxKeys of [1, 2, 3, 1000]) {
      assert.deepEqual(await walk(meta, bucketId, prefix, delimiter, maxKeys, within), want, `prefix=${prefix} delimiter=${delimiter} maxKeys=${maxKeys}`);
    }
  }
  // Two allowed prefixes under one folder: the folder is listed once.
  const page = await listPage(meta, bucketId, { prefix: '', delimiter: '/', maxKeys: 10, within: ['photos/2024/', 'photos/r'] });
  assert.deepEqual(entries(page), ['P:photos/']);
  await meta.close();
});

/** A SQLite store holding `versions` versions of each of `keys` (and delete markers on some). */
async function storeWithVersions(keys: string[], versions: (key: string) => number, markers: (key: string) => boolean) {
  const { meta, bucketId } = await storeWith([]);
  let n = 0;
  for (const key of keys) {
    for (let i = 0; i < versions(key); i++) {
      const row: ObjectRow = {
        bucketId, key, size: 1, etag: '"x"', lastModified: new Date(1_700_000_000_000 + ++n * 1000), headers: {}, userMetadata: {},
        checksum: null, blobs: [{ ref: randomBytes(8).toString('hex'), size: 1 }], partsCount: null, tags: {}, storageClass: 'STANDARD',
        versionId: `v${String(n).padStart(4, '0')}`,
      };
      assert.equal((await meta.putObject(row, { kind: 'none' }, 'enabled')).ok, true);
    }
    if (markers(key)) {
      await meta.putDeleteMarker({ bucketId, key, versionId: `m${String(++n).padStart(4, '0')}`, lastModified: new Date(1_700_000_000_000 + n * 1000) }, 'enabled', () => true);
    }
  }
  return { meta, bucketId };
}

/** Every page of a version listing, entries in listing order, checked against the unpaged listing rolled up. */
async function checkVersionPaging(meta: MetadataStore, bucketId: string, cases: string[][], pageSizes: number[]): Promise<void> {
  const all = await meta.listObjectVersions(bucketId, { prefix: '', limit: 100_000 });
  for (const [prefix, delimiter] of cases) {
    const want: string[] = [];
    for (const v of all) {
      if (!v.key.startsWith(prefix)) continue;
      const idx = v.key.indexOf(delimiter, prefix.length);
      const entry = idx >= 0 ? `P:${v.key.slice(0, idx + delimiter.length)}` : `V:${v.key}@${v.versionId}`;
      if (want[want.length - 1] !== entry) want.push(entry);
    }
    for (const maxKeys of pageSizes) {
      const seen: string[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await listVersionsPage(meta, bucketId, { prefix, delimiter, keyMarker, versionIdMarker, maxKeys });
        const entries = [...page.versions.map((v) => ({ key: v.key, s: `V:${v.key}@${v.versionId}` })), ...page.commonPrefixes.map((p) => ({ key: p, s: `P:${p}` }))];
        assert.ok(entries.length <= maxKeys);
        // Stable: a key's versions keep their order.
        seen.push(...entries.sort((a, b) => compareUtf8(a.key, b.key)).map((e) => e.s));
        if (!page.isTruncated) break;
        keyMarker = page.nextKeyMarker;
        versionIdMarker = page.nextVersionIdMarker;
      }
      assert.deepEqual(seen, want, `prefix=${prefix} delimiter=${delimiter} maxKeys=${maxKeys}`);
    }
  }
}

/** The store, counting the walks of version listings made through it. */
function countingVersionWalks(meta: MetadataStore) {
  const reads = { walks: 0 };
  const counting = new Proxy(meta, {
    get(target, prop, receiver) {
      if (prop === 'listVersionPrefixes') {
        return (...args: Parameters<MetadataStore['listVersionPrefixes']>) => {
          reads.walks++;
          return target.listVersionPrefixes(...args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { counting, reads };
}

test('version listings pass large common prefixes in the store and page every version exactly once', async () => {
  // Versions (two per key), delete markers and a key equal to a folder's name, around folders of many keys.
  const keys: string[] = [];
  for (let d = 0; d < 8; d++) for (let f = 0; f < 6; f++) keys.push(`v${d}/f${f}`);
  keys.push('v3', 'v5/', 'v5-', 'w', '\u00e9/1', '\u{1F600}/1', '\uffff/1');
  const { meta, bucketId } = await storeWithVersions(keys, () => 2, (key) => key.endsWith('f2') || key === 'w');
  const { counting, reads } = countingVersionWalks(meta);
  await checkVersionPaging(counting, bucketId, [['', '/'], ['v5', '/'], ['', 'f'], ['v', '/f']], [1, 2, 5, 1000]);
  assert.ok(reads.walks > 0, 'the store walked');
  await meta.close();
});

test('a version listing never walks from inside a key: its remaining versions come first', async () => {
  // Folders of ten keys (a walk), then 'm' (2 versions), 'n/' (61 keys) and 'o' (5 versions): the
  // read after the walk ends inside 'o', having seen large prefixes.
  const keys: string[] = [];
  for (let d = 0; d < 10; d++) for (let f = 0; f < 10; f++) keys.push(`a${d}/${f}`);
  keys.push('m');
  for (let f = 0; f < 61; f++) keys.push(`n/${String(f).padStart(2, '0')}`);
  keys.push('o', 'p/1');
  const { meta, bucketId } = await storeWithVersions(keys, (key) => (key === 'm' ? 2 : key === 'o' ? 5 : 1), () => false);
  const { counting, reads } = countingVersionWalks(meta);
  await checkVersionPaging(counting, bucketId, [['', '/']], [1000]);
  assert.ok(reads.walks > 0, 'the store walked');
  await meta.close();
});
