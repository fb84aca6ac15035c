// Checkpoints off the event loop. SQLite copies the WAL back into the database file (a
// checkpoint) inside whichever commit crosses `wal_autocheckpoint` pages, on the thread that
// committed, with a flush of each file: for 4 KiB inline blobs that stalled the event loop 5 ms on
// average (up to 28 ms) every ~150 inserts, half of all the time spent inserting. Here a worker
// thread with a connection of its own runs PASSIVE checkpoints (they never wait for, nor block, a
// reader or a writer) every CHECKPOINT_EVERY_MS. The writer's own automatic checkpoint stays, with
// a higher threshold, as the fallback: a WAL only starts over once a checkpoint has caught up with
// every commit, which a checkpoint running beside a steady stream of writes rarely sees; the
// writer's then finds nearly every page already copied and costs little more than its flushes.

import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { sqliteDriverName } from './sqlite-driver.js';

const CHECKPOINT_EVERY_MS = 100;
/** The writer's fallback threshold, in pages (SQLite's default is 1000). */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 8000;

// One worker serves every database of the process (the metadata and the inline blobs): each
// worker is a V8 instance of its own, tens of MiB of memory.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const open = new Map();
setInterval(() => {
  for (const db of open.values()) {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or failing: the writer's own checkpoint still runs.
    }
  }
}, workerData.everyMs);
// Keyed by handle, not path: a process may open one file twice (two stores on one data folder).
parentPort.on('message', ({ add, handle, id }) => {
  try {
    if (add) {
      const db = new Database(add);
      db.pragma('busy_timeout = 0');
      open.set(handle, db);
    } else {
      open.get(handle)?.close();
      open.delete(handle);
    }
  } catch {
    // Not checkpointed from here: the writer's own checkpoint still runs.
  }
  parentPort.postMessage(id);
});
`;

export interface WalCheckpointer {
  /** Stops checkpointing the database and closes the worker's connection to it (before the writer closes it). */
  close(): Promise<void>;
}

interface Shared {
  worker: Worker;
  users: number;
  replies: Map<number, () => void>;
  nextId: number;
  dead: boolean;
}
let shared: Shared | null = null;

function sharedWorker(): Shared {
  if (shared) return shared;
  const driver = createRequire(import.meta.url).resolve(sqliteDriverName());
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver, everyMs: CHECKPOINT_EVERY_MS },
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  worker.unref();
  const s: Shared = { worker, users: 0, replies: new Map(), nextId: 0, dead: false };
  worker.on('message', (id: number) => {
    s.replies.get(id)?.();
    s.replies.delete(id);
  });
  // A worker that fails leaves the checkpoints to the writers, as SQLite does by default.
  const gone = () => {
    s.dead = true;
    for (const reply of s.replies.values()) reply();
    s.replies.clear();
    if (shared === s) shared = null;
  };
  worker.on('error', gone);
  worker.on('exit', gone);
  shared = s;
  return s;
}

function send(s: Shared, message: { add?: string; handle: number }): Promise<void> {
  if (s.dead) return Promise.resolve();
  const id = s.nextId++;
  return new Promise<void>((resolve) => {
    s.replies.set(id, resolve);
    s.worker.postMessage({ ...message, id });
  });
}

/** Starts checkpointing the WAL of the SQLite database at `path` from the worker thread. */
export function startWalCheckpointer(path: string): WalCheckpointer {
  const s = sharedWorker();
  s.users++;
  const handle = s.nextId; // the id of its add message: unique in the process
  void send(s, { add: path, handle });
  let closed = false;
  return {
    async close() {
      if (closed) return;
      closed = true;
      await send(s, { handle });
      if (--s.users === 0) {
        if (shared === s) shared = null;
        await s.worker.terminate();
      }
    },
  };
}
