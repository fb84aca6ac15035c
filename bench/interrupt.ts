// An interrupted bench (Ctrl-C, SIGTERM) still stops what it started: servers, engines and
// their data folders, which would otherwise stay in the temporary folder (a --scale run leaves
// gigabytes). Each piece registers its own cleanup while it lives.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cleanups = new Set<() => Promise<unknown>>();
let installed = false;

/**
 * Runs `cleanup` if the bench is interrupted before the returned function is called; the
 * interrupted bench then exits with 128 + the signal's number, as a shell reports it.
 */
function cleanUpOnInterrupt(cleanup: () => Promise<unknown>): () => void {
  if (!installed) {
    installed = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void interrupted(signal));
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** `stop`, registered for an interrupt until it has run to its end. */
export function stoppedOnInterrupt(stop: () => Promise<void>): () => Promise<void> {
  const forget = cleanUpOnInterrupt(stop);
  return async () => {
    try {
      await stop();
    } finally {
      forget();
    }
  };
}

/** A new folder in the temporary folder, removed by `remove()` or when the bench is interrupted. */
export async function temporaryFolder(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: stoppedOnInterrupt(() => rm(path, { recursive: true, force: true })) };
}

async function interrupted(signal: 'SIGINT' | 'SIGTERM'): Promise<void> {
  process.stderr.write(`\n${signal}: stopping what the bench started and removing its data\n`);
  // Newest first, one at a time: a server stops before the folder it was given is removed.
  for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => undefined);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
