import { S3Error } from '../s3/errors.js';
import type { BucketRow, BucketSettingName } from '../storage/metadata/metadata-store.js';
import { validateRules, type LifecycleRule } from '../lifecycle/rules.js';
import { protectionOf, type BucketProtection, type EncryptionConfig, type VersioningConfig } from '../objects/bucket-config.js';
import { MAX_RETENTION_DAYS, MAX_RETENTION_YEARS, type ObjectLockConfig } from '../objects/object-lock.js';
import type { RequestSource } from '../audit/actor.js';
import type { BucketService } from './bucket-service.js';

// A bucket's data-protection configuration: versioning, Object Lock, lifecycle rules, default
// encryption, with S3's rules between them. Every change is stored and audited
// (bucket.config-changed) through BucketService.putSetting, the one place settings are written.

export class DataProtectionService {
  constructor(private readonly buckets: BucketService) {}

  /** The settings as stored now (not as a request read them). */
  async get(bucket: BucketRow): Promise<BucketProtection> {
    return protectionOf(await this.buckets.settingsOf(bucket));
  }

  private write(bucket: BucketRow, name: BucketSettingName, value: unknown, by: RequestSource, change: string): Promise<void> {
    return this.buckets.putSetting(bucket, name, value === null ? null : JSON.stringify(value), by, change);
  }

  async setVersioning(bucket: BucketRow, status: 'Enabled' | 'Suspended', by: RequestSource): Promise<void> {
    const current = await this.get(bucket);
    if (status === 'Suspended' && current.objectLock) {
      throw new S3Error('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
    }
    const value: VersioningConfig = { status };
    await this.write(bucket, 'versioning', value, by, status);
  }

  async setObjectLock(bucket: BucketRow, config: ObjectLockConfig, by: RequestSource): Promise<void> {
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
    const change = d ? `enabled, default ${d.mode} ${d.days !== undefined ? `${d.days} days` : `${d.years} years`}` : 'enabled, no default retention';
    await this.write(bucket, 'object-lock', { enabled: true, defaultRetention: d ?? null } satisfies ObjectLockConfig, by, change);
  }

  async setLifecycle(bucket: BucketRow, rules: LifecycleRule[] | null, by: RequestSource): Promise<LifecycleRule[] | null> {
    const valid = rules === null ? null : validateRules(rules);
    await this.write(bucket, 'lifecycle', valid && { rules: valid }, by, valid ? `${valid.length} rule${valid.length === 1 ? '' : 's'}` : 'removed');
    return valid;
  }

  async setEncryption(bucket: BucketRow, config: EncryptionConfig | null, by: RequestSource): Promise<void> {
    await this.write(bucket, 'encryption', config, by, config ? config.algorithm : 'removed');
  }
}
