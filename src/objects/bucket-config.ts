import type { BucketRow, BucketSettingName, VersioningMode } from '../storage/metadata/metadata-store.js';
import type { ObjectLockConfig } from './object-lock.js';
import type { LifecycleConfig } from '../lifecycle/rules.js';

// The data-protection settings of a bucket as this service stores them (JSON in bucket_settings,
// never the request's XML), and how to read them from a bucket row.

export type VersioningStatus = 'Unversioned' | 'Enabled' | 'Suspended';

/** The 'versioning' setting; absent: never enabled. */
export interface VersioningConfig {
  status: 'Enabled' | 'Suspended';
}

/** The 'encryption' setting: default encryption of new objects. */
export interface EncryptionConfig {
  algorithm: 'AES256';
  bucketKeyEnabled: boolean;
  /** BlockedEncryptionTypes SSE-C: writes that ask for SSE-C are refused (reads of existing objects are not). */
  blockSseC?: boolean;
}

/** Every data-protection setting of a bucket, parsed. */
export interface BucketProtection {
  versioning: VersioningStatus;
  objectLock: ObjectLockConfig | null;
  lifecycle: LifecycleConfig | null;
  encryption: EncryptionConfig | null;
}

type Settings = Partial<Record<BucketSettingName, string>>;

function parse<T>(text: string | undefined): T | null {
  return text === undefined ? null : (JSON.parse(text) as T);
}

export function protectionOf(settings: Settings): BucketProtection {
  return {
    versioning: parse<VersioningConfig>(settings.versioning)?.status ?? 'Unversioned',
    objectLock: parse<ObjectLockConfig>(settings['object-lock']),
    lifecycle: parse<LifecycleConfig>(settings.lifecycle),
    encryption: parse<EncryptionConfig>(settings.encryption),
  };
}

/** The bucket's settings that writes need (getBucket reads them with the row). */
function writeSettings(bucket: BucketRow): Settings {
  if (!bucket.settings) throw new Error(`bucket ${bucket.name} was read without its settings`);
  return bucket.settings;
}

/** The settings a new bucket starts with: Object Lock needs versioning, enabled for good. */
export function initialProtectionSettings(objectLock: boolean): Settings {
  if (!objectLock) return {};
  const lock: ObjectLockConfig = { enabled: true, defaultRetention: null };
  const versioning: VersioningConfig = { status: 'Enabled' };
  return { versioning: JSON.stringify(versioning), 'object-lock': JSON.stringify(lock) };
}

export function versioningMode(bucket: BucketRow): VersioningMode {
  const status = parse<VersioningConfig>(writeSettings(bucket).versioning)?.status;
  return status === 'Enabled' ? 'enabled' : status === 'Suspended' ? 'suspended' : 'unversioned';
}

export function objectLockOf(bucket: BucketRow): ObjectLockConfig | null {
  return parse<ObjectLockConfig>(writeSettings(bucket)['object-lock']);
}

export function defaultEncryptionOf(bucket: BucketRow): EncryptionConfig | null {
  return parse<EncryptionConfig>(writeSettings(bucket).encryption);
}
