// The orphan sweep's question, "which of these blobs does a row refer to?", on the embedded
// database, at any number of objects: without holding the store's connection while it reads, and
// in memory that does not grow with the rows.
//
// A second connection reads one snapshot (WAL: the store's connection goes on writing meanwhile),
// a page of rows at a time, and SQLite itself copies each page's refs into an indexed table in a
// scratch file beside the database (the JSON of `blobs` is taken apart by json_each, no row
// reaches JavaScript). The sweep then asks about a batch of refs at a time, one indexed query.
// The driver is synchronous, so each step blocks the event loop for as long as it runs: about a
// millisecond per page, with a turn of the event loop between pages.

import { rm } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import type { BlobReferenceSnapshot } from './metadata-store.js';
import { sqliteDriver } from './sqlite-driver.js';
import { COPIED_TABLES } from './table-copy.js';

/** Rows per step of the copy: about a millisecond of the event loop (1000: 6 ms, measured at 10^6 rows). */
export const REFERENCE_PAGE = 250;
/** SQLite's page cache for the scratch table (KiB): bounded, whatever the number of refs. */
const SCRATCH_CACHE_KIB = 16 * 1024;

/** Where rows refer to blobs: the column, and whether it holds a JSON array of { ref, size }. */
const SOURCES = [
  { table: 'parts', column: 'blob_ref', json: false },
  { table: 'objects', column: 'blobs', json: true },
  // Noncurrent versions keep their blobs until the version itself goes (a delete marker has none).
  { table: 'object_versions', column: 'blobs', json: true },
] as const;

const quote = (name: string) => `"${name}"`;

/** Snapshots open in this process, by scratch file: the next one waits for the last to close. */
const inUse = new Map<string, Promise<void>>();

/**
 * Copies every blob ref of the database at `dbPath` into a scratch file beside it, from one
 * snapshot, `pageSize` rows per step; returns the snapshot to ask. One at a time per database:
 * the scratch file has one name (a sweep cut short by a crash leaves it, the next one replaces it).
 */
export async function snapshotSqliteBlobReferences(dbPath: string, pageSize = REFERENCE_PAGE, signal?: AbortSignal): Promise<BlobReferenceSnapshot> {
  const scratch = `${dbPath}.orphan-sweep`;
  for (let held = inUse.get(scratch); held; held = inUse.get(scratch)) await held;
  let release!: () => void;
  inUse.set(scratch, new Promise<void>((r) => (release = r)));
  // Always lets the next snapshot go, even when the scratch file cannot be removed: a stuck
  // entry would stall every later sweep of the process.
  const letGo = async () => {
    try {
      await removeScratch(scratch);
    } finally {
      inUse.delete(scratch);
      release();
    }
  };
  let db: BetterSqlite3.Database | undefined;
  try {
    await removeScratch(scratch);
    db = new (sqliteDriver())(dbPath);
    db.pragma('busy_timeout = 5000');
    db.prepare('attach database ? as sweep').run(scratch);
    db.pragma('sweep.journal_mode = OFF');
    db.pragma('sweep.synchronous = OFF');
    db.pragma(`sweep.cache_size = -${SCRATCH_CACHE_KIB}`);
    // Refs as their 16 bytes (half the file of the hex text); one that is not hex stays as it is.
    db.exec('create table sweep.refs (ref primary key) without rowid');
    // One read transaction over every page: a part that becomes an object's blob meanwhile (or
    // a version that moves between tables) is seen in exactly one place.
    db.exec('begin');
    try {
      for (const source of SOURCES) await copyRefs(db, source, pageSize, signal);
      db.exec('commit');
    } catch (err) {
      if (db.inTransaction) db.exec('rollback');
      throw err;
    }
  } catch (err) {
    try {
      db?.close();
    } finally {
      await letGo();
    }
    throw err;
  }
  const open = db;
  const lookup = open.prepare('select j.value from json_each(?) as j where exists (select 1 from sweep.refs where ref = coalesce(unhex(j.value), j.value))').pluck();
  let closed = false;
  return {
    async referenced(refs) {
      if (closed) throw new Error('the blob reference snapshot is closed');
      return new Set(lookup.all(JSON.stringify(refs)) as string[]);
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        open.close();
      } finally {
        await letGo();
      }
    },
  };
}

async function copyRefs(db: BetterSqlite3.Database, source: (typeof SOURCES)[number], pageSize: number, signal: AbortSignal | undefined): Promise<void> {
  const key = COPIED_TABLES.find((t) => t.name === source.table)!.key;
  const keyList = key.map((k) => `o.${quote(k)}`).join(', ');
  const params = key.map(() => '?').join(', ');
  const after = `(${keyList}) > (${params})`;
  const upTo = `(${keyList}) <= (${params})`;
  const from = `main.${quote(source.table)} as o`;
  const ref = source.json ? `json_extract(j.value, '$.ref')` : `o.${quote(source.column)}`;
  const refs = `select coalesce(unhex(${ref}), ${ref}) from ${from}${source.json ? `, json_each(o.${quote(source.column)}) as j` : ''}`;
  const insert = (where: string[]) => db.prepare(`insert or ignore into sweep.refs (ref) ${refs}${where.length ? ` where ${where.join(' and ')}` : ''}`);
  // The last key of the page that starts after a key (or at the start): the page's upper bound.
  const pageEnd = (first: boolean) =>
    db.prepare(`select ${keyList} from ${from}${first ? '' : ` where ${after}`} order by ${keyList} limit 1 offset ${pageSize - 1}`).raw(true);
  const statements = {
    firstEnd: pageEnd(true),
    nextEnd: pageEnd(false),
    only: insert([]),
    first: insert([upTo]),
    middle: insert([after, upTo]),
    last: insert([after]),
  };
  let last: unknown[] | undefined;
  for (;;) {
    const end = (last ? statements.nextEnd.get(...last) : statements.firstEnd.get()) as unknown[] | undefined;
    if (!end) {
      // Fewer than a page of rows left: the rest, and done.
      if (last) statements.last.run(...last);
      else statements.only.run();
      return;
    }
    if (last) statements.middle.run(...last, ...end);
    else statements.first.run(...end);
    last = end;
    await nextTurn();
    signal?.throwIfAborted(); // the server is stopping
  }
}

async function removeScratch(path: string): Promise<void> {
  for (const suffix of ['', '-journal', '-wal', '-shm']) await rm(path + suffix, { force: true });
}
