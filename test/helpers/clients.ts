import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, createReadStream, realpathSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { ROOT_KEY } from './server.js';

// Shared plumbing for the tests that drive real external S3 clients (AWS CLI, rclone, s3cmd,
// boto3) as child processes: locating the executables, a clean environment that reads no
// configuration from this machine, running a command, and comparing files and folders.

export const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
export const MiB = 1024 * 1024;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Folders searched for executables: PATH, then pyenv's shims (CI may start without them on PATH). */
function searchDirs(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const pyenvRoot = process.env.PYENV_ROOT ?? join(homedir(), '.pyenv');
  dirs.push(join(pyenvRoot, 'shims'));
  return [...new Set(dirs)];
}

/**
 * The first executable called `name` on the search path, skipping any that is (or resolves to)
 * one of `exclude`. Found by path, so two installations of one tool can be told apart.
 */
export function findExecutable(name: string, exclude: string[] = []): string | undefined {
  const excluded = new Set(exclude.map(realpathOrSelf));
  for (const dir of searchDirs()) {
    const candidate = join(dir, name);
    if (!isExecutable(candidate)) continue;
    if (excluded.has(realpathOrSelf(candidate))) continue;
    return candidate;
  }
  return undefined;
}

/** An executable at a fixed system path (Debian's packages), if installed. */
export function systemExecutable(path: string): string | undefined {
  return isExecutable(path) ? path : undefined;
}

/** The version line a tool prints, or undefined when it does not run. */
export function versionOf(path: string, args: string[] = ['--version'], env: NodeJS.ProcessEnv = baseEnv(tmpdir())): string | undefined {
  try {
    const out = execFileSync(path, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return out.split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

/** The boto3 version importable by a Python interpreter, or undefined. */
export function boto3Version(python: string): string | undefined {
  return versionOf(python, ['-c', 'import boto3; print(boto3.__version__)']);
}

export interface Availability {
  /** Passed as a node:test option: a reason to skip locally, never in CI. */
  skip: string | false;
  /** Throws in CI when the client is missing, so the test fails instead of passing vacuously. */
  require(): string;
}

/**
 * Whether a client is there. Locally a missing client skips its tests with a clear message; in CI
 * (CI=true) it is a failure, since `npm run test:setup` is meant to have installed it.
 */
export function availability(label: string, path: string | undefined, hint: string): Availability {
  const reason = `${label} not found (${hint}); run \`npm run test:setup\``;
  return {
    skip: path || IN_CI ? false : reason,
    require() {
      if (!path) throw new Error(`${reason}${IN_CI ? ' — required in CI' : ''}`);
      return path;
    },
  };
}

/**
 * An environment with nothing from this machine's configuration: HOME is a fresh folder, AWS
 * settings come only from here, and variables such as AWS_CA_BUNDLE or AWS_PROFILE are not passed.
 */
export function baseEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TMPDIR: tmpdir(),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
  };
}

/** baseEnv plus the root credentials the test server accepts, for the AWS CLI and boto3. */
export function awsEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...baseEnv(home),
    AWS_ACCESS_KEY_ID: ROOT_KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ROOT_KEY.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    // Files that do not exist: no profile or setting from the machine applies.
    AWS_CONFIG_FILE: join(home, '.aws', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extra,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * How busy the machine is: the 1-minute load average per core, at least 1 (an idle machine) and
 * at most 8. Several engineers' suites may share two cores; a command then takes that much longer.
 */
export function machineLoad(): number {
  return Math.min(8, Math.max(1, loadavg()[0] / availableParallelism()));
}

/** Seconds a client command gets to start, sign and make its round trips, on an idle machine. */
const COMMAND_BASE_MS = 60_000;
/** And per MiB it moves (both ways counted), on an idle machine: far slower than loopback. */
const COMMAND_PER_MIB_MS = 2_000;

/**
 * The time limit of one client command: scaled by the work it does (the bytes it moves) and by
 * how loaded the machine is when it starts. Every command has its own limit, so a suite never
 * shares one budget among commands that a busy machine slows down.
 */
export function commandTimeoutMs(work: { bytes?: number } = {}, load = machineLoad()): number {
  return Math.round((COMMAND_BASE_MS + ((work.bytes ?? 0) / MiB) * COMMAND_PER_MIB_MS) * load);
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** A fixed limit; by default commandTimeoutMs({ bytes }). */
  timeoutMs?: number;
  /** The bytes the command moves (uploads plus downloads), for its time limit. */
  bytes?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
}

/** Runs a command to completion. A non-zero exit throws with the command and its output. */
export function run(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  const timeout = opts.timeoutMs ?? commandTimeoutMs({ bytes: opts.bytes });
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: opts.env, cwd: opts.cwd, timeout, maxBuffer: 64 * MiB, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && !(opts.allowFailure && typeof err.code === 'number')) {
          const why = err.killed && err.signal ? `timed out after ${Math.round(timeout / 1000)} s, its limit at load ${machineLoad().toFixed(1)}` : (err.code ?? err.signal ?? err.message);
          reject(new Error(`${cmd} ${args.join(' ')} failed (${why})\nstdout: ${stdout}\nstderr: ${stderr}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A temporary folder, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `skep-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Writes `size` random bytes to `path` (creating folders) and returns their sha256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const data = randomBytes(size);
  await writeFile(path, data);
  return sha256(data);
}

/** Every file under `root` as relative path (with '/') -> sha256, sorted by path. */
export async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out[relative(root, full).split('\\').join('/')] = await sha256File(full);
    }
  };
  await walk(root);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * A small nested tree for sync tests: text files at several depths, a file whose name has a
 * space and non-ASCII letters, and optionally one large file. Returns treeDigest of it.
 */
export async function writeSampleTree(root: string, bigSize = 0): Promise<Record<string, string>> {
  const files: Record<string, string> = {
    'top.txt': 'top level\n',
    'docs/readme.md': '# read me\n',
    'docs/notes/2024/jan.txt': 'january notes\n',
    'docs/notes/2024/feb.txt': 'february notes\n',
    'media/hello world é.txt': 'spaces and accents\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), text);
  }
  if (bigSize > 0) await writeRandomFile(join(root, 'media/big.bin'), bigSize);
  return treeDigest(root);
}

/**
 * rclone's environment for a remote called `skep` at `endpoint` with the root key: an empty
 * config file (written here, in `dir`) plus the remote in RCLONE_CONFIG_SKEP_* variables, so
 * nothing is read from this machine. AWS_CA_BUNDLE is deliberately absent (rclone refuses plain
 * http with it).
 */
export async function rcloneEnv(dir: string, endpoint: string): Promise<NodeJS.ProcessEnv> {
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true });
  const config = join(dir, 'rclone.conf');
  await writeFile(config, '');
  return {
    ...baseEnv(home),
    RCLONE_CONFIG: config,
    RCLONE_CONFIG_SKEP_TYPE: 's3',
    RCLONE_CONFIG_SKEP_PROVIDER: 'Other',
    RCLONE_CONFIG_SKEP_ENDPOINT: endpoint,
    RCLONE_CONFIG_SKEP_REGION: 'us-east-1',
    RCLONE_CONFIG_SKEP_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_SKEP_ACCESS_KEY_ID: ROOT_KEY.accessKeyId,
    RCLONE_CONFIG_SKEP_SECRET_ACCESS_KEY: ROOT_KEY.secretAccessKey,
  };
}
