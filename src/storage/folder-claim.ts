import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { sqliteDriver } from './metadata/sqlite-driver.js';

// The server of a data folder holds a lock on it. A second `skep serve` on the same folder (a
// mistake: a second unit, a start on another port) would otherwise open it as its own and clear
// what it takes for a crashed run's leftovers, the first server's uploads in progress.
//
// The lock is SQLite's own: `serve.lock` is a database held in exclusive locking mode, so the
// operating system keeps the lock for as long as the process lives and drops it when the process
// ends, however it ends. Two starts at the same instant cannot both take it, and a process ID
// recorded by an earlier run, reused since by an unrelated process, does not keep a folder shut
// (one that still runs `skep serve` does: an older skep's server, which holds no lock).
// `serve.pid` only names the holder in the refusal. The lock file is never removed: a process
// could be opening it at that moment, and would then lock a file no one else sees.

const LOCK_FILE = 'serve.lock';
const PID_FILE = 'serve.pid';

/** Claims held by this process, by folder: a second claim in one process takes the first over. */
const held = new Map<string, BetterSqlite3.Database>();

/** Claims `dataDir` for this process, or throws when another process holds it. */
export async function claimDataFolder(dataDir: string): Promise<{ release(): Promise<void> }> {
  const folder = resolve(dataDir);
  const pidPath = join(folder, PID_FILE);
  // A claim this process already holds (a restart within one process) is handed over, as a
  // crashed run's would be: only another process's claim refuses.
  held.get(folder)?.close();
  held.delete(folder);
  const Database = sqliteDriver();
  const db = new Database(join(folder, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // Nothing here needs a rollback journal: no -journal file beside the lock.
    db.pragma('journal_mode = MEMORY');
    // The first write in exclusive locking mode takes the lock until the connection closes.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS claim (taken_at INTEGER); DELETE FROM claim; COMMIT');
    db.prepare('INSERT INTO claim (taken_at) VALUES (?)').run(Date.now());
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    throw refusal(dataDir, await recordedHolder(pidPath));
  }
  // A server of an older skep (before serve.lock) holds no lock, only its record: a live skep serve
  // named there still holds the folder (an upgrade started before the old server stopped).
  const recorded = await recordedHolder(pidPath);
  if (recorded !== undefined && recorded !== process.pid && (await isSkepServe(recorded))) {
    db.close();
    throw refusal(dataDir, recorded);
  }
  held.set(folder, db);
  await writeFile(pidPath, `${process.pid}\n`, { mode: 0o600 });
  return {
    async release() {
      if (held.get(folder) !== db) return;
      held.delete(folder);
      await rm(pidPath, { force: true });
      db.close();
    },
  };
}

/** The process ID serve.pid records, if it holds one. */
async function recordedHolder(pidPath: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidPath, 'utf8').catch(() => '')).trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function refusal(dataDir: string, pid: number | undefined): Error {
  return new Error(`Another skep serve${pid === undefined ? '' : ` (process ${pid})`} serves ${dataDir}: stop it first.`);
}

/** Whether a process runs `skep serve` (on Linux, by its command line; elsewhere: unknown, no). */
async function isSkepServe(pid: number): Promise<boolean> {
  const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return args.includes('serve') && args.some((a) => /(?:^|\/)skep(?:\.js)?$|skep-cli\.ts$|cli\/main\.[jt]s$/.test(a));
}
