// BlobStore on a local (or shared) folder. A put streams all its bytes into tmp/, renames the
// file into <dir>/<ref[0..2]>/<ref[2..4]>/<ref>, and returns once the bytes and the name are both
// on disk. Only then can metadata refer to the ref, so a referenced blob is always complete; a
// crash mid-put leaves at most an unreferenced file, which the orphan sweep removes.

import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { chunkBytes, noSuchBlob, REF_PATTERN, type BlobStore, type BlobWriteResult, type ByteRange } from './blob-store.js';
import { errorCode } from '../../util/error-code.js';
import { randomHex } from '../../util/random-hex.js';
import { syncFolder } from '../sync-folder.js';
const FANOUT_PATTERN = /^[0-9a-f]{2}$/;
/** Writes are batched to about this size: fewer syscalls than one write per network chunk. */
const WRITE_BATCH = 256 * 1024;
const READ_HIGH_WATER_MARK = 256 * 1024;
const PUTS_PER_FOLDER = 256;
/** Stats in flight at once while listing. */
const STATS_AT_ONCE = 8;

/**
 * `emptyTmp`: the opener is the folder's server, so whatever is in tmp/ was never renamed into
 * place (a put interrupted by a crash) and is removed. Any other opener (an operator command, run
 * while the server works) leaves tmp/ alone: its files are the server's puts in progress.
 */
