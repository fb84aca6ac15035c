import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../util/error-code.js';

// The server of a data folder records its process ID in it. A second `skep serve` on the same
// folder (a mistake: a second unit, a start on another port) would otherwise open it as its own
// and clear what it takes for a crashed run's leftovers, the first server's uploads in progress.

const CLAIM_FILE = 'serve.pid';

/** Claims `dataDir` for this process, or throws when a live process other than this one holds it. */
export async function claimDataFolder(dataDir: string): Promise<{ release(): Promise<void> }> {
  const path = join(dataDir, CLAIM_FILE);
  const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  // A record of this very process (a restart in one process, PID 1 in a new container) is stale.
  if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`Another skep serve (process ${holder}) serves ${dataDir}: stop it first (if process ${holder} is not skep, remove ${path}).`);
  }
  await writeFile(path, `${process.pid}\n`, { mode: 0o600 });
  return {
    async release() {
      const now = (await readFile(path, 'utf8').catch(() => '')).trim();
      if (now === String(process.pid)) await rm(path, { force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return errorCode(err) === 'EPERM';
  }
}
