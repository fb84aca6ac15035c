import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { defaultNodeId, openSqliteStore } from './storage/metadata/sqlite-store.js';
import { isPostgresUrl, parseS3BlobUrl } from './storage/storage-urls.js';
import { openFsBlobStore } from './storage/blob/fs-blob-store.js';
import { claimDataFolder } from './storage/folder-claim.js';
import { withInlineBlobs } from './storage/blob/inline-blob-store.js';
import type { S3BlobSettings } from './storage/blob/s3-blob-store.js';
import { observedBlobStore } from './storage/blob/observed-blob-store.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import type { BlobStore } from './storage/blob/blob-store.js';
import { ObjectService, type StorageChanges } from './objects/object-service.js';
import { DEFAULT_SHARED_GRACE_MS } from './objects/blob-lifecycle.js';
import { MultipartService } from './objects/multipart-service.js';
import { openSecretBox } from './credentials/master-key.js';
import { readMasterKey } from './credentials/secret-box.js';
import { TokenService } from './credentials/token-service.js';
import { ProjectService } from './projects/project-service.js';
import { UserService } from './users/user-service.js';
import { UsageService } from './usage/usage-service.js';
import { DataKeys } from './objects/sse.js';
import { ObjectLockService } from './objects/object-lock-service.js';
import { BucketConfigService } from './buckets/bucket-config-service.js';
import { DataProtectionService } from './buckets/data-protection-service.js';
import { AuditService } from './audit/audit-service.js';
import { BucketService } from './buckets/bucket-service.js';
import { MemoryLimiterState, RateLimiter, type LimiterState } from './limits/rate-limiter.js';
import { FAILURE_AUDITS_PER_MINUTE } from './credentials/token-service.js';
import { secureDataFolder } from './storage/data-folder.js';
import { envSetting, integerSetting, secondsSetting } from './util/settings.js';
import { StoreLimiterState } from './limits/store-limiter-state.js';
import { TemporaryCredentialService } from './credentials/temporary-credentials.js';
import { CredentialGuard, TOKEN_RATE_WINDOW_MS } from './credentials/credential-guard.js';
import { QuotaService, StorageMeter } from './quotas/quota-service.js';

// Opens a data folder and the storage the settings name, and the services over them. Shared by
// `skep serve` and the operator CLI (which may run beside the server). This is the one place that
// knows which implementations are in use: SQLite or PostgreSQL for metadata, a local folder or an
// S3 service for blobs.

/** Where metadata and blobs live. Every field unset: the embedded default in the data folder. */
export interface StorageSettings {
  /** postgres://... for a PostgreSQL database shared by several nodes; unset: <data>/metadata.sqlite. */
  metadataUrl?: string;
  /** Connections per node to PostgreSQL (default 16). */
  metadataPoolSize?: number;
  /** s3://bucket[/prefix] for an S3 service (settings in `s3`), or a folder; unset: <data>/blobs. */
  blobs?: string;
  /** The S3 backend's endpoint, region and keys (for an s3:// `blobs`). */
  s3?: Omit<S3BlobSettings, 'bucket' | 'prefix'>;
  /** This node's name in metrics, logs, pins and ledger records (default: host name and PID). */
  nodeId?: string;
  /** Blob collection timings (tests shorten them). */
  gc?: { pendingTtlMs?: number; sharedGraceMs?: number };
}

/** Storage settings from the environment (what the operator CLI uses, and `serve` under its flags). */
export function storageFromEnv(env: NodeJS.ProcessEnv): StorageSettings {
  const fromEnv = (name: string) => envSetting(env, name);
  const pathStyle = fromEnv('SKEP_BLOBS_PATH_STYLE');
  const seconds = (name: string) => secondsSetting(fromEnv(name), name);
  return {
    metadataUrl: fromEnv('SKEP_METADATA_URL'),
    metadataPoolSize: integerSetting(fromEnv('SKEP_METADATA_POOL_SIZE'), 'SKEP_METADATA_POOL_SIZE', 1),
    blobs: fromEnv('SKEP_BLOBS'),
    s3: {
      endpoint: fromEnv('SKEP_BLOBS_ENDPOINT'),
      region: fromEnv('SKEP_BLOBS_REGION'),
      accessKeyId: fromEnv('SKEP_BLOBS_ACCESS_KEY_ID'),
      secretAccessKey: fromEnv('SKEP_BLOBS_SECRET_ACCESS_KEY'),
      forcePathStyle: pathStyle === undefined ? undefined : pathStyle === 'true' || pathStyle === '1',
      connectTimeoutMs: seconds('SKEP_BLOBS_CONNECT_TIMEOUT'),
      stallTimeoutMs: seconds('SKEP_BLOBS_STALL_TIMEOUT'),
    },
    nodeId: fromEnv('SKEP_NODE_ID'),
    gc: { pendingTtlMs: seconds('SKEP_BLOB_PENDING_TTL'), sharedGraceMs: seconds('SKEP_BLOB_RELEASE_GRACE') },
  };
}

