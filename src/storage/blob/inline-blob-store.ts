// Small blobs kept in one SQLite file instead of one file each, as Garage and MinIO keep small
// objects inline with their metadata. A file blob costs a temp file, a write, a rename, a data
// flush and a folder flush per PUT, and an open, a read and a close per GET, each a round trip
// through libuv's pool; an inline blob is one insert whose journal flush is shared with the other
// writes of the moment (group commit, wal-sync.ts), and one indexed read.
//
// Only for a folder that one process owns (the embedded default): SQLite's locks are not to be
// trusted on a network folder, so a folder shared by nodes keeps every blob as a file.

import { join } from 'node:path';
import { Readable } from 'node:stream';
import type BetterSqlite3 from 'better-sqlite3';
import { chunkBytes, REF_PATTERN, type BlobStore, type BlobWriteResult, type ByteRange } from './blob-store.js';
import { sqliteDriver } from '../metadata/sqlite-driver.js';
import type { WalSync } from '../metadata/wal-sync.js';
import type { WalCheckpointer } from '../metadata/wal-checkpointer.js';
import { tuneForDurableWrites, type DurableSqlite } from '../metadata/durable-sqlite.js';

/** Bodies up to this size are kept inline; larger ones stream to the folder store. */
export const INLINE_MAX_BYTES = 32 * 1024;
/** The file, inside the blob folder (which skep keeps private to its user). */
export const INLINE_FILE = 'inline.sqlite';
const LIST_PAGE = 1000;

/**
 * `inner` with bodies of at most `maxBytes` kept in `<dir>/inline.sqlite`. Reads, deletes and
 * listings cover both; a ref lives in one of the two.
 */
export async function withInlineBlobs(inner: BlobStore, dir: string, maxBytes = INLINE_MAX_BYTES): Promise<BlobStore> {
  const path = join(dir, INLINE_FILE);
  const Database = sqliteDriver();
  const db = new Database(path);
  let durable: DurableSqlite;
  try {
    // Never null: the path names a file.
    durable = tuneForDurableWrites(db, path)!;
    db.exec('create table if not exists blobs (ref text primary key, created_at integer not null, data blob not null)');
    // The listing (for the orphan sweep) reads refs and times from this index alone: a row of the
    // table spans a page or more, so reading it there would touch a page per blob.
    db.exec('create index if not exists blobs_by_ref_and_time on blobs (ref, created_at)');
  } catch (err) {
    db.close();
    throw err;
  }
  return new InlineBlobStore(inner, db, durable.walSync, durable.startCheckpoints(), maxBytes);
}

class InlineBlobStore implements BlobStore {
  private readonly insert: BetterSqlite3.Statement;
  private readonly select: BetterSqlite3.Statement;
  private readonly remove: BetterSqlite3.Statement;
  private readonly page: BetterSqlite3.Statement;

  constructor(
    private readonly inner: BlobStore,
    private readonly db: BetterSqlite3.Database,
    private readonly walSync: WalSync,
    private readonly checkpointer: WalCheckpointer,
    private readonly maxBytes: number,
  ) {
    // A put under a ref that exists replaces it, as a rename over a file does.
    this.insert = db.prepare('insert or replace into blobs (ref, created_at, data) values (?, ?, ?)');
    this.select = db.prepare('select data from blobs where ref = ?').pluck();
    this.remove = db.prepare('delete from blobs where ref = ?');
    this.page = db.prepare('select ref, created_at from blobs where ref > ? order by ref limit ?').raw();
  }

  newRef(): string {
    return this.inner.newRef();
  }

  async put(body: Readable, ref: string = this.newRef()): Promise<BlobWriteResult> {
    if (!REF_PATTERN.test(ref)) throw new Error(`not a blob ref: ${ref}`);
    // Not destroyed on return: when the inner store fails on its disk, the body's owner can
    // still answer the client. A failing body throws its own error out of next().
    const source = body.iterator({ destroyOnReturn: false });
    const head: Buffer[] = [];
    let size = 0;
    for (;;) {
      const step = await source.next();
      if (step.done) break;
      const chunk = chunkBytes(step.value);
      head.push(chunk);
      size += chunk.length;
      if (size > this.maxBytes) return this.inner.put(Readable.from(resume(head, source), { objectMode: false }), ref);
    }
    // The body ended without an error: every check on it (checksums, lengths) has passed.
    this.insert.run(ref, Date.now(), head.length === 1 ? head[0] : Buffer.concat(head, size));
    await this.walSync.sync();
    return { ref, size };
  }

  get(ref: string, range?: ByteRange): Readable {
    const data = this.lookup(ref, range);
    if (!data) return this.inner.get(ref, range);
    const stream = new Readable({ read() {} });
    stream.push(data);
    stream.push(null);
    return stream;
  }

  getInline(ref: string, size: number, range?: ByteRange): Buffer | undefined {
    // Larger than what is kept inline now: a file (or one kept under a larger limit, which get() still finds).
    return size > this.maxBytes ? undefined : this.lookup(ref, range);
  }

  private lookup(ref: string, range?: ByteRange): Buffer | undefined {
    const data = REF_PATTERN.test(ref) ? (this.select.get(ref) as Buffer | undefined) : undefined;
    return data && range ? data.subarray(range.start, range.end + 1) : data;
  }

  async delete(ref: string, opts?: { partial?: boolean }): Promise<void> {
    if (this.remove.run(ref).changes > 0) return;
    await this.inner.delete(ref, opts);
  }

  async *list(): AsyncIterable<{ ref: string; mtime: Date }> {
    yield* this.inner.list();
    // A page at a time: an open iterator would keep the connection busy across the caller's awaits.
    let after = '';
    for (;;) {
      const rows = this.page.all(after, LIST_PAGE) as Array<[string, number]>;
      for (const [ref, createdAt] of rows) yield { ref, mtime: new Date(createdAt) };
      if (rows.length < LIST_PAGE) return;
      after = rows[rows.length - 1][0];
    }
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    await this.walSync.close();
    await this.checkpointer.close();
    if (this.db.open) this.db.close();
    await this.inner.close();
  }
}

/** The chunks read so far, then the rest of the body. */
async function* resume(head: Buffer[], rest: AsyncIterator<unknown>): AsyncGenerator<Buffer> {
  yield* head;
  head.length = 0;
  for (;;) {
    const step = await rest.next();
    if (step.done) return;
    yield chunkBytes(step.value);
  }
}
