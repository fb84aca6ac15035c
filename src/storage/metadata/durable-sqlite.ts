// How skep runs a SQLite file it writes to, the metadata database and the inline blobs alike: WAL
// mode with synchronous=NORMAL, each write reported done only after WalSync has flushed the WAL
// (group commit, wal-sync.ts), and checkpoints on the worker thread (wal-checkpointer.ts).

import type BetterSqlite3 from 'better-sqlite3';
import { WalSync } from './wal-sync.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES, startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js';

/**
 * The size a WAL file is cut back to once it starts over (bytes): about twice what the writer's
 * fallback checkpoint (FALLBACK_AUTOCHECKPOINT_PAGES) lets it reach, so only a WAL that grew past
 * its usual size is cut. It grows past it while a long read (the orphan sweep's snapshot) keeps
 * checkpoints from catching up, and SQLite would otherwise keep the file at its largest for good.
 */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export interface DurableSqlite {
  walSync: WalSync;
  /** Starts the checkpoints of the file's WAL on the worker thread; close it before the database. */
  startCheckpoints(): WalCheckpointer;
}

/** Tunes `raw`, opened on `path`; null for an in-memory database, which has nothing to flush. */
export function tuneForDurableWrites(raw: BetterSqlite3.Database, path: string): DurableSqlite | null {
  raw.pragma('journal_mode = WAL');
  // NORMAL: SQLite flushes at checkpoints only, and the commits in between are flushed by
  // WalSync (off the event loop) before any write is reported done.
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  if (path === ':memory:' || path === '') return null;
  raw.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  raw.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  return { walSync: new WalSync(path), startCheckpoints: () => startWalCheckpointer(path) };
}
