// Group commit for the embedded database. SQLite runs in WAL mode with synchronous=NORMAL, so a
// commit appends its frames to the -wal file without flushing them, on the event loop (the driver
// is synchronous). A write is only reported done once a flush of the WAL that *started after its
// commit* has finished: the same durability as synchronous=FULL for every write a caller is told
// about, but the flush runs on libuv's pool instead of blocking the event loop, and the writes
// that commit while one flush runs share the next one (N concurrent writes: one or two flushes).
//
// A failed flush fails the writes waiting for it. It also fails every later one: after a failed
// fsync the kernel may have dropped the WAL pages it could not write, and since recovery stops at
// the first bad frame, no later commit can be promised durable either. Reads go on; the operator
// restarts the node (SQLite's recovery then finds what really reached the disk).

import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncFolder } from '../sync-folder.js';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Flushes a file (the default: fdatasync). A parameter so that tests can make a flush fail. */
export type Flush = (fh: FileHandle) => Promise<void>;

export class WalSync {
  private fh: FileHandle | null = null;
  /** Callers waiting for a flush that has not started yet: they all share the next one. */
  private waiting: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private failure: Error | null = null;
  /** Flushes done (for tests: concurrent writes share them). */
  flushes = 0;

  constructor(
    /** The database file; its WAL is `${dbPath}-wal`. */
    private readonly dbPath: string,
    private readonly flush: Flush = (fh) => fh.datasync(),
  ) {}

  /** Resolves once everything committed before the call is on disk. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.flushing ??= this.run();
    });
  }

  /** Waits for the flushes in progress, then lets go of the WAL's file handle. */
  async close(): Promise<void> {
    await this.flushing;
    await this.fh?.close();
    this.fh = null;
  }

  private async run(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      if (!this.failure) {
        try {
          await this.flushOnce();
        } catch (err) {
          this.failure = Object.assign(new Error(`flushing the journal ${this.dbPath}-wal failed; writes since are not durable, restart the server: ${(err as Error).message}`), {
            cause: err,
          });
        }
      }
      for (const w of batch) {
        if (this.failure) w.reject(this.failure);
        else w.resolve();
      }
    }
    this.flushing = null;
  }

  private async flushOnce(): Promise<void> {
    if (!this.fh) {
      // The WAL file lives as long as the connection, so one handle serves every flush. Its name
      // (and the database's) become durable with their folder, synced once.
      this.fh = await open(`${this.dbPath}-wal`, 'r');
      await syncFolder(dirname(this.dbPath));
    }
    await this.flush(this.fh);
    this.flushes++;
  }
}
