import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ObjectSummary, ObjectVersionRow } from '../storage/metadata/metadata-store.js';
import { uriEncode } from '../sigv4/uri-encode.js';
import { commonPrefixesList, contentsList, versionsList } from './list-xml.js';
import { xmlDocument, xmlElement } from './xml.js';

// The listing templates against the generic writer fed the same fields as plain objects.

const ENTRIES: ObjectSummary[] = [
  { key: 'plain', size: 0, etag: '"d41d8cd98f00b204e9800998ecf8427e"', lastModified: new Date(0), storageClass: 'STANDARD', checksum: null },
  { key: 'a<b>&"c\'', size: 5 * 1024 ** 4, etag: '"0123456789abcdef0123456789abcdef-10000"', lastModified: new Date(1_767_225_600_123), storageClass: 'GLACIER', checksum: { algorithm: 'CRC64NVME', type: 'FULL_OBJECT' } },
  { key: 'caf\u00e9/\u{1f600} sp ace', size: 1, etag: 'unquoted<&>', lastModified: new Date(-1), storageClass: 'STANDARD_IA', checksum: { algorithm: 'SHA256', type: 'COMPOSITE' } },
  { key: 'q', size: 2, etag: '"in"side"', lastModified: new Date(253_402_300_799_999), storageClass: 'X', checksum: null },
  { key: 'e', size: 3, etag: '"', lastModified: new Date(86_400_000), storageClass: 'X', checksum: null },
];

function generic(o: ObjectSummary, enc: (s: string) => string, owner?: unknown) {
  return { Key: enc(o.key), LastModified: o.lastModified.toISOString(), ETag: o.etag, ChecksumAlgorithm: o.checksum?.algorithm, ChecksumType: o.checksum?.type, Size: o.size, StorageClass: o.storageClass, Owner: owner };
}

test('Contents entries are what the generic writer makes of the same fields', () => {
  const url = (s: string) => uriEncode(s, true);
  for (const enc of [(s: string) => s, url]) {
    for (const owner of [undefined, { ID: 'p<1>', DisplayName: 'p&1' }]) {
      assert.equal(xmlElement('Contents', contentsList(ENTRIES, enc, owner)), xmlElement('Contents', ENTRIES.map((o) => generic(o, enc, owner))));
    }
  }
  assert.equal(xmlElement('Contents', contentsList([], (s) => s)), '');
});

test('CommonPrefixes entries are what the generic writer makes of the same fields', () => {
  const prefixes = ['a/', 'b&<c>/', '\u{1f600}/', '"q"/'];
  for (const enc of [(s: string) => s, (s: string) => uriEncode(s, true)]) {
    assert.equal(xmlElement('CommonPrefixes', commonPrefixesList(prefixes, enc)), xmlElement('CommonPrefixes', prefixes.map((p) => ({ Prefix: enc(p) }))));
  }
});

test('a page document with the templates is the one with plain fields', () => {
  const many = Array.from({ length: 2500 }, (_, i) => ({ ...ENTRIES[i % ENTRIES.length], key: `${ENTRIES[i % ENTRIES.length].key}-${i}` }));
  const enc = (s: string) => s;
  const templated = xmlDocument('ListBucketResult', { Name: 'b', KeyCount: many.length, Contents: contentsList(many, enc), CommonPrefixes: commonPrefixesList(['x/', '\u{1f600}/'], enc), EncodingType: undefined });
  const plain = xmlDocument('ListBucketResult', { Name: 'b', KeyCount: many.length, Contents: many.map((o) => generic(o, enc)), CommonPrefixes: [{ Prefix: 'x/' }, { Prefix: '\u{1f600}/' }], EncodingType: undefined });
  assert.equal(templated.toString('utf8'), plain.toString('utf8'));
  assert.ok(templated.length > 100_000);
});

test('ListObjectVersions entries keep listing order, each a Version or a DeleteMarker as the generic writer makes it', () => {
  const owner = { ID: 'p<1>', DisplayName: 'p&1' };
  const rows = ENTRIES.flatMap((o, i) => [
    { ...o, versionId: `v${i}b`, isLatest: i % 2 === 0, isDeleteMarker: i % 2 === 0 },
    { ...o, versionId: `v${i}a`, isLatest: i % 2 === 1, isDeleteMarker: false },
  ]) as unknown as ObjectVersionRow[];
  for (const enc of [(s: string) => s, (s: string) => uriEncode(s, true)]) {
    const generic = rows
      .map((v) =>
        v.isDeleteMarker
          ? xmlElement('DeleteMarker', { Key: enc(v.key), VersionId: v.versionId, IsLatest: v.isLatest, LastModified: v.lastModified.toISOString(), Owner: owner })
          : xmlElement('Version', {
              Key: enc(v.key),
              VersionId: v.versionId,
              IsLatest: v.isLatest,
              LastModified: v.lastModified.toISOString(),
              ETag: v.etag,
              Size: v.size,
              StorageClass: v.storageClass,
              Owner: owner,
              ChecksumAlgorithm: v.checksum?.algorithm,
              ChecksumType: v.checksum?.type,
            }),
      )
      .join('');
    assert.equal(xmlElement('Version', versionsList(rows, enc, owner)), generic);
    const doc = xmlDocument('ListVersionsResult', { Name: 'b', Version: versionsList(rows, enc, owner), IsTruncated: false }).toString('utf8');
    assert.ok(doc.includes(`<Name>b</Name>${generic}<IsTruncated>`));
  }
  assert.deepEqual(
    [...xmlElement('Version', versionsList(rows, (s) => s, owner)).matchAll(/<(Version|DeleteMarker)><Key>[^<]*<\/Key><VersionId>([^<]*)</g)].map((m) => `${m[1]} ${m[2]}`),
    rows.map((v) => `${v.isDeleteMarker ? 'DeleteMarker' : 'Version'} ${v.versionId}`),
  );
});
