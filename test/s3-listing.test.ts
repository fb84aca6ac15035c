import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type _Object,
  type CommonPrefix,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { raw, xmlField } from './helpers/raw-s3.js';

// ListObjects (v1) and ListObjectsV2: prefix, delimiter, max-keys, marker, start-after,
// continuation tokens, encoding-type=url, fetch-owner, and UTF-8 byte order.

let server: TestServer;
let s3: S3Client;
let n = 0;
const bucketName = (tag: string) => `lst-${tag}-${process.pid}-${++n}`;

/** S3 orders keys by their UTF-8 bytes. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

async function putAll(bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 40) {
    await Promise.all(keys.slice(i, i + 40).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
  }
}

async function newBucket(tag: string, keys: string[] = []): Promise<string> {
  const name = bucketName(tag);
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  await putAll(name, keys);
  return name;
}

/** What a listing of `keys` must return: keys and common prefixes, in byte order. */
function expectedEntries(keys: string[], prefix: string, delimiter: string, after = ''): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue;
    const idx = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
    const entry = idx >= 0 ? k.slice(0, idx + delimiter.length) : k;
    if (after && byteOrder(entry, after) <= 0 && !(idx >= 0 && byteOrder(k, after) > 0 && !after.startsWith(entry))) continue;
    out.add(entry);
  }
  return [...out].sort(byteOrder);
}

/** Entries of one page, merged in byte order. */
function pageEntries(contents: _Object[] | undefined, prefixes: CommonPrefix[] | undefined): string[] {
  return [...(contents ?? []).map((o) => o.Key!), ...(prefixes ?? []).map((p) => p.Prefix!)].sort(byteOrder);
}

// 300 keys three levels deep plus a few at the top.
const TREE: string[] = [];
for (let d = 0; d < 10; d++) for (let s = 0; s < 5; s++) for (let f = 0; f < 6; f++) TREE.push(`d${d}/s${s}/f${f}`);
TREE.push('top-a', 'top-b', 'zz');

let tree: string;

before(async () => {
  server = await startTestServer();
  s3 = server.client();
  tree = await newBucket('tree', TREE);
});
after(() => server.stop());

