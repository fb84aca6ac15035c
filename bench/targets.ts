// The three servers under test, each started as a child process on a free port with its own
// temporary data folder: skep (compiled build), s3rver, and the bare-node "ceiling".

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Credentials } from './client.js';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

export type TargetName = 'skep' | 's3rver' | 'ceiling';
export const TARGETS: TargetName[] = ['skep', 's3rver', 'ceiling'];

export const SKEP_KEY: Credentials = { accessKeyId: 'SKBENCHROOTKEY000001', secretAccessKey: 'bench-root-secret-access-key-0123456789ab' };
const S3RVER_KEY: Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface RunningTarget {
  name: TargetName;
  url: string;
  pid: number;
  creds: Credentials;
  dataDir: string;
  /** Stops the process (SIGTERM, so a --cpu-prof profile gets written) and removes its data. */
  stop(): Promise<void>;
  /** The last lines the process wrote to stderr. */
  stderr(): string;
}

export interface StartOptions {
  /** Write a V8 CPU profile of the server into this folder (skep only). */
  cpuProfDir?: string;
  /** Extra environment for the server (e.g. UV_THREADPOOL_SIZE). */
  env?: Record<string, string>;
  /** Another built skep checkout to run instead of this one (its bin/skep.js and dist/). */
  skepDir?: string;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, errText: () => string): Promise<RegExpExecArray> {
  return new Promise((resolveLine, reject) => {
    let buffered = '';
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}; stderr: ${errText()}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buffered += d.toString('utf8');
      const m = pattern.exec(buffered);
      if (m) done(null, m);
    };
    const onExit = (code: number | null) => done(new Error(`server exited (${code}) before it was ready; stderr: ${errText()}`));
    function done(err: Error | null, m?: RegExpExecArray) {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolveLine(m!);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number, errText: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}); stderr: ${errText()}`);
    const ok = await new Promise<boolean>((r) => {
      const req = http.get(url, (res) => {
        res.resume();
        r(true);
      });
      req.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}; stderr: ${errText()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function launch(cmd: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, cmd, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
  });
  // Keep stdout drained after readiness.
  child.stdout!.on('data', () => undefined);
  return { child, stderr: () => tail };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export async function startTarget(name: TargetName, opts: StartOptions = {}): Promise<RunningTarget> {
  const dataDir = await mkdtemp(join(tmpdir(), `skep-bench-${name}-`));
  const port = await freePort();
  const baseEnv = { ...process.env, ...(opts.env ?? {}) };
  let child: ChildProcess;
  let stderr: () => string;
  let creds: Credentials;
  let url = `http://127.0.0.1:${port}`;
  if (name === 'skep') {
    const node = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
    ({ child, stderr } = launch([...node, join(opts.skepDir ?? ROOT, 'bin/skep.js'), 'serve', '--port', String(port), '--data', dataDir, '--log-level', 'warn'], {
      ...baseEnv,
      SKEP_ROOT_ACCESS_KEY_ID: SKEP_KEY.accessKeyId,
      SKEP_ROOT_SECRET_ACCESS_KEY: SKEP_KEY.secretAccessKey,
    }));
    const m = await waitForLine(child, /listening on (http:\/\/\S+)/, 20_000, stderr);
    url = m[1];
    creds = SKEP_KEY;
  } else if (name === 's3rver') {
    const node = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
    ({ child, stderr } = launch(
      [...node, join(ROOT, 'node_modules/s3rver/bin/s3rver.js'), '-d', dataDir, '-p', String(port), '-a', '127.0.0.1', '--silent'],
      baseEnv,
    ));
    await waitForHttp(url + '/', child, 20_000, stderr);
    creds = S3RVER_KEY;
  } else {
    ({ child, stderr } = launch(['--import', 'tsx', join(ROOT, 'bench/ceiling-server.ts'), '--port', String(port), '--data', dataDir], baseEnv));
    await waitForLine(child, /listening on/, 20_000, stderr);
    creds = { accessKeyId: 'ceiling', secretAccessKey: 'ceiling' };
  }
  return {
    name,
    url,
    pid: child.pid!,
    creds,
    dataDir,
    stderr,
    async stop() {
      await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
