import { S3Error } from '../s3/errors.js';
import type { BucketRow, BucketSettingName } from '../storage/metadata/metadata-store.js';
import { validateRules, type LifecycleRule } from '../lifecycle/rules.js';
import { protectionOf, type BucketProtection, type EncryptionConfig, type VersioningConfig } from '../objects/bucket-config.js';
import { MAX_RETENTION_DAYS, MAX_RETENTION_YEARS, type ObjectLockConfig } from '../objects/object-lock.js';
import type { BucketConfigService } from './bucket-config-service.js';

// A bucket's data-protection configuration: versioning, Object Lock, lifecycle rules, default
// encryption, with S3's rules between them. Every change is stored through
// BucketConfigService.writeSetting, the one place bucket configuration is written (and audited).

export class DataProtectionService {
  constructor(private readonly config: BucketConfigService) {}

  /** The settings as stored now (not as a request read them). */
  async get(bucket: BucketRow): Promise<BucketProtection> {
    return protectionOf(await this.config.settingsOf(bucket));
  }

  async setVersioning(bucket: BucketRow, status: 'Enabled' | 'Suspended'): Promise<void> {
    const current = await this.get(bucket);
    if (status === 'Suspended' && current.objectLock) {
      throw new S3Error('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
    }
    const value: VersioningConfig = { status };
    await this.config.writeSetting(bucket, 'versioning', value);
  }

  async setObjectLock(bucket: BucketRow, config: ObjectLockConfig): Promise<void> {
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
    await this.config.writeSetting(bucket, 'object-lock', { enabled: true, defaultRetention: d ?? null } satisfies ObjectLockConfig);
  }

  async setLifecycle(bucket: BucketRow, rules: LifecycleRule[] | null): Promise<LifecycleRule[] | null> {
    const valid = rules === null ? null : validateRules(rules);
    await this.config.writeSetting(bucket, 'lifecycle', valid && { rules: valid });
    return valid;
  }

  async setEncryption(bucket: BucketRow, config: EncryptionConfig | null): Promise<void> {
    await this.config.writeSetting(bucket, 'encryption', config);
  }
}