export interface Services {
  meta: MetadataStore;
  blobs: BlobStore;
  objects: ObjectService;
  multipart: MultipartService;
  protection: DataProtectionService;
  objectLock: ObjectLockService;
  tokens: TokenService;
  /** Short-lived credentials made from tokens. */
  temporary: TemporaryCredentialService;
  /** Each token's network condition and request-rate limit, on every request. */
  guard: CredentialGuard;
  buckets: BucketService;
  bucketConfig: BucketConfigService;
  audit: AuditService;
  /** Where failed sign-ins count (with shared metadata, per-token request rates too). */
  limits: LimiterState;
  projects: ProjectService;
  users: UserService;
  usage: UsageService;
  /** The storage counters every write and delete adjusts. */
  meter: StorageMeter;
  quotas: QuotaService;
  nodeId: string;
  /** Whether other nodes may share the metadata store (PostgreSQL). */
  shared: boolean;
  /** Short names of the backends in use, for logs and metrics: sqlite | postgres, folder | s3. */
  backends: { metadata: string; blobs: string };
  /**
   * Whether blob garbage is collected through the blob ledger (shared metadata, or blobs in an S3
   * service) or, on the embedded default, by sweeping the local folder.
   */
  blobLedger: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  masterKey?: string;
  clock: () => Date;
  log: Logger;
  storage?: StorageSettings;
  /** Told of each failure of a backend itself (for metrics). */
  onBackendError?: (backend: 'metadata' | 'blobs', err: unknown) => void;
  /**
   * The opener is `skep serve`: it may clear what a crashed run left. Operator commands run beside
   * a working server and must not touch its writes in progress.
   */
  server?: boolean;
}

/**
 * The blob ledger (objects/blob-lifecycle.ts) is kept where listing the blobs would be costly or
 * where several nodes must agree on them: an S3 backend, or a shared metadata store. The embedded
 * default, SQLite and a local folder, does without (its two writes per upload buy nothing there).
 */
export function keepsBlobLedger(storage: StorageSettings): boolean {
  return isPostgresUrl(storage.metadataUrl) || parseS3BlobUrl(storage.blobs) !== null;
}

async function openMetadata(dataDir: string, storage: StorageSettings, nodeId: string, opts: OpenOptions): Promise<MetadataStore> {
  const onError = (err: unknown) => opts.onBackendError?.('metadata', err);
  const blobLedger = keepsBlobLedger(storage);
  if (isPostgresUrl(storage.metadataUrl)) {
    // Loaded only when asked for (the embedded default does not carry the driver).
    const { openPostgresStore } = await import('./storage/metadata/postgres-store.js');
    return openPostgresStore(storage.metadataUrl, {
      nodeId,
      blobLedger,
      poolSize: storage.metadataPoolSize,
      onError,
      onConnectionError: (failure) => opts.log.warn(failure, 'a PostgreSQL connection failed'),
    });
  }
  if (storage.metadataUrl) throw new Error(`--metadata takes a postgres:// URL (got ${storage.metadataUrl}); leave it unset for SQLite in the data folder`);
  return openSqliteStore(join(dataDir, 'metadata.sqlite'), { nodeId, onError, blobLedger });
}

/**
 * Just the two stores the settings name, without the services (for `skep migrate`, which copies
 * from one deployment's stores to another's).
 */
export async function openStorage(dataDir: string, storage: StorageSettings, log: Logger): Promise<{ meta: MetadataStore; blobs: BlobStore; close(): Promise<void> }> {
  await secureDataFolder(dataDir, log);
  const meta = await openMetadata(dataDir, storage, storage.nodeId ?? defaultNodeId(), { clock: () => new Date(), log });
  try {
    const blobs = await openBlobs(dataDir, storage);
    return {
      meta,
      blobs,
      async close() {
        await meta.close();
        await blobs.close();
      },
    };
  } catch (err) {
    await meta.close();
    throw err;
  }
}

async function openBlobs(dataDir: string, storage: StorageSettings, emptyTmp = false): Promise<BlobStore> {
  const s3 = parseS3BlobUrl(storage.blobs);
  if (s3) {
    const { openS3BlobStore } = await import('./storage/blob/s3-blob-store.js');
    return openS3BlobStore({ ...storage.s3, bucket: s3.bucket, prefix: s3.prefix });
  }
  const dir = storage.blobs ? resolve(storage.blobs) : join(dataDir, 'blobs');
  const folder = await openFsBlobStore(dir, { emptyTmp });
  // Small blobs go inline only where one process owns the folder: beside an embedded database.
  if (isPostgresUrl(storage.metadataUrl)) return folder;
  try {
    return await withInlineBlobs(folder, dir);
  } catch (err) {
    await folder.close();
    throw err;
  }
}

