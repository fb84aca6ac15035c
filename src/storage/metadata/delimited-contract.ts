// The contract of MetadataStore.listDelimited (a delimiter listing walked in one statement), part
// of the store contract (contract.ts): every store must agree with the plain definition below
// for tricky keys, prefixes, delimiters, bounds and limits.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DelimitedEntry, DelimitedListQuery, MetadataStore } from './metadata-store.js';
import { compareUtf8, prefixSuccessor } from './key-order.js';

const KEYS = [
  'a', 'a/', 'a/b', 'a/b/c', 'a//x', 'a/b//', 'ab', 'ab/cd/ef', 'abcabc', 'ab\u00e9cd', 'a\u00e9/1', 'a\u00e9\u00e9',
  '\u00e9/x', '\u00e9t\u00e9/1', 'x\u{1f600}y\u{1f600}z', 'x\u{1f600}', '\u{1f600}/', 'a\uffff/x', 'a\uffff\u{10000}',
  'a\u{10000}/', 'a\u{10ffff}/z', 'a\u{10ffff}', 'photos/2024/jan.jpg', 'photos/2024/feb.jpg', 'photos/2025/mar.jpg',
  'photos/readme', 'p/q', 'sp ace/1', 'plus+/1', 'dir/sub/', 'dir/sub/x', 'dir/subx', 'dirx', 'k\uffffz', 'k\uffff\uffffz',
  'k\ufffe', 'k\uffff\u{10000}', 'q\ud7ff/1', 'q\ue000/1', 'q\ud7ff\ue000',
];

/** The entries the walk must return, computed the plain way over the keys in byte order. */
function expected(keys: string[], q: DelimitedListQuery): string[] {
  const out: string[] = [];
  for (const key of [...keys].sort(compareUtf8)) {
    if (out.length >= q.limit) break;
    if (!key.startsWith(q.range)) continue;
    if (q.after !== undefined && compareUtf8(key, q.after) <= 0) continue;
    if (q.from !== undefined && compareUtf8(key, q.from) < 0) continue;
    const idx = key.indexOf(q.delimiter, q.prefix.length);
    const entry = idx >= 0 ? `P:${key.slice(0, idx + q.delimiter.length)}` : `K:${key}`;
    if (out[out.length - 1] !== entry) out.push(entry);
  }
  return out;
}

const shown = (entries: DelimitedEntry[]) => entries.map((e) => (typeof e === 'string' ? `P:${e}` : `K:${e.key}`));

