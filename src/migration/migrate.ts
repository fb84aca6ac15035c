import { createHash } from 'node:crypto';
import type { BlobStore } from '../storage/blob/blob-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { BodyDigest } from '../checksums/digest.js';
import { combineCrc, compositeChecksum, multipartEtag, type CrcAlgorithm } from '../checksums/multipart.js';
import type { ChecksumAlgorithm, StoredChecksum } from '../checksums/types.js';
import { sealedSize } from '../objects/chunked-cipher.js';

// Moves a deployment from one pair of stores to another: the embedded default (SQLite and a
// folder) to PostgreSQL and an S3 backend such as Ceph, or back. Every table's rows go across as
// they are; every blob is copied under the same ref, and on the way the object it belongs to is
// checked against what its row says (the ETag, and the x-amz-checksum value when it has one)
// and read back from the target. Objects that do not match are reported, not silently kept.
// An encrypted object's blobs hold ciphertext (sealedSize of the plaintext): they go across whole
// and are checked by their length and read-back only, as their digests are not the ETag's.

export interface Stores {
  meta: MetadataStore;
  blobs: BlobStore;
}

export interface MigrationReport {
  /** Rows copied, by table. */
  rows: Record<string, number>;
  objects: number;
  /** Noncurrent versions and delete markers of versioned buckets. */
  versions: number;
  /** Parts of multipart uploads in progress. */
  parts: number;
  blobs: number;
  bytes: number;
  /** One line per object or part whose bytes did not match its row, or that could not be copied. */
  failures: string[];
}

export interface MigrateOptions {
  /** Blobs copied at once (default 4). */
  concurrency?: number;
  /** Told of progress now and then. */
  progress?: (r: MigrationReport) => void;
}

type Row = Record<string, unknown>;

interface CopiedBlob {
  md5: Buffer;
  checksum?: Buffer;
  /** Plaintext bytes (what the row counts). */
  size: number;
}

