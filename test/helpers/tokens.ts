import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'node:http';
import type { LookupFunction } from 'node:net';
import { fileURLToPath } from 'node:url';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { IssuedCredentials, TokenView } from '../../src/credentials/token-service.js';
import type { TestServer } from './server.js';

// Plumbing for the token tests: issuing tokens on a test server, clients for them, reading the
// outcome of an SDK call, and running the `skep` operator CLI as a child process.

export const DAY_MS = 86_400_000;

export interface Issued {
  token: TokenView;
  credentials: IssuedCredentials;
  /** An SDK client signing with the token's key pair (no retries). */
  s3: S3Client;
}

export interface IssueOptions {
  permission: string;
  bucketScope?: string[] | null;
  expiresInDays?: number;
  projectId?: string;
  name?: string;
}

let issuedCount = 0;

export async function issue(server: TestServer, o: IssueOptions): Promise<Issued> {
  const { token, credentials } = await server.tokens.create({
    projectId: o.projectId ?? server.bootstrap.projectId,
    name: o.name ?? `${o.permission}-${++issuedCount}`,
    permission: o.permission,
    bucketScope: o.bucketScope ?? null,
    expiresInDays: o.expiresInDays,
    createdBy: 'test',
  });
  const s3 = server.client({ credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }, maxAttempts: 1 });
  return { token, credentials, s3 };
}

export type Outcome = { ok: true; status: number } | { ok: false; status: number; code: string; message: string };

/** Runs an SDK call and reports success or the S3 error (other failures are rethrown). */
export async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    const out = (await p) as { $metadata?: { httpStatusCode?: number } } | undefined;
    return { ok: true, status: out?.$metadata?.httpStatusCode ?? 200 };
  } catch (err) {
    if (err instanceof S3ServiceException) {
      return { ok: false, status: err.$metadata.httpStatusCode ?? 0, code: err.name, message: err.message };
    }
    throw err;
  }
}

/** The outcome of a fetch() of a presigned URL. */
export async function fetchOutcome(res: Response): Promise<Outcome> {
  const text = await res.text();
  if (res.status < 300) return { ok: true, status: res.status };
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP${res.status}`;
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
  return { ok: false, status: res.status, code, message };
}

/**
 * An authorization denial: 403 AccessDenied. HEAD responses carry only the status, which the SDK
 * names 'Unknown' or 'Forbidden' (and fetch() shows as HTTP403).
 */
export function isDenied(o: Outcome): boolean {
  return !o.ok && o.status === 403 && ['AccessDenied', 'Forbidden', 'Unknown', 'HTTP403'].includes(o.code);
}

/**
 * An HTTP agent that connects every host name to 127.0.0.1, so a client can address
 * `<project-id>.s3.localhost` (and `<bucket>.<project-id>.s3.localhost`) without DNS.
 */
export function loopbackAgent(): Agent {
  const lookup = ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
    else cb(null, '127.0.0.1', 4);
  }) as unknown as LookupFunction;
  return new Agent({ keepAlive: true, lookup });
}

/** A client for a project host name: endpoint http://<host>:<port>, connecting to 127.0.0.1. */
export function hostClient(server: TestServer, host: string, credentials: { accessKeyId: string; secretAccessKey: string }, pathStyle = true): S3Client {
  return server.client({
    endpoint: `http://${host}:${server.port}`,
    forcePathStyle: pathStyle,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: loopbackAgent() }),
  });
}

/** Polls `check` until it holds (failed authentications are audited after the reply is sent). */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- moving the clock ----

const clientOffsets = new WeakMap<S3Client, number>();

/**
 * Moves the server's clock and the given clients' signing clocks together, so requests are not
 * RequestTimeTooSkewed. The SDK resets its clock offset from each response's Date header (real
 * time), so the offset is set again before every request is signed.
 */
export function shiftServerAndClients(server: TestServer, ms: number, clients: S3Client[]): void {
  server.shiftClock(ms);
  for (const c of clients) {
    if (!clientOffsets.has(c)) {
      c.middlewareStack.add(
        (next) => (args) => {
          c.config.systemClockOffset = clientOffsets.get(c) ?? 0;
          return next(args);
        },
        { step: 'build', name: 'pinClockOffset' },
      );
    }
    clientOffsets.set(c, (clientOffsets.get(c) ?? 0) + ms);
  }
}

// ---- the operator CLI ----

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The CLI's source entry point, which runs when started directly (as bin/skep.js runs dist/). */
const CLI_ENTRY = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const HASH_WORKER_ENTRY = fileURLToPath(new URL('../../src/checksums/hash-worker.ts', import.meta.url));

let cliCommand: Promise<string[]> | undefined;

/**
 * How to start the CLI from the sources. Bundled once per test process with esbuild (which tsx
 * brings), since a tsx start costs about a second per command and a bundle about a third of
 * that; through tsx when esbuild is not importable.
 */
export function cliArgv(): Promise<string[]> {
  cliCommand ??= (async () => {
    try {
      const esbuild = await import('esbuild');
      // Inside the repository, so the bundle's external imports resolve from node_modules.
      const dir = join(ROOT, 'node_modules', '.cache', 'skep-tests');
      mkdirSync(dir, { recursive: true });
      const outdir = join(dir, `skep-cli-${process.pid}`);
      // The hashing worker is a module of its own, beside the CLI (src/checksums/hash-pool.ts).
      await esbuild.build({
        entryPoints: { main: CLI_ENTRY, 'hash-worker': HASH_WORKER_ENTRY },
        bundle: true,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        outdir,
        outExtension: { '.js': '.mjs' },
        logLevel: 'error',
      });
      process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
      return [join(outdir, 'main.mjs')];
    } catch {
      return ['--import', 'tsx', CLI_ENTRY];
    }
  })();
  return cliCommand;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** performance.now() when the process had exited. */
  exitedAt: number;
}

/**
 * Runs `skep ARGS` from the TypeScript sources (no `npm run build` needed) and resolves when it
 * exits. The environment carries no SKEP_* settings from the machine.
 */
export async function skep(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const argv = await cliArgv();
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKEP_')));
    const child = spawn(process.execPath, [...argv, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, exitedAt: performance.now() }));
  });
}

/** `skep ARGS --json`, failing with the output when the command fails. */
export async function skepJson<T>(args: string[]): Promise<T> {
  const r = await skep([...args, '--json']);
  if (r.code !== 0) throw new Error(`skep ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