export async function openFsBlobStore(dir: string, opts: { emptyTmp?: boolean } = {}): Promise<BlobStore> {
  const tmp = join(dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  if (opts.emptyTmp) for (const name of await readdir(tmp)) await rm(join(tmp, name), { force: true, recursive: true });
  return new FsBlobStore(dir, tmp);
}

class FsBlobStore implements BlobStore {
  /**
   * Fan-out folders that exist with their names synced (or are being made so): later puts skip
   * the mkdir, and a put never relies on a folder another put has created but not yet synced.
   */
  private readonly folders = new Map<string, Promise<void>>();
  /** Folder fsyncs in flight, to share one among the puts that need it at the same time. */
  private readonly dirSyncs = new Map<string, { settled: Promise<void>; next: Promise<void> | null }>();

  constructor(
    private readonly dir: string,
    private readonly tmp: string,
  ) {}

  /** The fan-out folder new blobs go to for the next `prefixUses` puts (see `newRef`). */
  private folderPrefix = '';
  private prefixUses = 0;

  async put(body: Readable, ref: string = this.newRef()): Promise<BlobWriteResult> {
    if (!REF_PATTERN.test(ref)) throw new Error(`not a blob ref: ${ref}`);
    const tmpPath = join(this.tmp, randomHex(16));
    let size: number;
    const fh = await open(tmpPath, 'wx');
    // The fan-out folder is made (and synced, when new) while the body streams in.
    const folderReady = this.ensureFolder(ref);
    folderReady.catch(() => undefined); // awaited below, unless the body fails first
    let path = tmpPath;
    try {
      size = await writeBody(fh, body);
      const folder = await folderReady;
      const finalPath = join(folder, ref);
      await rename(tmpPath, finalPath);
      path = finalPath;
      // The bytes and the new name (durable once its folder is synced) are flushed at the same
      // time: one disk flush of latency per put instead of two in a row. Nothing refers to the
      // blob until both are done (the metadata commit comes after put returns), so a crash
      // between them leaves at most an unreferenced blob, which the orphan sweep removes.
      await Promise.all([fh.datasync(), this.syncDir(folder)]);
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await rm(path, { force: true });
      throw err; // the very error the body (or the disk) raised
    }
    return { ref, size };
  }

  get(ref: string, range?: ByteRange): Readable {
    if (!REF_PATTERN.test(ref)) return failedStream(noSuchBlob(ref));
    return createReadStream(this.pathOf(ref), {
      start: range?.start,
      end: range?.end,
      // Each read allocates a buffer of this size, kept alive by the chunk sliced from it: 256 KiB
      // per 4 KiB GET is external memory that forces back-to-back major GCs under load.
      highWaterMark: range ? Math.max(1, Math.min(READ_HIGH_WATER_MARK, range.end - range.start + 1)) : READ_HIGH_WATER_MARK,
    });
  }

  async delete(ref: string): Promise<void> {
    if (!REF_PATTERN.test(ref)) return;
    try {
      await unlink(this.pathOf(ref));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }

  async *list(): AsyncIterable<{ ref: string; mtime: Date }> {
    for (const a of await sortedSubfolders(this.dir)) {
      for (const b of await sortedSubfolders(join(this.dir, a))) {
        const folder = join(this.dir, a, b);
        let entries;
        try {
          entries = await readdir(folder, { withFileTypes: true });
        } catch (err) {
          if (errorCode(err) === 'ENOENT') continue;
          throw err;
        }
        const refs = entries.filter((e) => e.isFile() && REF_PATTERN.test(e.name) && e.name.startsWith(a + b)).map((e) => e.name);
        // A few stats at a time: one after the other, a million blobs took minutes.
        for (let i = 0; i < refs.length; i += STATS_AT_ONCE) {
          const some = refs.slice(i, i + STATS_AT_ONCE);
          const times = await Promise.all(some.map((ref) => modified(join(folder, ref))));
          for (let j = 0; j < some.length; j++) {
            const mtime = times[j];
            if (mtime) yield { ref: some[j], mtime };
          }
        }
      }
    }
  }

  async ping(): Promise<void> {
    await stat(this.tmp);
  }

  async close(): Promise<void> {
    this.folders.clear();
  }

  /**
   * A new opaque ref. Puts share one fan-out folder (the ref's first four hex digits) for a run of
   * PUTS_PER_FOLDER, so the puts in flight together rename into the same folder and share its
   * fsync (group commit) instead of each syncing a folder of its own; the next run picks another
   * folder at random, so over time blobs still spread evenly across the fan-out.
   */
  newRef(): string {
    if (this.prefixUses === 0) {
      this.folderPrefix = randomHex(2);
      this.prefixUses = PUTS_PER_FOLDER;
    }
    this.prefixUses--;
    return this.folderPrefix + randomHex(14);
  }

  private pathOf(ref: string): string {
    return join(this.dir, ref.slice(0, 2), ref.slice(2, 4), ref);
  }

  /**
   * Makes <dir>/<ref[0..2]>/<ref[2..4]> exist, durably: a new folder's name lives in its parent,
   * so the parent is synced after a mkdir that created something (the root only when the first
   * level is new too: one fsync per put fewer than syncing both every time).
   */
  private async ensureFolder(ref: string): Promise<string> {
    const parent = join(this.dir, ref.slice(0, 2));
    const folder = join(parent, ref.slice(2, 4));
    await this.ensureDir(folder, parent, () => this.ensureDir(parent, this.dir));
    return folder;
  }

  private ensureDir(path: string, parent: string, parentReady?: () => Promise<void>): Promise<void> {
    let ready = this.folders.get(path);
    if (!ready) {
      ready = (async () => {
        await parentReady?.();
        let created = true;
        try {
          await mkdir(path);
        } catch (err) {
          if (errorCode(err) !== 'EEXIST') throw err;
          created = false; // made earlier (by another run of the process): its name is on disk
        }
        if (created) await this.syncDir(parent);
      })();
      this.folders.set(path, ready);
      ready.catch(() => this.folders.delete(path)); // the next put tries again
    }
    return ready;
  }

  /**
   * fsyncs a folder. A sync already running may have started before the caller's change, so the
   * caller waits for the next one, which every caller arriving meanwhile shares (group commit).
   */
  private syncDir(path: string): Promise<void> {
    const current = this.dirSyncs.get(path);
    if (current) return (current.next ??= current.settled.then(() => this.syncDir(path)));
    const run = syncFolder(path);
    const entry = { settled: run.then(noop, noop), next: null as Promise<void> | null };
    this.dirSyncs.set(path, entry);
    // Registered before any waiter's reaction, so the entry is gone when the waiters start theirs.
    void entry.settled.then(() => {
      if (this.dirSyncs.get(path) === entry) this.dirSyncs.delete(path);
    });
    return run;
  }
}

function noop(): void {}

/**
 * Copies `body` to `fh`, batching chunks into writev calls. Returns the byte count. Rejects with
 * the body's own error object when the body fails. The body is not destroyed if the disk fails,
 * so its owner can still answer the client.
 */
async function writeBody(fh: FileHandle, body: Readable): Promise<number> {
  let size = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  // A throw inside the loop would make the iterator destroy the body; leave with `break` instead.
  let failure: { err: unknown } | undefined;
  for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>) {
    try {
      const buf = chunkBytes(chunk);
      if (buf.length === 0) continue;
      batch.push(buf);
      batchBytes += buf.length;
      size += buf.length;
      if (batchBytes >= WRITE_BATCH) {
        await writeAll(fh, batch);
        batch = [];
        batchBytes = 0;
      }
    } catch (err) {
      failure = { err };
      break;
    }
  }
  if (failure) throw failure.err;
  if (batchBytes > 0) await writeAll(fh, batch);
  return size;
}

async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<void> {
  let pending = buffers;
  for (;;) {
    const total = pending.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(pending);
    if (bytesWritten >= total) return;
    // A short write: keep what was not written yet.
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    pending = rest;
  }
}

/** A file's modification time; null when it was deleted meanwhile. */
async function modified(path: string): Promise<Date | null> {
  try {
    return (await stat(path)).mtime;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
}

async function sortedSubfolders(path: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && FANOUT_PATTERN.test(e.name))
    .map((e) => e.name)
    .sort();
}

function failedStream(err: Error): Readable {
  const stream = new Readable({ read() {} });
  process.nextTick(() => stream.destroy(err));
  return stream;
}