/** Copies everything from `source` into `target`, which must be empty. */
export async function migrate(source: Stores, target: Stores, opts: MigrateOptions = {}): Promise<MigrationReport> {
  const unknown = await source.meta.unknownTables();
  if (unknown.length > 0) throw new Error(`the source has tables this skep does not know how to copy: ${unknown.join(', ')} (use the skep release that made them)`);
  if (await target.meta.hasMigrationMark()) {
    throw new Error('the target holds an unfinished migration (interrupted, or some objects did not verify); empty it (a new database, blob bucket or folder) and migrate again');
  }
  if ((await target.meta.listProjects()).length > 0) throw new Error('the target already holds a deployment; migrate into empty storage');
  // Until every row and blob is across and verified, `serve` refuses the target.
  await target.meta.setMigrationMark(true);
  const report: MigrationReport = { rows: {}, objects: 0, versions: 0, parts: 0, blobs: 0, bytes: 0, failures: [] };
  const bucketNames = new Map<string, string>();
  /** Uploads in progress whose parts are encrypted (their rows come before the parts'). */
  const encryptedUploads = new Set<string>();
  const concurrency = opts.concurrency ?? 4;
  // Two rows copied at once that name one blob share its copy. Only copies in flight are kept, so
  // memory stays flat at any number of blobs: rows do not share blobs (a copy writes its own, a
  // version moves between tables whole), and one that did would be copied again, harmlessly.
  const inFlight = new Map<string, Promise<CopiedBlob>>();

  function copyOnce(ref: string, size: number, algorithm: ChecksumAlgorithm | undefined, sealed: boolean): Promise<CopiedBlob> {
    const id = `${ref} ${algorithm ?? ''} ${sealed}`;
    let copy = inFlight.get(id);
    if (!copy) {
      copy = copyBlob(ref, size, algorithm, sealed).finally(() => inFlight.delete(id));
      inFlight.set(id, copy);
    }
    return copy;
  }

  async function copyBlob(ref: string, size: number, algorithm: ChecksumAlgorithm | undefined, sealed: boolean): Promise<CopiedBlob> {
    const stored = sealed ? sealedSize(size) : size;
    const digest = new BodyDigest({ checksumAlgorithm: algorithm });
    const reading = source.blobs.get(ref, stored > 0 ? { start: 0, end: stored - 1 } : undefined);
    reading.on('error', (err) => digest.destroy(err));
    const written = await target.blobs.put(reading.pipe(digest), ref).finally(() => reading.destroy());
    if (written.size !== stored) throw new Error(`blob ${ref}: ${written.size} bytes, the row says ${stored}${sealed ? ` (${size} encrypted)` : ''}`);
    // The copy must read back as what went in.
    const back = createHash('md5');
    for await (const chunk of target.blobs.get(ref)) back.update(chunk as Buffer);
    if (!back.digest().equals(digest.md5Digest)) throw new Error(`blob ${ref} reads back different bytes from the target`);
    report.blobs++;
    report.bytes += stored;
    return { md5: digest.md5Digest, checksum: digest.checksumDigest, size };
  }

  async function copyObject(row: Row): Promise<void> {
    const name = `${bucketNames.get(String(row.bucket_id)) ?? String(row.bucket_id)}/${String(row.key)}`;
    const version = row.version_id === undefined || row.version_id === 'null' ? '' : ` version ${String(row.version_id)}`;
    try {
      const blobs = JSON.parse(String(row.blobs)) as { ref: string; size: number }[];
      const checksum = row.checksum === null ? null : (JSON.parse(String(row.checksum)) as StoredChecksum);
      const sealed = row.encryption !== null && row.encryption !== undefined;
      const copied: CopiedBlob[] = [];
      for (const b of blobs) copied.push(await copyOnce(b.ref, Number(b.size), checksum?.algorithm, sealed));
      const problem = Number(row.delete_marker ?? 0) === 1 ? null : objectMismatch(row, copied, checksum, sealed);
      if (problem) report.failures.push(`${name}${version}: ${problem}`);
    } catch (err) {
      report.failures.push(`${name}${version}: ${(err as Error).message}`);
    }
  }

  async function copyPart(row: Row): Promise<void> {
    const name = `upload ${String(row.upload_id)} part ${String(row.part_number)}`;
    try {
      const checksum = row.checksum === null ? null : (JSON.parse(String(row.checksum)) as StoredChecksum);
      const sealed = encryptedUploads.has(String(row.upload_id));
      const copied = await copyOnce(String(row.blob_ref), Number(row.blob_size), checksum?.algorithm, sealed);
      // An encrypted part's length and read-back were checked as it was copied; its ETag and
      // checksum are of the plaintext.
      if (!sealed) {
        if (`"${copied.md5.toString('hex')}"` !== String(row.etag)) report.failures.push(`${name}: its bytes do not match its ETag ${String(row.etag)}`);
        else if (checksum && copied.checksum?.toString('base64') !== checksum.value) report.failures.push(`${name}: its bytes do not match its ${checksum.algorithm} checksum`);
      }
      report.parts++;
    } catch (err) {
      report.failures.push(`${name}: ${(err as Error).message}`);
    }
  }

  const copyCurrent = async (row: Row) => {
    await copyObject(row);
    report.objects++;
  };
  const copyVersion = async (row: Row) => {
    await copyObject(row);
    report.versions++;
  };
  const work: Record<string, ((row: Row) => Promise<void>) | undefined> = { objects: copyCurrent, object_versions: copyVersion, parts: copyPart };

  for await (const { table, rows } of source.meta.exportRows()) {
    if (table === 'buckets') for (const b of rows) bucketNames.set(String(b.id), String(b.name));
    if (table === 'multipart_uploads') for (const u of rows) if (u.encryption !== null) encryptedUploads.add(String(u.upload_id));
    // A page's blobs go across before its rows: a row never refers to a blob the target lacks.
    const copyRow = work[table];
    if (copyRow) await inParallel(rows, concurrency, copyRow);
    await target.meta.importRows(table, rows);
    report.rows[table] = (report.rows[table] ?? 0) + rows.length;
    opts.progress?.(report);
  }
  if (report.failures.length === 0) await target.meta.setMigrationMark(false);
  return report;
}

/** What is wrong with an object whose blobs were copied as `copied`, or null when it matches its row. */
function objectMismatch(row: Row, copied: CopiedBlob[], checksum: StoredChecksum | null, sealed: boolean): string | null {
  const etag = String(row.etag);
  const multipart = row.parts_count !== null;
  const size = copied.reduce((n, c) => n + c.size, 0);
  if (size !== Number(row.size)) return `${size} bytes, the row says ${String(row.size)}`;
  if (!multipart && copied.length !== 1) return `${copied.length} blobs for a single-part object`;
  // Ciphertext: its length and read-back were checked as it was copied.
  if (sealed) return null;
  const expected = multipart ? multipartEtag(copied.map((c) => c.md5)) : `"${copied[0].md5.toString('hex')}"`;
  if (expected !== etag) return `its bytes do not match its ETag ${etag}`;
  if (!checksum) return null;
  const digests = copied.map((c) => c.checksum as Buffer);
  let value: string;
  if (checksum.type === 'COMPOSITE') value = compositeChecksum(checksum.algorithm, digests);
  else if (multipart) value = combineCrc(checksum.algorithm as CrcAlgorithm, copied.map((c) => ({ digest: c.checksum as Buffer, size: c.size }))).toString('base64');
  else value = digests[0].toString('base64');
  return value === checksum.value ? null : `its bytes do not match its ${checksum.algorithm} checksum`;
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
