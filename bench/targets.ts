// The servers under test, each started as a child process on a free port with its own
// temporary data folder: skep (compiled build), s3rver, and the bare-node "ceiling"; with
// --backend postgres,ceph also skep on the distributed configuration, one node and three nodes
// sharing a PostgreSQL database and a Ceph bucket (engines the bench starts, see run.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Credentials } from './client.js';
import { freePort } from '../test/engines/process-util.js';
import { stoppedOnInterrupt } from './interrupt.js';
import pg from 'pg';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

export type TargetName = 'skep' | 'skep-base' | 's3rver' | 'ceiling' | 'skep-pg-ceph' | 'skep-pg-ceph-x3';
export const TARGETS: TargetName[] = ['skep', 's3rver', 'ceiling'];
/** The distributed configuration's targets, and their node counts. */
export const DISTRIBUTED_TARGETS: Partial<Record<TargetName, number>> = { 'skep-pg-ceph': 1, 'skep-pg-ceph-x3': 3 };

/** Where the distributed targets keep their data: the engines the bench started. */
export interface DistributedEngines {
  /** A PostgreSQL superuser URL; each target gets a database of its own. */
  postgresUrl: string;
  ceph: { endpoint: string; accessKeyId: string; secretAccessKey: string };
}

export const SKEP_KEY: Credentials = { accessKeyId: 'SKBENCHROOTKEY000001', secretAccessKey: 'bench-root-secret-access-key-0123456789ab' };
const S3RVER_KEY: Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface RunningTarget {
  name: TargetName;
  /** The first node's (the only one's, but for a cluster). */
  url: string;
  pid: number;
  /** Every node of the target. */
  urls: string[];
  pids: number[];
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
  /** The engines of the distributed targets. */
  engines?: DistributedEngines;
  /** A built checkout of skep to run as 'skep-base' (--baseline), to compare two versions in one run. */
  baselineDir?: string;
  /** Serve this data folder (skep only) and leave it in place when stopped (--scale fills one between runs). */
  dataDir?: string;
}

export { freePort };

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

/** SIGTERM, and SIGKILL if the child has not exited 15 s later. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export async function startTarget(name: TargetName, opts: StartOptions = {}): Promise<RunningTarget> {
  const nodes = DISTRIBUTED_TARGETS[name];
  if (nodes !== undefined) return startCluster(name, nodes, opts);
  const keepData = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `skep-bench-${name}-`)));
  let launched: { child: ChildProcess; stderr: () => string } | undefined;
  // Also run when the server fails to start, or when the bench is interrupted.
  const stop = stoppedOnInterrupt(async () => {
    if (launched) await stopChild(launched.child);
    if (!keepData) await rm(dataDir, { recursive: true, force: true });
  });
  try {
    const port = await freePort();
    const baseEnv = { ...process.env, ...(opts.env ?? {}) };
    const prof = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
    let url = `http://127.0.0.1:${port}`;
    let creds: Credentials;
    if (name === 'skep' || name === 'skep-base') {
      const dir = name === 'skep-base' ? opts.baselineDir : opts.skepDir;
      if (name === 'skep-base' && !dir) throw new Error('skep-base needs --baseline DIR');
      launched = launch([...prof, join(dir ?? ROOT, 'bin/skep.js'), 'serve', '--port', String(port), '--data', dataDir, '--log-level', 'warn'], {
        ...baseEnv,
        SKEP_ROOT_ACCESS_KEY_ID: SKEP_KEY.accessKeyId,
        SKEP_ROOT_SECRET_ACCESS_KEY: SKEP_KEY.secretAccessKey,
      });
      url = (await waitForLine(launched.child, /listening on (http:\/\/\S+)/, 20_000, launched.stderr))[1];
      creds = SKEP_KEY;
    } else if (name === 's3rver') {
      launched = launch([...prof, join(ROOT, 'node_modules/s3rver/bin/s3rver.js'), '-d', dataDir, '-p', String(port), '-a', '127.0.0.1', '--silent'], baseEnv);
      await waitForHttp(url + '/', launched.child, 20_000, launched.stderr);
      creds = S3RVER_KEY;
    } else {
      launched = launch(['--import', 'tsx', join(ROOT, 'bench/ceiling-server.ts'), '--port', String(port), '--data', dataDir], baseEnv);
      await waitForLine(launched.child, /listening on/, 20_000, launched.stderr);
      creds = { accessKeyId: 'ceiling', secretAccessKey: 'ceiling' };
    }
    const pid = launched.child.pid!;
    return { name, url, pid, urls: [url], pids: [pid], creds, dataDir, stderr: launched.stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The bench's master key for the distributed targets (their nodes must share one). */
export const BENCH_MASTER_KEY = '62656e63682d6d61737465722d6b65792d666f722d736b65702d303132333435';

/**
 * skep on PostgreSQL and Ceph: `nodes` processes sharing a database and a backend bucket made
 * for this target, each with its own data folder; requests go to them in turn.
 */
async function startCluster(name: TargetName, nodes: number, opts: StartOptions): Promise<RunningTarget> {
  const engines = opts.engines;
  if (!engines) throw new Error(`${name} needs --backend postgres,ceph`);
  const tag = `bench_${name.replace(/-/g, '_')}_${process.pid}`;
  const admin = new pg.Client({ connectionString: engines.postgresUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${tag}"`);
  } finally {
    await admin.end();
  }
  const dbUrl = new URL(engines.postgresUrl);
  dbUrl.pathname = `/${tag}`;
  const bucket = tag.replace(/_/g, '-');
  const s3 = new S3Client({ endpoint: engines.ceph.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: engines.ceph });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
  const dataDirs = await Promise.all(Array.from({ length: nodes }, () => mkdtemp(join(tmpdir(), `skep-bench-${name}-`))));
  const children: ChildProcess[] = [];
  // Also run when a node fails to start, or when the bench is interrupted.
  const stop = stoppedOnInterrupt(async () => {
    await Promise.all(children.map((child) => stopChild(child)));
    await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  const started = await Promise.all(
    dataDirs.map(async (dataDir, i) => {
      const port = await freePort();
      const { child, stderr } = launch([join(opts.skepDir ?? ROOT, 'bin/skep.js'), 'serve', '--port', String(port), '--data', dataDir, '--log-level', 'warn', '--node-id', `${name}-${i + 1}`], {
        ...process.env,
        ...(opts.env ?? {}),
        SKEP_ROOT_ACCESS_KEY_ID: SKEP_KEY.accessKeyId,
        SKEP_ROOT_SECRET_ACCESS_KEY: SKEP_KEY.secretAccessKey,
        SKEP_MASTER_KEY: BENCH_MASTER_KEY,
        SKEP_METADATA_URL: dbUrl.toString(),
        SKEP_BLOBS: `s3://${bucket}`,
        SKEP_BLOBS_ENDPOINT: engines.ceph.endpoint,
        SKEP_BLOBS_ACCESS_KEY_ID: engines.ceph.accessKeyId,
        SKEP_BLOBS_SECRET_ACCESS_KEY: engines.ceph.secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      children.push(child);
      const m = await waitForLine(child, /listening on (http:\/\/\S+)/, 60_000, stderr);
      return { child, stderr, url: m[1], dataDir };
    }),
  ).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return {
    name,
    url: started[0].url,
    pid: started[0].child.pid!,
    urls: started.map((n) => n.url),
    pids: started.map((n) => n.child.pid!),
    creds: SKEP_KEY,
    dataDir: dataDirs[0],
    stderr: () => started.map((n, i) => (n.stderr() ? `[node ${i + 1}] ${n.stderr()}` : '')).join(''),
    stop,
  };
}
