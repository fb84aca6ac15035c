import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { ROOT_KEY } from './server.js';

// `skep serve` as a separate process on a given data folder (from the sources, through tsx), for
// tests that kill it (kill -9) and start it again on the same folder.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('./skep-cli.ts', import.meta.url));

export interface ServeProcess {
  url: string;
  child: ChildProcessWithoutNullStreams;
  /** An SDK client with the root key, no retries (a dead server must show as failures). */
  client(): S3Client;
  /** SIGKILL: no shutdown code runs, as in a crash or power cut of the process. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  output(): string;
}

/** Starts `skep serve --data DIR --port PORT` (any free port by default) with the test root key (plus `env`) and waits until it listens. */
export async function serveProcess(dataDir: string, env: NodeJS.ProcessEnv = {}, port = 0): Promise<ServeProcess> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKEP_')));
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'serve', '--data', dataDir, '--port', String(port), '--log-level', 'warn'], {
    cwd: ROOT,
    env: { ...clean, SKEP_ROOT_ACCESS_KEY_ID: ROOT_KEY.accessKeyId, SKEP_ROOT_SECRET_ACCESS_KEY: ROOT_KEY.secretAccessKey, ...env },
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`skep serve did not start:\n${out}`));
    }, 60_000);
    const check = () => {
      const m = /skep listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`skep serve exited (${code}) before listening:\n${out}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const clients: S3Client[] = [];
  return {
    url,
    child,
    client() {
      const c = new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: ROOT_KEY, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
      for (const c of clients) c.destroy();
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      for (const c of clients) c.destroy();
    },
    output: () => out,
  };
}
