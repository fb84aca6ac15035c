import { S3Error } from '../s3/errors.js';
import type { AuditRow, BucketRow, BucketSettingName, MetadataStore } from '../storage/metadata/metadata-store.js';
import { validateRules, type LifecycleRule } from '../lifecycle/rules.js';
import { protectionOf, type BucketProtection, type EncryptionConfig, type VersioningConfig } from './bucket-config.js';
import { MAX_RETENTION_DAYS, MAX_RETENTION_YEARS, type ObjectLockConfig } from './object-lock.js';

// Bucket configuration for data protection: versioning, Object Lock, lifecycle rules, default
// encryption. Every change goes through `write`, the one place that stores a setting and audits
// it ('bucket.configured'), whichever protocol asked.

/** Who changes a setting, for the audit log. */
export interface ConfigActor {
  actor: string;
  tokenId: string | null;
  source: string | null;
}

export type AuditSink = (e: Omit<AuditRow, 'id' | 'at'>) => Promise<void>;

export class BucketConfigService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly audit: AuditSink,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async get(bucket: BucketRow): Promise<BucketProtection> {
    return protectionOf(await this.meta.getBucketSettings(bucket.id));
  }

  /** The settings a new bucket starts with: Object Lock needs versioning, enabled for good. */
  static initialSettings(objectLock: boolean): Partial<Record<BucketSettingName, string>> {
    if (!objectLock) return {};
    const lock: ObjectLockConfig = { enabled: true, defaultRetention: null };
    const versioning: VersioningConfig = { status: 'Enabled' };
    return { versioning: JSON.stringify(versioning), 'object-lock': JSON.stringify(lock) };
  }

  async setVersioning(bucket: BucketRow, status: 'Enabled' | 'Suspended', by: ConfigActor): Promise<void> {
    const current = await this.get(bucket);
    if (status === 'Suspended' && current.objectLock) {
      throw new S3Error('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
    }
    const value: VersioningConfig = { status };
    await this.write(bucket, 'versioning', value, by, `versioning ${status}`);
  }

  async setObjectLock(bucket: BucketRow, config: ObjectLockConfig, by: ConfigActor): Promise<void> {
    const current = await this.get(bucket);
    // S3 lets an existing bucket turn Object Lock on once its versioning is enabled.
    if (!current.objectLock && current.versioning !== 'Enabled') {
      throw new S3Error('InvalidBucketState', 'Object Lock configuration cannot be enabled on a bucket whose versioning is not enabled.');
    }
    const d = config.defaultRetention;
    if (d) {
      if ((d.days === undefined) === (d.years === undefined)) throw new S3Error('MalformedXML', 'A default retention takes either Days or Years.');
      const [n, max, unit] = d.days !== undefined ? [d.days, MAX_RETENTION_DAYS, 'Days'] : [d.years!, MAX_RETENTION_YEARS, 'Years'];
      if (!Number.isSafeInteger(n) || n <= 0 || n > max) {
        throw new S3Error('InvalidRetentionPeriod', `The default retention period must be a positive number of ${unit}, at most ${max}.`);
      }
    }
    const detail = d ? `object lock, default ${d.mode} ${d.days !== undefined ? `${d.days} days` : `${d.years} years`}` : 'object lock, no default retention';
    await this.write(bucket, 'object-lock', { enabled: true, defaultRetention: d ?? null } satisfies ObjectLockConfig, by, detail);
  }

  async setLifecycle(bucket: BucketRow, rules: LifecycleRule[] | null, by: ConfigActor): Promise<LifecycleRule[] | null> {
    const valid = rules === null ? null : validateRules(rules);
    await this.write(bucket, 'lifecycle', valid && { rules: valid }, by, valid ? `lifecycle, ${valid.length} rule(s)` : 'lifecycle removed');
    return valid;
  }

  async setEncryption(bucket: BucketRow, config: EncryptionConfig | null, by: ConfigActor): Promise<void> {
    await this.write(bucket, 'encryption', config, by, config ? `default encryption ${config.algorithm}` : 'default encryption removed');
  }

  /** Stores (or with null removes) one setting and audits it. */
  private async write(bucket: BucketRow, name: BucketSettingName, value: unknown, by: ConfigActor, detail: string): Promise<void> {
    const stored = await this.meta.putBucketSetting(bucket.id, name, value === null ? null : JSON.stringify(value), this.clock());
    if (!stored) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    await this.audit({
      action: 'bucket.configured',
      actor: by.actor,
      tokenId: by.tokenId,
      projectId: bucket.projectId,
      source: by.source,
      detail: `${bucket.name}: ${detail}`,
    });
  }
}
