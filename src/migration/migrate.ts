import { createHash } from 'node:crypto';
import type { BlobStore } from '../storage/blob/blob-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { BodyDigest } from '../checksums/digest.js';
import { combineCrc, compositeChecksum, multipartEtag, type CrcAlgorithm } from '../checksums/multipart.js';
import type { ChecksumAlgorithm, StoredChecksum } from '../checksums/types.js';

// Moves a deployment from one pair of stores to another: the embedded default (SQLite and a
// folder) to PostgreSQL and an S3 backend such as Ceph, or back. Every table's rows go across as
// they are; every blob is copied under the same ref, and on the way the object it belongs to is
// checked against what its row says (the ETag, and the x-amz-checksum value when it has one)
// and read back from the target. Objects that do not match are reported, not silently kept.

export interface Stores {
  meta: MetadataStore;
  blobs: BlobStore;
}

export interface MigrationReport {
  /** Rows copied, by table. */
  rows: Record<string, number>;
  objects: number;
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
  size: number;
}

/** Copies everything from `source` into `target`, which must be empty. */
export async function migrate(source: Stores, target: Stores, opts: MigrateOptions = {}): Promise<MigrationReport> {
  const unknown = await source.meta.unknownTables();
  if (unknown.length > 0) throw new Error(`the source has tables this skep does not know how to copy: ${unknown.join(', ')} (use the skep release that made them)`);
  if ((await target.meta.listProjects()).length > 0) throw new Error('the target already holds a deployment; migrate into empty storage');
  const report: MigrationReport = { rows: {}, objects: 0, parts: 0, blobs: 0, bytes: 0, failures: [] };
  const bucketNames = new Map<string, string>();
  const concurrency = opts.concurrency ?? 4;

  async function copyBlob(ref: string, size: number, algorithm: ChecksumAlgorithm | undefined): Promise<CopiedBlob> {
    const digest = new BodyDigest({ checksumAlgorithm: algorithm });
    const reading = source.blobs.get(ref, size > 0 ? { start: 0, end: size - 1 } : undefined);
    reading.on('error', (err) => digest.destroy(err));
    const written = await target.blobs.put(reading.pipe(digest), ref).finally(() => reading.destroy());
    if (written.size !== size) throw new Error(`blob ${ref}: ${written.size} bytes, the row says ${size}`);
    // The copy must read back as what went in.
    const back = createHash('md5');
    for await (const chunk of target.blobs.get(ref)) back.update(chunk as Buffer);
    if (!back.digest().equals(digest.md5Digest)) throw new Error(`blob ${ref} reads back different bytes from the target`);
    report.blobs++;
    report.bytes += size;
    return { md5: digest.md5Digest, checksum: digest.checksumDigest, size };
  }

  async function copyObject(row: Row): Promise<void> {
    const name = `${bucketNames.get(String(row.bucket_id)) ?? String(row.bucket_id)}/${String(row.key)}`;
    try {
      const blobs = JSON.parse(String(row.blobs)) as { ref: string; size: number }[];
      const checksum = row.checksum === null ? null : (JSON.parse(String(row.checksum)) as StoredChecksum);
      const copied: CopiedBlob[] = [];
      for (const b of blobs) copied.push(await copyBlob(b.ref, Number(b.size), checksum?.algorithm));
      const problem = objectMismatch(row, copied, checksum);
      if (problem) report.failures.push(`${name}: ${problem}`);
      report.objects++;
    } catch (err) {
      report.failures.push(`${name}: ${(err as Error).message}`);
    }
  }

  async function copyPart(row: Row): Promise<void> {
    const name = `upload ${String(row.upload_id)} part ${String(row.part_number)}`;
    try {
      const checksum = row.checksum === null ? null : (JSON.parse(String(row.checksum)) as StoredChecksum);
      const copied = await copyBlob(String(row.blob_ref), Number(row.blob_size), checksum?.algorithm);
      if (`"${copied.md5.toString('hex')}"` !== String(row.etag)) report.failures.push(`${name}: its bytes do not match its ETag ${String(row.etag)}`);
      else if (checksum && copied.checksum?.toString('base64') !== checksum.value) report.failures.push(`${name}: its bytes do not match its ${checksum.algorithm} checksum`);
      report.parts++;
    } catch (err) {
      report.failures.push(`${name}: ${(err as Error).message}`);
    }
  }

  for await (const { table, rows } of source.meta.exportRows()) {
    if (table === 'buckets') for (const b of rows) bucketNames.set(String(b.id), String(b.name));
    // A page's blobs go across before its rows: a row never refers to a blob the target lacks.
    const work = table === 'objects' ? copyObject : table === 'parts' ? copyPart : null;
    if (work) await inParallel(rows, concurrency, work);
    await target.meta.importRows(table, rows);
    report.rows[table] = (report.rows[table] ?? 0) + rows.length;
    opts.progress?.(report);
  }
  return report;
}

/** What is wrong with an object whose blobs were copied as `copied`, or null when it matches its row. */
function objectMismatch(row: Row, copied: CopiedBlob[], checksum: StoredChecksum | null): string | null {
  const etag = String(row.etag);
  const multipart = row.parts_count !== null;
  const size = copied.reduce((n, c) => n + c.size, 0);
  if (size !== Number(row.size)) return `${size} bytes, the row says ${String(row.size)}`;
  if (!multipart && copied.length !== 1) return `${copied.length} blobs for a single-part object`;
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