export async function openServices(dataDir: string, opts: OpenOptions): Promise<Services> {
  const storage = opts.storage ?? {};
  const nodeId = storage.nodeId ?? defaultNodeId();
  const shared = isPostgresUrl(storage.metadataUrl);
  await secureDataFolder(dataDir, opts.log);
  // Every node sealing secrets in a shared database must hold the same key: none may make its own.
  if (shared && !(await readMasterKey(dataDir, opts.masterKey))) {
    throw new Error(
      `With a shared metadata store (${redactUrl(storage.metadataUrl as string)}), every node must use the same master key: ` +
        `set SKEP_MASTER_KEY (64 hex digits or base64 of 32 bytes), the same on every node. No key was created, so that no node seals secrets the others cannot read.`,
    );
  }
  // Before anything is opened or cleared: a second server on this folder stops here.
  const claim = opts.server ? await claimDataFolder(dataDir) : undefined;
  let meta: MetadataStore;
  try {
    meta = await openMetadata(dataDir, storage, nodeId, opts);
  } catch (err) {
    await claim?.release();
    throw err;
  }
  let blobs: BlobStore | undefined;
  try {
    // Checked before anything else opens: a wrong master key must stop start-up, not fail requests.
    const box = await openSecretBox(dataDir, opts.masterKey, meta);
    blobs = observedBlobStore(await openBlobs(dataDir, storage, opts.server), (err) => opts.onBackendError?.('blobs', err));
    const audit = new AuditService(meta, opts.clock);
    // Nodes sharing the metadata store count failed sign-ins in it, together: the limit holds
    // whichever node a client tries. How many authentication failures each node writes to the
    // audit log stays a per-node guard in memory: counting a flood of bad requests in the
    // database would cost it two more queries per request. Its keys are whatever access key IDs
    // a client makes up, so it has a memory of its own on a single node too: a flood of them
    // must not crowd out the sign-in and token-rate counts.
    const limits: LimiterState = shared ? new StoreLimiterState(meta) : new MemoryLimiterState();
    const auditLimiter = new RateLimiter(new MemoryLimiterState(), 'auth-failure-audit', FAILURE_AUDITS_PER_MINUTE, 60_000);
    const tokens = new TokenService(meta, box, audit, auditLimiter, opts.clock);
    const meter = new StorageMeter(meta, opts.log);
    const blobLedger = keepsBlobLedger(storage);
    const usage = new UsageService(meta, opts.clock, opts.log);
    // Every committed change marks the bucket for a new usage figure and moves the quota
    // counters: under a quota its own commit moved them (quotaCharge), otherwise the meter does.
    const changes: StorageChanges = {
      changed(bucket, bytes, objects) {
        usage.storageChanged(bucket.projectId, bucket.name);
        if (!bucket.quotas) meter.changed(bucket.id, bytes, objects);
      },
    };
    const objects = new ObjectService(meta, blobs, opts.log, new DataKeys(box), audit, changes, opts.clock, {
      ledger: blobLedger,
      pendingTtlMs: storage.gc?.pendingTtlMs,
      sharedGraceMs: shared ? (storage.gc?.sharedGraceMs ?? DEFAULT_SHARED_GRACE_MS) : undefined,
    });
    const multipart = new MultipartService(objects, opts.clock);
    const buckets = new BucketService(meta, objects, audit, opts.clock);
    // Per-token request rates count in the shared store with shared metadata: a token's limit
    // holds across the nodes (only tokens that have one are counted). On a single node they keep
    // a memory apart from the sign-in counts, whose keys (email|address) clients choose.
    const rates = new RateLimiter(shared ? limits : new MemoryLimiterState(), 'token-rate', 1, TOKEN_RATE_WINDOW_MS);
    const guard = new CredentialGuard(rates, (principal, address) => tokens.recordNetworkDenied(principal, address), opts.clock);
    const openedBlobs = blobs;
    return {
      meta,
      blobs,
      objects,
      multipart,
      protection: new DataProtectionService(buckets),
      objectLock: new ObjectLockService(objects, audit, opts.clock),
      tokens,
      temporary: new TemporaryCredentialService(meta, box, tokens, audit, opts.clock),
      guard,
      buckets,
      bucketConfig: new BucketConfigService(meta, buckets),
      audit,
      limits,
      projects: new ProjectService(meta, audit, tokens),
      users: new UserService(meta, audit, limits, opts.clock),
      usage,
      meter,
      quotas: new QuotaService(meta, meter, buckets, audit),
      nodeId,
      shared,
      backends: { metadata: shared ? 'postgres' : 'sqlite', blobs: parseS3BlobUrl(storage.blobs) ? 's3' : 'folder' },
      blobLedger,
      async close() {
        objects.close();
        await tokens.flushUses();
        await meter.flush().catch((err: unknown) => opts.log.warn({ err }, 'storage counters lost at close; the next recount mends them'));
        await usage.flush({ all: true }).catch((err: unknown) => opts.log.warn({ err }, 'usage counters lost at close'));
        await meta.close();
        await openedBlobs.close();
        await claim?.release();
      },
    };
  } catch (err) {
    await blobs?.close().catch(() => undefined);
    await meta.close().catch(() => undefined);
    await claim?.release();
    throw err;
  }
}

/** A database URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
