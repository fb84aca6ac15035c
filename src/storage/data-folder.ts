import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isPostgresUrl } from './storage-urls.js';
import { DomainError } from '../util/domain-error.js';

// The data folder holds every object's bytes, the metadata database and the master key: nobody
// but the server's own user may read it. A new folder is made 0700; an existing one that others
// can read (a folder made by hand, a restored backup) is tightened, with a warning, or refused
// when the server may not change it.

/** Files and folders inside the data folder that are tightened too (each only if it exists). */
const INSIDE = [
  ['blobs', 0o700],
  ['metadata.sqlite', 0o600],
  ['metadata.sqlite-wal', 0o600],
  ['metadata.sqlite-shm', 0o600],
  ['master.key', 0o600],
] as const;

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

/** Restricts `path` to `wanted` if others may read it; says whether it did. */
async function tighten(path: string, wanted: number): Promise<{ was: number } | null> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if ((mode & 0o077) === 0) return null;
  try {
    await chmod(path, wanted);
  } catch (err) {
    throw new Error(
      `${path} is readable by other users (mode ${octal(mode)}) and skep could not restrict it (${(err as NodeJS.ErrnoException).code}): ` +
        `run chmod ${octal(wanted)} ${path} as its owner, or use a data folder of the user that runs skep.`,
    );
  }
  return { was: mode };
}

/** mkdir -p, with a message that names the data folder when a file stands in its way. */
async function makeFolder(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
    const where = code === 'EEXIST' ? 'it is a file' : 'a folder on its path is a file';
    throw new Error(`the data folder ${dataDir} cannot be used: ${where}, not a folder (check --data or SKEP_DATA)`);
  }
}

/** Creates the data folder (0700) or tightens an existing one; throws when it cannot be made private. */
export async function secureDataFolder(dataDir: string, log: Logger): Promise<void> {
  await makeFolder(dataDir);
  const folder = await tighten(dataDir, 0o700);
  for (const [name, mode] of INSIDE) {
    const path = join(dataDir, name);
    const tightened = await tighten(path, mode);
    // Inside a folder only its owner could enter, the files SQLite made with the umask were
    // readable by no one else: they are tightened without a warning that would cry wolf.
    if (tightened && folder) warn(log, path, tightened.was, mode);
  }
  if (folder) warn(log, dataDir, folder.was, 0o700);
}

function warn(log: Logger, path: string, was: number, now: number): void {
  log.warn({ path, was: octal(was), now: octal(now) }, 'data folder permissions tightened: other users could read it');
}

/**
 * Refuses a folder that holds no deployment. Only `serve` makes a new one (on its first start):
 * every other command opens an existing deployment, so a mistyped --data creates nothing. With
 * the metadata in PostgreSQL the database is the deployment, and a node's folder may hold only
 * its master key, or nothing when SKEP_MASTER_KEY gives it.
 */
export async function requireDeployment(dataDir: string, metadataUrl: string | undefined): Promise<void> {
  if (isPostgresUrl(metadataUrl)) return;
  const found = await stat(join(dataDir, 'metadata.sqlite')).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!found) {
    throw new DomainError(
      'invalid-argument',
      `${dataDir} is not a skep data folder (no metadata.sqlite in it): check --data or SKEP_DATA, or set SKEP_METADATA_URL for metadata in PostgreSQL.`,
      'data',
    );
  }
}