describe('ListObjectsV2', () => {
  test('lists everything in byte order with sizes, ETags and KeyCount', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: tree }));
    assert.equal(res.KeyCount, TREE.length);
    assert.equal(res.IsTruncated, false);
    assert.equal(res.MaxKeys, 1000);
    assert.deepEqual(res.Contents!.map((o) => o.Key), [...TREE].sort(byteOrder));
    const first = res.Contents![0];
    assert.equal(first.Size, Buffer.byteLength(first.Key!));
    assert.match(first.ETag!, /^"[0-9a-f]{32}"$/);
    assert.ok(first.LastModified instanceof Date);
    assert.equal(first.StorageClass, 'STANDARD');
    assert.equal(first.Owner, undefined, 'no owner without fetch-owner');
  });

  test('fetch-owner adds the owner to each entry', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: tree, FetchOwner: true, MaxKeys: 3 }));
    assert.equal(res.Contents!.length, 3);
    for (const o of res.Contents!) assert.ok(o.Owner?.ID, 'owner id present');
  });

  test('prefix and delimiter roll keys up into CommonPrefixes', async () => {
    const top = await s3.send(new ListObjectsV2Command({ Bucket: tree, Delimiter: '/' }));
    assert.deepEqual(top.CommonPrefixes!.map((p) => p.Prefix), Array.from({ length: 10 }, (_, d) => `d${d}/`));
    assert.deepEqual(top.Contents!.map((o) => o.Key), ['top-a', 'top-b', 'zz']);
    assert.equal(top.KeyCount, 13);
    assert.equal(top.Delimiter, '/');

    const mid = await s3.send(new ListObjectsV2Command({ Bucket: tree, Prefix: 'd3/', Delimiter: '/' }));
    assert.deepEqual(mid.CommonPrefixes!.map((p) => p.Prefix), ['d3/s0/', 'd3/s1/', 'd3/s2/', 'd3/s3/', 'd3/s4/']);
    assert.equal(mid.Contents, undefined);
    assert.equal(mid.Prefix, 'd3/');

    const leaf = await s3.send(new ListObjectsV2Command({ Bucket: tree, Prefix: 'd3/s2/', Delimiter: '/' }));
    assert.deepEqual(leaf.Contents!.map((o) => o.Key), ['d3/s2/f0', 'd3/s2/f1', 'd3/s2/f2', 'd3/s2/f3', 'd3/s2/f4', 'd3/s2/f5']);

    const partial = await s3.send(new ListObjectsV2Command({ Bucket: tree, Prefix: 'top' }));
    assert.deepEqual(partial.Contents!.map((o) => o.Key), ['top-a', 'top-b']);

    const none = await s3.send(new ListObjectsV2Command({ Bucket: tree, Prefix: 'nothing-here/' }));
    assert.equal(none.KeyCount, 0);
    assert.equal(none.Contents, undefined);

    // A delimiter other than '/'.
    const dash = await s3.send(new ListObjectsV2Command({ Bucket: tree, Prefix: 'top', Delimiter: '-' }));
    assert.deepEqual(dash.CommonPrefixes!.map((p) => p.Prefix), ['top-']);
  });

  for (const delimiter of ['', '/']) {
    for (const prefix of ['', 'd4/']) {
      test(`continuation tokens with max-keys 7 visit every entry once (prefix "${prefix}", delimiter "${delimiter}")`, async () => {
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        let lastOfPrevious = '';
        for (;;) {
          const res = await s3.send(new ListObjectsV2Command({ Bucket: tree, MaxKeys: 7, ContinuationToken: token, Delimiter: delimiter || undefined, Prefix: prefix || undefined }));
          pages++;
          const entries = pageEntries(res.Contents, res.CommonPrefixes);
          assert.equal(res.KeyCount, entries.length);
          assert.ok(entries.length <= 7);
          if (lastOfPrevious && entries.length) assert.ok(byteOrder(entries[0], lastOfPrevious) > 0, 'pages advance');
          if (entries.length) lastOfPrevious = entries[entries.length - 1];
          seen.push(...entries);
          if (token) assert.equal(res.ContinuationToken, token);
          if (!res.IsTruncated) {
            assert.equal(res.NextContinuationToken, undefined);
            break;
          }
          assert.equal(entries.length, 7, 'a truncated page is full');
          assert.ok(res.NextContinuationToken);
          token = res.NextContinuationToken;
          assert.ok(pages < 100);
        }
        const expected = expectedEntries(TREE, prefix, delimiter);
        assert.equal(new Set(seen).size, seen.length, 'no entry twice');
        assert.deepEqual(seen, expected);
        assert.equal(pages, Math.max(1, Math.ceil(expected.length / 7)));
      });
    }
  }

  test('start-after skips keys up to and including it; StartAfter is echoed', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: tree, StartAfter: 'd9/s4/f3' }));
    assert.deepEqual(res.Contents!.map((o) => o.Key), ['d9/s4/f4', 'd9/s4/f5', 'top-a', 'top-b', 'zz']);
    assert.equal(res.StartAfter, 'd9/s4/f3');
    // start-after inside a common prefix resumes within it.
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: tree, StartAfter: 'd8/s0/f0', Delimiter: '/' }));
    assert.deepEqual(pageEntries(grouped.Contents, grouped.CommonPrefixes), ['d8/', 'd9/', 'top-a', 'top-b', 'zz']);
    // A key that does not exist works as a position too.
    const between = await s3.send(new ListObjectsV2Command({ Bucket: tree, StartAfter: 'top-aa' }));
    assert.deepEqual(between.Contents!.map((o) => o.Key), ['top-b', 'zz']);
  });

  test('a malformed continuation token is an InvalidArgument', async () => {
    const err = await s3.send(new ListObjectsV2Command({ Bucket: tree, ContinuationToken: '!!not-a-token!!' })).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e as S3ServiceException,
    );
    assert.equal(err.name, 'InvalidArgument');
    assert.equal(err.$metadata.httpStatusCode, 400);
  });

  test('an empty continuation token is an InvalidArgument, not page one', async () => {
    const res = await raw(server, { method: 'GET', path: `/${tree}`, query: { 'list-type': '2', 'continuation-token': '' } });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
    assert.equal(xmlField(res.text, 'Message'), 'The continuation token provided is incorrect');
    assert.equal(xmlField(res.text, 'ArgumentName'), 'continuation-token');
  });

  test('max-keys 0 returns no entries, not truncated, with no continuation token', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: tree, MaxKeys: 0 }));
    assert.equal(res.KeyCount, 0);
    assert.equal(res.MaxKeys, 0);
    assert.equal(res.Contents, undefined);
    assert.equal(res.CommonPrefixes, undefined);
    assert.equal(res.IsTruncated, false);
    assert.equal(res.NextContinuationToken, undefined);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: tree, MaxKeys: 0, Delimiter: '/' }));
    assert.equal(v1.IsTruncated, false);
    assert.equal(v1.NextMarker, undefined);
    assert.equal(v1.Contents, undefined);
  });

  test('listing a missing bucket is NoSuchBucket', async () => {
    const err = await s3.send(new ListObjectsV2Command({ Bucket: bucketName('absent') })).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e as S3ServiceException,
    );
    assert.equal(err.name, 'NoSuchBucket');
    assert.equal(err.$metadata.httpStatusCode, 404);
  });
});

