// Several `skep serve` processes on loopback sharing one PostgreSQL database and one Ceph bucket
// (from the engines the test runner started): the distributed configuration as an operator runs
// it, each node with its own data folder and node id, the same master key, and nothing else in
// common. Nodes are real processes, so a test can kill -9 one.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { distributedStorage, ROOT_KEY, TEST_MASTER_KEY } from './server.js';
import { cliArgv, skep, type CliResult } from './tokens.js';
import type { StorageSettings } from '../../src/wiring.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ClusterNode {
  id: string;
  url: string;
  dataDir: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** An SDK client for this node (root key unless given), without retries. */
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
}

export interface Cluster {
  nodes: ClusterNode[];
  storage: StorageSettings;
  /** The environment every node runs with (metadata, blobs, master key, timings). */
  env: Record<string, string>;
  /** Starts (or restarts) node `i` on a fresh port, keeping its data folder. */
  start(i: number): Promise<ClusterNode>;
  /** `skep ARGS` (the operator CLI) on the cluster's metadata. */
  cli(args: string[]): Promise<CliResult>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Extra environment for every node (e.g. shorter blob collection timings). */
  env?: Record<string, string>;
}

export async function startCluster(size: number, opts: ClusterOptions = {}): Promise<Cluster> {
  const storage = await distributedStorage();
  const s3 = storage.s3!;
  const env: Record<string, string> = {
    SKEP_METADATA_URL: storage.metadataUrl!,
    SKEP_METADATA_POOL_SIZE: '6',
    SKEP_BLOBS: storage.blobs!,
    SKEP_BLOBS_ENDPOINT: s3.endpoint!,
    SKEP_BLOBS_ACCESS_KEY_ID: s3.accessKeyId!,
    SKEP_BLOBS_SECRET_ACCESS_KEY: s3.secretAccessKey!,
    SKEP_MASTER_KEY: TEST_MASTER_KEY,
    SKEP_ROOT_ACCESS_KEY_ID: ROOT_KEY.accessKeyId,
    SKEP_ROOT_SECRET_ACCESS_KEY: ROOT_KEY.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...opts.env,
  };
  const argv = await cliArgv();
  const dataDirs = await Promise.all(Array.from({ length: size }, () => mkdtemp(join(tmpdir(), 'skep-node-'))));
  const clients: S3Client[] = [];
  const nodes: ClusterNode[] = [];
  const agent = new Agent({ keepAlive: true });

  async function start(i: number): Promise<ClusterNode> {
    const id = `node-${i + 1}`;
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKEP_')));
    const child = spawn(process.execPath, [...argv, 'serve', '--port', '0', '--data', dataDirs[i], '--node-id', id, '--log-level', 'warn'], {
      cwd: ROOT,
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not start within 60 s\nstdout: ${out}\nstderr: ${err}`)), 60_000);
      const check = () => {
        const m = /skep listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          resolve(m[1]);
        }
      };
      child.stdout!.on('data', check);
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${id} exited (${code ?? signal}) before it was ready\nstdout: ${out}\nstderr: ${err}`));
      });
    });
    const node: ClusterNode = {
      id,
      url,
      dataDir: dataDirs[i],
      child,
      exited,
      stdout: () => out,
      stderr: () => err,
      client(credentials = ROOT_KEY) {
        const c = new S3Client({
          endpoint: url,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials,
          maxAttempts: 1,
          requestHandler: new NodeHttpHandler({ httpAgent: agent }),
        });
        clients.push(c);
        return c;
      },
    };
    nodes[i] = node;
    return node;
  }

  try {
    // All at once, on an empty database: they migrate and bootstrap it exactly once between them.
    await Promise.all(dataDirs.map((_, i) => start(i)));
  } catch (err) {
    for (const n of nodes) n?.child.kill('SIGKILL');
    throw err;
  }

  return {
    nodes,
    storage,
    env,
    start,
    cli: (args) => skep(args, { ...env, SKEP_DATA: dataDirs[0] }),
    async stop() {
      for (const c of clients) c.destroy();
      agent.destroy();
      await Promise.all(
        nodes.map(async (n) => {
          if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
          await n.exited;
        }),
      );
      await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
