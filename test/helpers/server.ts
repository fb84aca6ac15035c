import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startServer, type RunningServer } from '../../src/server.js';
import { createLogger } from '../../src/log.js';
import type { ServerConfig } from '../../src/config.js';
import type { StorageSettings } from '../../src/wiring.js';
import { cephSettings, engine, freshCephBucket, freshDatabase } from './engines.js';
import type { Logger } from 'pino';

// Starts a real skep server on a free 127.0.0.1 port with a temporary data folder.
//
// SKEP_TEST_BACKEND=distributed (set by the test/cluster-*.test.ts files that rerun S3 test
// files) puts that server on the distributed configuration instead of the embedded one: metadata
// in a fresh PostgreSQL database and blobs in a fresh bucket of the Ceph gateway, both from the
// engines the test runner started. The same test files thus run on both configurations.

export const DISTRIBUTED = process.env.SKEP_TEST_BACKEND === 'distributed';
/** Every node of a shared store needs the same master key; tests use this one. */
export const TEST_MASTER_KEY = '7365637265742d6b65792d666f722d736b65702d74657374732d303132333435';

/** Storage on the run's PostgreSQL and Ceph: a fresh database and a fresh bucket. */
export async function distributedStorage(nodeId = 'test-node'): Promise<StorageSettings> {
  engine('postgres', 'ceph').require();
  const ceph = cephSettings();
  return {
    metadataUrl: await freshDatabase(),
    metadataPoolSize: 8,
    blobs: `s3://${await freshCephBucket()}`,
    s3: { endpoint: ceph.endpoint, accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    nodeId,
    // Released blobs go quickly on a test server, so tests can see them gone.
    gc: { sharedGraceMs: 300 },
  };
}

export const ROOT_KEY = { accessKeyId: 'SKTESTROOTKEY0000001', secretAccessKey: 'test-root-secret-access-key-0123456789ab' };

export interface TestServer extends RunningServer {
  dataDir: string;
  /** The storage settings, when not the embedded default. */
  storage?: StorageSettings;
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
    ...(DISTRIBUTED ? { storage: await distributedStorage(), masterKey: TEST_MASTER_KEY, collectIntervalMs: 100 } : {}),
    ...overrides,
  };
  const server = await startServer(config, opts.log ?? createLogger(config.logLevel));
  const clients: S3Client[] = [];
  return Object.assign(server, {
    dataDir,
    storage: config.storage,
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
