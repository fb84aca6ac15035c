import { join } from 'node:path';
import type { Logger } from 'pino';
import { openSqliteStore } from './storage/metadata/sqlite-store.js';
import { openFsBlobStore } from './storage/blob/fs-blob-store.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import type { BlobStore } from './storage/blob/blob-store.js';
import { ObjectService } from './objects/object-service.js';
import { MultipartService } from './objects/multipart-service.js';
import { openSecretBox } from './credentials/master-key.js';
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
import { TemporaryCredentialService } from './credentials/temporary-credentials.js';
import { CredentialGuard, TOKEN_RATE_WINDOW_MS } from './credentials/credential-guard.js';
import { QuotaService, StorageMeter } from './quotas/quota-service.js';

// Opens a data folder: the metadata database, the blob folder, the master key, and the services
// over them. Shared by `skep serve` and the operator CLI (which may run beside the server).

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
  /** Where rate limits count (sign-in failures, audited authentication failures). */
  limits: LimiterState;
  projects: ProjectService;
  users: UserService;
  usage: UsageService;
  /** The storage counters every write and delete adjusts. */
  meter: StorageMeter;
  quotas: QuotaService;
  close(): Promise<void>;
}

export async function openServices(
  dataDir: string,
  opts: { masterKey?: string; clock: () => Date; log: Logger },
): Promise<Services> {
  await secureDataFolder(dataDir, opts.log);
  const meta = await openSqliteStore(join(dataDir, 'metadata.sqlite'));
  // Checked before anything else opens: a wrong master key must stop start-up, not fail requests.
  const box = await openSecretBox(dataDir, opts.masterKey, meta).catch(async (err: unknown) => {
    await meta.close();
    throw err;
  });
  const blobs = await openFsBlobStore(join(dataDir, 'blobs'));
  const audit = new AuditService(meta, opts.clock);
  const limits: LimiterState = new MemoryLimiterState();
  const tokens = new TokenService(meta, box, audit, new RateLimiter(limits, 'auth-failure-audit', FAILURE_AUDITS_PER_MINUTE, 60_000), opts.clock);
  const meter = new StorageMeter(meta, opts.log);
  const objects = new ObjectService(meta, blobs, opts.log, new DataKeys(box), audit, meter, opts.clock);
  const multipart = new MultipartService(objects);
  const usage = new UsageService(meta, opts.clock, opts.log);
  const buckets = new BucketService(meta, objects, multipart, audit, opts.clock);
  // Per-token request rates count in the same (shareable) limiter state as the other limits.
  const rates = new RateLimiter(limits, 'token-rate', 1, TOKEN_RATE_WINDOW_MS);
  const guard = new CredentialGuard(rates, (principal, address) => tokens.recordNetworkDenied(principal, address), opts.clock);
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
    projects: new ProjectService(meta, audit),
    users: new UserService(meta, audit, limits, opts.clock),
    usage,
    meter,
    quotas: new QuotaService(meta, meter, buckets, audit),
    async close() {
      await tokens.flushUses();
      await meter.flush().catch((err: unknown) => opts.log.warn({ err }, 'storage counters lost at close; the next recount mends them'));
      await usage.flush({ all: true }).catch((err: unknown) => opts.log.warn({ err }, 'usage counters lost at close'));
      await meta.close();
      await blobs.close();
    },
  };
}
