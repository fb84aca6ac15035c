import type { ObjectSummary, ObjectVersionRow } from '../storage/metadata/metadata-store.js';
import { isoTimestamp } from '../util/iso-time.js';
import { xmlElement, xmlEscape, XmlList } from './xml.js';

// The entries of a ListObjects (v1 and v2) or ListObjectVersions page, written by fixed templates
// (see XmlList): the same text xmlElement writes for the same fields, at a fraction of the cost per key.

/** <Contents> entries: Key, LastModified, ETag, ChecksumAlgorithm/Type, Size, StorageClass, Owner. */
export function contentsList(entries: readonly ObjectSummary[], encode: (s: string) => string, owner?: { ID: string; DisplayName: string }): XmlList<ObjectSummary> {
  const ownerXml = owner ? xmlElement('Owner', owner) : '';
  return new XmlList(entries, (o) => {
    const checksum = o.checksum ? `<ChecksumAlgorithm>${o.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>${o.checksum.type}</ChecksumType>` : '';
    return (
      `<Key>${xmlEscape(encode(o.key))}</Key><LastModified>${isoTimestamp(o.lastModified)}</LastModified><ETag>${etagText(o.etag)}</ETag>` +
      `${checksum}<Size>${o.size}</Size><StorageClass>${xmlEscape(o.storageClass)}</StorageClass>${ownerXml}`
    );
  });
}

/**
 * ListObjectVersions' entries as one sequence in listing order (key order, newest first within a
 * key), each a <Version> (Key, VersionId, IsLatest, LastModified, ETag, Size, StorageClass, Owner,
 * ChecksumAlgorithm/Type) or a <DeleteMarker> (Key, VersionId, IsLatest, LastModified, Owner).
 * S3 interleaves the two, and clients that read the document in order (minio-go) rely on it.
 */
export function versionsList(entries: readonly ObjectVersionRow[], encode: (s: string) => string, owner: { ID: string; DisplayName: string }): XmlList<ObjectVersionRow> {
  const ownerXml = xmlElement('Owner', owner);
  return new XmlList(
    entries,
    (v) => {
      const head = `<Key>${xmlEscape(encode(v.key))}</Key><VersionId>${xmlEscape(v.versionId)}</VersionId><IsLatest>${v.isLatest}</IsLatest><LastModified>${isoTimestamp(v.lastModified)}</LastModified>`;
      if (v.isDeleteMarker) return `${head}${ownerXml}`;
      const checksum = v.checksum ? `<ChecksumAlgorithm>${v.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>${v.checksum.type}</ChecksumType>` : '';
      return `${head}<ETag>${etagText(v.etag)}</ETag><Size>${v.size}</Size><StorageClass>${xmlEscape(v.storageClass)}</StorageClass>${ownerXml}${checksum}`;
    },
    (v) => (v.isDeleteMarker ? 'DeleteMarker' : 'Version'),
  );
}

/** <CommonPrefixes><Prefix>…</Prefix></CommonPrefixes> entries. */
export function commonPrefixesList(prefixes: readonly string[], encode: (s: string) => string): XmlList<string> {
  return new XmlList(prefixes, (p) => `<Prefix>${xmlEscape(encode(p))}</Prefix>`);
}

/** An ETag is quoted hex: its two quotes escaped without a regex replace per key. */
function etagText(etag: string): string {
  const last = etag.length - 1;
  if (last > 0 && etag.charCodeAt(0) === 34 && etag.indexOf('"', 1) === last && !NOT_QUOTE_SPECIAL.test(etag)) {
    return `&quot;${etag.slice(1, last)}&quot;`;
  }
  return xmlEscape(etag);
}

const NOT_QUOTE_SPECIAL = /[&<>']/;
