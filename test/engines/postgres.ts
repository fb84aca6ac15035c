// A throwaway PostgreSQL cluster for one test run (or one benchmark): a temporary folder, a free
// port on 127.0.0.1, trust authentication on loopback only, its Unix socket inside the folder.
// As root (CI), initdb and postgres run as the `postgres` user that Debian's package creates,
// since both refuse to run as root.
//
// The default collation is ICU's en-US, not "C": the metadata store must order keys by their
// bytes whatever the database's locale, and a "C" cluster would hide a query that forgot it.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asUser, freePort, isAlive, isRoot, readPid, run, tail, type Daemon } from './process-util.js';

export interface PostgresEngine {
  /** postgres://postgres@127.0.0.1:PORT/postgres (superuser, no password). */
  url: string;
  port: number;
  daemons: Daemon[];
  stop(): Promise<void>;
}

/** The folder with initdb, pg_ctl and postgres: Debian keeps them off PATH. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(base, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

export async function startPostgres(opts: { fsync?: boolean } = {}): Promise<PostgresEngine> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH; Debian package `postgresql`)');
  const dir = mkdtempSync(join(tmpdir(), 'skep-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  if (isRoot()) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const port = await freePort();
  const as = (cmd: string, args: string[]) => asUser('postgres', join(bin, cmd), args);
  try {
    const initArgs = ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C.UTF-8'];
    const icu = ['--locale-provider=icu', '--icu-locale=en-US'];
    await run(...as('initdb', [...initArgs, ...icu]), { cwd: dir }).catch(async () => {
      // PostgreSQL before 15, or built without ICU: the OS locale then.
      rmSync(data, { recursive: true, force: true });
      await run(...as('initdb', initArgs), { cwd: dir });
    });
    const settings = [
      `-c listen_addresses=127.0.0.1`,
      `-p ${port}`,
      `-c unix_socket_directories=${dir}`,
      `-c max_connections=400`,
      `-c shared_buffers=128MB`,
      `-c fsync=${opts.fsync ? 'on' : 'off'}`,
      `-c synchronous_commit=${opts.fsync ? 'on' : 'off'}`,
      `-c full_page_writes=${opts.fsync ? 'on' : 'off'}`,
      `-c log_min_messages=warning`,
    ].join(' ');
    await run(...as('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', settings, 'start']), { cwd: dir, timeoutMs: 90_000 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = readPid(join(data, 'postmaster.pid'));
  if (pid === null || !isAlive(pid)) {
    const log = tail(logFile);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not stay up:\n${log}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    daemons: [{ name: 'postgres', pid, logFile }],
    async stop() {
      // A throwaway cluster: no checkpoint needed.
      await run(...as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), { cwd: dir }).catch(() => {
        if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The uid and gid of a system user (`id` is in coreutils). */
function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
