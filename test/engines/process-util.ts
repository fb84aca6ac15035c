// Plumbing shared by the engine starters: free ports, running a command as another user, waiting
// for a port, and the tail of a log file for error messages.

import { execFile, type ExecFileOptions } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command; rejects with its output in the message when it fails or times out. */
export function run(cmd: string, args: string[], opts: ExecFileOptions & { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { ...opts, timeout: opts.timeoutMs ?? 60_000, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = `${String(stderr).trim()}\n${String(stdout).trim()}`.trim();
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}${detail ? `\n${detail.slice(-2000)}` : ''}`));
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** `cmd args` as `user` when running as root (some servers refuse to run as root), else as is. */
export function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`${what} exited before it listened on port ${port}`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on port ${port} within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function tail(path: string, bytes = 3000): string {
  if (!existsSync(path)) return `(no ${path})`;
  const text = readFileSync(path, 'utf8');
  return text.length > bytes ? text.slice(-bytes) : text;
}

export function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A daemon started by an engine: watched for an unexpected exit. */
export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
}
