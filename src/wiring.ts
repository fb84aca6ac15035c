import { mkdir } from 'node:fs/promises';
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

// Opens a data folder: the metadata database, the blob folder, the master key, and the services
// over them. Shared by `skep serve` and the operator CLI (which may run beside the server).

export interface Services {
  meta: MetadataStore;
  blobs: BlobStore;
  objects: ObjectService;
  multipart: MultipartService;
  buckets: BucketConfigService;
  protection: DataProtectionService;
  objectLock: ObjectLockService;
  tokens: TokenService;
  projects: ProjectService;
  users: UserService;
  usage: UsageService;
  close(): Promise<void>;
}

export async function openServices(
  dataDir: string,
  opts: { masterKey?: string; clock: () => Date; log: Logger },
): Promise<Services> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const meta = await openSqliteStore(join(dataDir, 'metadata.sqlite'));
  // Checked before anything else opens: a wrong master key must stop start-up, not fail requests.
  const box = await openSecretBox(dataDir, opts.masterKey, meta).catch(async (err: unknown) => {
    await meta.close();
    throw err;
  });
  const blobs = await openFsBlobStore(join(dataDir, 'blobs'));
  const tokens = new TokenService(meta, box, opts.clock);
  const audit = (e: Parameters<TokenService['audit']>[0]) => tokens.audit(e);
  const buckets = new BucketConfigService(meta, opts.clock);
  const objects = new ObjectService(meta, blobs, opts.log, new DataKeys(box), audit, opts.clock);
  const usage = new UsageService(meta, opts.clock, opts.log);
  return {
    meta,
    blobs,
    objects,
    multipart: new MultipartService(objects),
    buckets,
    protection: new DataProtectionService(buckets),
    objectLock: new ObjectLockService(objects, audit, opts.clock),
    tokens,
    projects: new ProjectService(meta, (e) => tokens.audit(e)),
    users: new UserService(meta, (e) => tokens.audit(e), opts.clock),
    usage,
    async close() {
      await tokens.flushUses();
      await usage.flush({ all: true }).catch((err: unknown) => opts.log.warn({ err }, 'usage counters lost at close'));
      await meta.close();
      await blobs.close();
    },
  };
}