describe('ListObjects (v1)', () => {
  test('lists with Owner on each entry and Marker echoed', async () => {
    const res = await s3.send(new ListObjectsCommand({ Bucket: tree, Prefix: 'd0/s0/' }));
    assert.deepEqual(res.Contents!.map((o) => o.Key), ['d0/s0/f0', 'd0/s0/f1', 'd0/s0/f2', 'd0/s0/f3', 'd0/s0/f4', 'd0/s0/f5']);
    for (const o of res.Contents!) assert.ok(o.Owner?.ID);
    assert.equal(res.IsTruncated, false);
    const marked = await s3.send(new ListObjectsCommand({ Bucket: tree, Prefix: 'd0/s0/', Marker: 'd0/s0/f3' }));
    assert.deepEqual(marked.Contents!.map((o) => o.Key), ['d0/s0/f4', 'd0/s0/f5']);
    assert.equal(marked.Marker, 'd0/s0/f3');
  });

  for (const delimiter of ['', '/']) {
    test(`marker pagination with max-keys 7 visits every entry once (delimiter "${delimiter}")`, async () => {
      const seen: string[] = [];
      let marker: string | undefined;
      let pages = 0;
      for (;;) {
        const res = await s3.send(new ListObjectsCommand({ Bucket: tree, MaxKeys: 7, Marker: marker, Delimiter: delimiter || undefined }));
        pages++;
        const entries = pageEntries(res.Contents, res.CommonPrefixes);
        assert.ok(entries.length <= 7);
        seen.push(...entries);
        if (!res.IsTruncated) break;
        if (delimiter) {
          // With a delimiter S3 names where to resume (it may be a common prefix).
          assert.equal(res.NextMarker, entries[entries.length - 1]);
          marker = res.NextMarker;
        } else {
          // Without one, the client resumes from the last key.
          marker = res.Contents![res.Contents!.length - 1].Key;
        }
        assert.ok(pages < 100);
      }
      const expected = expectedEntries(TREE, '', delimiter);
      assert.equal(new Set(seen).size, seen.length, 'no entry twice');
      assert.deepEqual(seen, expected);
    });
  }
});