export function delimitedListingContract(withBucket: (fn: (s: MetadataStore, bucketId: string) => Promise<void>) => Promise<void>): void {
  async function withKeys(fn: (s: MetadataStore, bucketId: string) => Promise<void>): Promise<void> {
    await withBucket(async (s, bucketId) => {
      for (const key of KEYS) await s.putObject(objectAt(bucketId, key), { kind: 'none' });
      await fn(s, bucketId);
    });
  }

  describe('listDelimited', () => {
    test('agrees with the plain definition for tricky prefixes, delimiters, bounds and limits', () =>
      withKeys(async (s, bucketId) => {
        const delimiters = ['/', '//', 'b', 'bc', '\u00e9', '\u{1f600}', '\uffff', 'a\u{10ffff}', '\ud7ff', 'é/'];
        const prefixes = ['', 'a', 'a/', 'a/b', 'photos/', 'dir/', 'k\uffff', 'x\u{1f600}', 'q', 'zzz'];
        for (const delimiter of delimiters) {
          for (const prefix of prefixes) {
            const bounds: Array<{ after?: string; from?: string }> = [{}, { after: `${prefix}a` }, { from: `${prefix}b` }, { after: `${prefix}\u{10000}`, from: `${prefix}/` }];
            for (const bound of bounds) {
              for (const limit of [0, 1, 3, 1000]) {
                const q: DelimitedListQuery = { range: prefix, prefix, delimiter, limit, ...bound };
                const got = await s.listDelimited(bucketId, q);
                assert.ok(got !== null, `walkable: ${JSON.stringify(q)}`);
                assert.deepEqual(shown(got), expected(KEYS, q), JSON.stringify(q));
              }
            }
          }
        }
      }));

    test('a range inside the prefix (a scoped token) cuts common prefixes at the prefix', () =>
      withKeys(async (s, bucketId) => {
        for (const [range, prefix] of [['photos/2024/', 'photos/'], ['photos/2024/', ''], ['a/b', 'a/'], ['dir/sub', 'dir/']]) {
          const q: DelimitedListQuery = { range, prefix, delimiter: '/', limit: 1000 };
          assert.deepEqual(shown((await s.listDelimited(bucketId, q))!), expected(KEYS, q), JSON.stringify(q));
        }
      }));

    test('paging past each entry visits every one once, in byte order', () =>
      withKeys(async (s, bucketId) => {
        for (const [prefix, delimiter] of [['', '/'], ['a', '/'], ['', '\u{1f600}'], ['k', '\uffff'], ['', 'a\u{10ffff}']]) {
          const seen: string[] = [];
          let after: string | undefined;
          let from: string | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = (await s.listDelimited(bucketId, { range: prefix, prefix, delimiter, after, from, limit: 2 }))!;
            seen.push(...shown(page));
            if (page.length < 2) break;
            const last = page[page.length - 1];
            if (typeof last === 'string') [after, from] = [undefined, prefixSuccessor(last) ?? undefined];
            else [after, from] = [last.key, undefined];
          }
          assert.deepEqual(seen, expected(KEYS, { range: prefix, prefix, delimiter, limit: 1000 }), `prefix=${prefix} delimiter=${delimiter}`);
        }
      }));

    test('entries are the objects summaries; common prefixes are strings', () =>
      withKeys(async (s, bucketId) => {
        const [entry] = (await s.listDelimited(bucketId, { range: 'photos/readme', prefix: 'photos/', delimiter: '/', limit: 1 }))!;
        assert.equal(typeof entry, 'object');
        assert.deepEqual(entry, (await s.listObjects(bucketId, { prefix: 'photos/readme', limit: 1 }))[0]);
      }));

    test('listVersionPrefixes passes common prefixes over current objects and stored versions alike', () =>
      withBucket(async (s, bucketId) => {
        // Every key twice (a noncurrent version), every third one then deleted (a delete marker
        // over it: the key is in the stored versions only).
        let n = 0;
        for (const [i, key] of KEYS.entries()) {
          for (let v = 0; v < 2; v++) await s.putObject({ ...objectAt(bucketId, key), versionId: `v${++n}` }, { kind: 'none' }, 'enabled');
          if (i % 3 === 0) await s.putDeleteMarker({ bucketId, key, versionId: `m${++n}`, lastModified: new Date(1_700_000_003_000) }, 'enabled', () => true);
        }
        for (const delimiter of ['/', '\u00e9', '\u{1f600}', '\uffff', 'a\u{10ffff}']) {
          for (const prefix of ['', 'a', 'a/', 'photos/', 'k\uffff']) {
            for (const bound of [{}, { after: `${prefix}a` }, { from: `${prefix}b` }]) {
              for (const limit of [0, 1, 3, 1000]) {
                const q: DelimitedListQuery = { range: prefix, prefix, delimiter, limit, ...bound };
                // Common prefixes up to the first key outside them, which is where versions resume.
                const want = expected(KEYS, q);
                const cut = want.findIndex((e) => e.startsWith('K:'));
                const commonPrefixes = (cut < 0 ? want : want.slice(0, cut)).map((e) => e.slice(2));
                const resume = cut < 0 ? undefined : want[cut].slice(2);
                const got = await s.listVersionPrefixes(bucketId, q);
                assert.deepEqual(got, resume === undefined ? { commonPrefixes } : { commonPrefixes, resume }, JSON.stringify(q));
              }
            }
          }
        }
        assert.equal(await s.listVersionPrefixes(bucketId, { range: '', prefix: '', delimiter: '\u{10ffff}', limit: 10 }), null);
      }));

    test('what it cannot walk it declines: no delimiter, or one with no successor within it', () =>
      withKeys(async (s, bucketId) => {
        assert.equal(await s.listDelimited(bucketId, { range: '', prefix: '', delimiter: '', limit: 10 }), null);
        assert.equal(await s.listDelimited(bucketId, { range: '', prefix: '', delimiter: '\u{10ffff}', limit: 10 }), null);
        assert.equal(await s.listDelimited(bucketId, { range: '', prefix: '', delimiter: '\u{10ffff}\u{10ffff}', limit: 10 }), null);
        assert.equal(await s.listDelimited(bucketId, { range: 'a\u0000', prefix: 'a\u0000', delimiter: '/', limit: 10 }), null);
        assert.equal(await s.listDelimited(bucketId, { range: '', prefix: '', delimiter: '\ud800', limit: 10 }), null);
      }));
  });
}

function objectAt(bucketId: string, key: string) {
  return {
    bucketId, key, size: 1, etag: '"e"', lastModified: new Date(1_700_000_002_000), headers: {}, userMetadata: {}, checksum: null,
    blobs: [{ ref: `r${Buffer.from(key).toString('hex')}`, size: 1 }], partsCount: null, tags: {}, storageClass: 'STANDARD',
  };
}
