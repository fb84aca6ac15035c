import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startServer, type RunningServer } from '../../src/server.js';
import { createLogger } from '../../src/log.js';
import type { ServerConfig } from '../../src/config.js';
import type { Logger } from 'pino';

// Starts a real skep server on a free 127.0.0.1 port with a temporary data folder.

export const ROOT_KEY = { accessKeyId: 'SKTESTROOTKEY0000001', secretAccessKey: 'test-root-secret-access-key-0123456789ab' };

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Moves the server's clock (for expiry tests). */
  shiftClock(ms: number): void;
  client(overrides?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  stop(): Promise<void>;
}

/** Log lines a test server wrote, parsed (see captureLog). */
export interface CapturedLog {
  logger: Logger;
  lines: Record<string, any>[];
}

/** A logger whose lines the test can read back. */
export function captureLog(level = 'info'): CapturedLog {
  const lines: Record<string, any>[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export async function startTestServer(overrides: Partial<ServerConfig> = {}, opts: { log?: Logger } = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'skep-test-')));
  let offset = 0;
  const config: ServerConfig = {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    region: 'us-east-1',
    baseDomains: ['s3.localhost'],
    logLevel: process.env.SKEP_TEST_LOG_LEVEL ?? 'silent',
    rootAccessKeyId: ROOT_KEY.accessKeyId,
    rootSecretAccessKey: ROOT_KEY.secretAccessKey,
    clock: () => new Date(Date.now() + offset),
    ...overrides,
  };
  const server = await startServer(config, opts.log ?? createLogger(config.logLevel));
  const clients: S3Client[] = [];
  return Object.assign(server, {
    dataDir,
    shiftClock(ms: number) {
      offset += ms;
    },
    client(o: Partial<ConstructorParameters<typeof S3Client>[0]> = {}) {
      const c = new S3Client({
        endpoint: server.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: ROOT_KEY,
        ...o,
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

export interface S3ServerFixture {
  /** The file's test server; available once its before hook has run. */
  readonly server: TestServer;
  /** An S3 client with the root key, for that server. */
  readonly s3: S3Client;
  /** A name no other bucket in this run has: `<prefix>-<tag>-<pid>-<n>`. */
  bucketName(tag: string): string;
  /** Creates a bucket named by bucketName(tag) and returns its name. */
  newBucket(tag: string): Promise<string>;
}

/**
 * Starts one test server for the calling test file: registers its before and after hooks, so
 * call it at the file's top level. `prefix` keeps bucket names from different files apart.
 */
export function useS3Server(prefix: string): S3ServerFixture {
  let server: TestServer;
  let s3: S3Client;
  let n = 0;
  before(async () => {
    server = await startTestServer();
    s3 = server.client();
  });
  after(() => server.stop());
  const bucketName = (tag: string) => `${prefix}-${tag}-${process.pid}-${++n}`;
  return {
    get server() {
      return server;
    },
    get s3() {
      return s3;
    },
    bucketName,
    async newBucket(tag: string) {
      const name = bucketName(tag);
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
  };
}