describe('special keys', () => {
  const SPECIAL = [
    'a b',
    'a+b',
    'a%b',
    'a%2Fb',
    '100% done?.txt',
    'q=1&r=2#frag',
    'dir with spaces/file name',
    'ключ',
    '日本語/キー',
    'e\u0301',
    '\u00e9',
    'smile \u{1F600}',
    '<tag>&amp;"\'',
    // A parser reads a raw CR (or CR LF) as LF: listings must write it as a character reference.
    'cr\rkey',
    'crlf\r\nkey',
    'tab\tkey',
  ];
  let special: string;
  before(async () => {
    special = await newBucket('special', SPECIAL);
  });

  test('keys come back exactly as written, in byte order', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: special }));
    assert.deepEqual(res.Contents!.map((o) => o.Key), [...SPECIAL].sort(byteOrder));
    for (const key of SPECIAL) {
      const got = await s3.send(new GetObjectCommand({ Bucket: special, Key: key }));
      assert.equal(await got.Body!.transformToString(), key);
    }
  });

  for (const version of ['v1', 'v2'] as const) {
    test(`encoding-type=url percent-encodes keys, prefixes and delimiters (${version})`, async () => {
      const params = { Bucket: special, EncodingType: 'url' as const, Delimiter: ' ' };
      const res = version === 'v2' ? await s3.send(new ListObjectsV2Command(params)) : await s3.send(new ListObjectsCommand(params));
      assert.equal(res.EncodingType, 'url');
      assert.equal(res.Delimiter, '%20');
      const keys = (res.Contents ?? []).map((o) => o.Key!);
      const prefixes = (res.CommonPrefixes ?? []).map((p) => p.Prefix!);
      for (const encoded of [...keys, ...prefixes]) {
        assert.match(encoded, /^[A-Za-z0-9\-._~%/]*$/, `only URL-safe characters in ${encoded}`);
      }
      const decoded = [...keys, ...prefixes].map(decodeURIComponent).sort(byteOrder);
      assert.deepEqual(decoded, expectedEntries(SPECIAL, '', ' '));
      assert.ok(keys.includes('a%2Bb'), "'+' is encoded, so it cannot be mistaken for a space");
      assert.ok(keys.includes('a%252Fb'));
    });
  }

  test('a key with a CR is named exactly by DeleteObjects results and by the markers that page uploads', async () => {
    const bucket = await newBucket('cr', ['cr\rk', 'cr\r\nk', 'z']);
    for (const Key of ['cr\rk', 'z']) await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const seen: string[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (let page = 0; page < 5; page++) {
      const res = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, MaxUploads: 1, KeyMarker, UploadIdMarker }));
      seen.push(...(res.Uploads ?? []).map((u) => u.Key!));
      if (!res.IsTruncated) break;
      KeyMarker = res.NextKeyMarker;
      UploadIdMarker = res.NextUploadIdMarker;
    }
    assert.deepEqual(seen, ['cr\rk', 'z'], 'each upload once, and the listing ends');
    const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'cr\rk' }, { Key: 'cr\r\nk' }] } }));
    assert.deepEqual(deleted.Deleted!.map((d) => d.Key).sort(), ['cr\r\nk', 'cr\rk']);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(left.Contents!.map((o) => o.Key), ['z']);
  });

  test('encoding-type=url also encodes the prefix and the start-after echo', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: special, EncodingType: 'url', Prefix: 'dir with', StartAfter: 'dir with a' }));
    assert.equal(res.Prefix, 'dir%20with');
    assert.equal(res.StartAfter, 'dir%20with%20a');
    assert.deepEqual(res.Contents!.map((o) => o.Key), ['dir%20with%20spaces/file%20name']);
  });

  test('an unknown encoding-type is an InvalidArgument', async () => {
    const res = await raw(server, { method: 'GET', path: `/${special}`, query: { 'list-type': '2', 'encoding-type': 'base64' } });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
  });
});

describe('listing parameters holding a NUL', () => {
  // No key holds a NUL (they are refused), and PostgreSQL cannot compare text that holds one: a
  // listing asking with one answers as S3 would, on every store, never with a 500.
  test('a NUL in prefix, start-after, marker, delimiter, key-marker or upload markers lists what S3 lists', async () => {
    const bucket = await newBucket('nul', ['a', 'a/x', 'ab', 'b']);
    const keys = (text: string) => [...text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    const list = async (query: Record<string, string>) => {
      const res = await raw(server, { method: 'GET', path: `/${bucket}`, query });
      assert.equal(res.status, 200, `${JSON.stringify(query)}: ${res.text}`);
      return res.text;
    };
    assert.deepEqual(keys(await list({ 'list-type': '2', prefix: 'a\0' })), []);
    assert.deepEqual(keys(await list({ 'list-type': '2', 'start-after': 'a\0z' })), ['a/x', 'ab', 'b']);
    assert.deepEqual(keys(await list({ marker: 'a\0' })), ['a/x', 'ab', 'b']);
    assert.deepEqual(keys(await list({ 'list-type': '2', delimiter: '/\0' })), ['a', 'a/x', 'ab', 'b']);
    assert.deepEqual(keys(await list({ versions: '', 'key-marker': 'a\0' })), ['a/x', 'ab', 'b']);
    assert.deepEqual(keys(await list({ versions: '', prefix: '\0' })), []);
    const upload = await raw(server, { method: 'POST', path: `/${bucket}/ab`, query: { uploads: '' } });
    assert.equal(upload.status, 200, upload.text);
    assert.deepEqual(keys(await list({ uploads: '', 'key-marker': 'a\0' })), ['ab']);
    assert.deepEqual(keys(await list({ uploads: '', 'key-marker': 'ab', 'upload-id-marker': '\0' })), ['ab']);
    assert.deepEqual(keys(await list({ uploads: '', prefix: 'a\0' })), []);
  });
});

describe('UTF-8 byte order', () => {
  // UTF-16 order puts U+1F600 (a surrogate pair, 0xD83D...) before U+E000..U+FFFD; UTF-8 puts it after.
  const KEYS = ['\u{1F600}', '\uE000', '\uFFFC', '\uFFFD', '\uFF21', 'z', '\u00e9', '~', 'a\u{10FFFF}', 'a\uFFFD', 'a\u{1F600}b', 'a'];

  test('keys above U+FFFF sort after the top of the BMP, in ListObjectsV2 and v1', async () => {
    const bucket = await newBucket('utf8', KEYS);
    const expected = [...KEYS].sort(byteOrder);
    assert.notDeepEqual(expected, [...KEYS].sort(), 'the test needs keys where UTF-16 and UTF-8 order differ');
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(v2.Contents!.map((o) => o.Key), expected);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
    assert.deepEqual(v1.Contents!.map((o) => o.Key), expected);
  });

  test('pagination, start-after and prefixes follow byte order across the BMP boundary', async () => {
    const bucket = await newBucket('utf8p', KEYS);
    const expected = [...KEYS].sort(byteOrder);
    const seen: string[] = [];
    let token: string | undefined;
    for (;;) {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: token }));
      seen.push(...(res.Contents ?? []).map((o) => o.Key!));
      if (!res.IsTruncated) break;
      token = res.NextContinuationToken;
    }
    assert.deepEqual(seen, expected);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: '\uFFFD' }));
    assert.deepEqual(after.Contents!.map((o) => o.Key), ['\u{1F600}']);
    const prefixed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'a' }));
    assert.deepEqual(prefixed.Contents!.map((o) => o.Key), ['a', 'a\uFFFD', 'a\u{1F600}b', 'a\u{10FFFF}']);
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '\uFFFD' }));
    assert.deepEqual(pageEntries(grouped.Contents, grouped.CommonPrefixes), expectedEntries(KEYS, '', '\uFFFD'));
  });
});

describe('common prefixes of many keys each (walked in the store)', () => {
  // Folders of a dozen keys: past the first read, the page's common prefixes are passed by the
  // store in one statement. Paging must stay exactly as it is for small folders.
  const KEYS: string[] = [];
  for (const d of ['a', 'b', '\u00fc', '\u{1F600}', 'z z', '\uFFFD']) for (let i = 0; i < 12; i++) KEYS.push(`p/${d}\u00e9/${i}`);
  KEYS.push('p/plain', 'p/\u00e9/', 'p/\u00e9\u00e9/x', 'p/a\u00e9', 'p/b\u00e9/0/\u00e9/1', 'q/a\u00e9/1', 'p-');
  let bucket: string;
  before(async () => {
    bucket = await newBucket('walk', KEYS);
  });

  for (const version of ['v1', 'v2'] as const) {
    test(`a multi-character non-ASCII delimiter under a prefix that holds '/', url-encoded, paged by ${version}`, async () => {
      const want = expectedEntries(KEYS, 'p/', '\u00e9/');
      for (const maxKeys of [1, 2, 3, 1000]) {
        const seen: string[] = [];
        let marker: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const params = { Bucket: bucket, Prefix: 'p/', Delimiter: '\u00e9/', EncodingType: 'url' as const, MaxKeys: maxKeys };
          const res =
            version === 'v2'
              ? await s3.send(new ListObjectsV2Command({ ...params, ContinuationToken: marker }))
              : await s3.send(new ListObjectsCommand({ ...params, Marker: marker }));
          assert.equal(res.Delimiter, '%C3%A9/');
          const entries = pageEntries(res.Contents, res.CommonPrefixes).map(decodeURIComponent).sort(byteOrder);
          assert.ok(entries.length <= maxKeys);
          seen.push(...entries);
          if (!res.IsTruncated) {
            assert.equal('NextMarker' in res ? res.NextMarker : undefined, undefined);
            break;
          }
          if ('NextContinuationToken' in res) marker = res.NextContinuationToken;
          else {
            const next = 'NextMarker' in res ? res.NextMarker : undefined;
            // v1 with a delimiter names the last entry, key or common prefix, encoded.
            assert.equal(decodeURIComponent(next!), entries[entries.length - 1]);
            marker = decodeURIComponent(next!);
          }
        }
        assert.deepEqual(seen, want, `max-keys ${maxKeys}`);
      }
    });
  }

  test('start-after inside a common prefix rolls its later keys into it; max-keys 0 reads nothing', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'p/', Delimiter: '/', StartAfter: 'p/b\u00e9/3', MaxKeys: 3 }));
    assert.deepEqual(pageEntries(res.Contents, res.CommonPrefixes), ['p/b\u00e9/', 'p/plain', 'p/z z\u00e9/']);
    assert.equal(res.IsTruncated, true);
    const none = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 0 }));
    assert.equal(none.KeyCount, 0);
    assert.equal(none.IsTruncated, false);
  });
});
