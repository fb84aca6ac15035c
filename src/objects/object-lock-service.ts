import { S3Error } from '../s3/errors.js';
import type { BucketRow, Retention } from '../storage/metadata/metadata-store.js';
import { objectLockOf } from './bucket-config.js';
import type { RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';
import { checkRetainUntil, checkRetentionChange, type LockState } from './object-lock.js';
import type { ObjectService } from './object-service.js';

// Retention and legal hold of one object version (PutObjectRetention, PutObjectLegalHold and
// their reads), in buckets with Object Lock. Each change is a compare-and-swap on the lock state
// that was checked, so two concurrent changes cannot together weaken a retention.

const MAX_ATTEMPTS = 8;

export class ObjectLockService {
  constructor(
    private readonly objects: ObjectService,
    private readonly audit: AuditService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private requireLockBucket(bucket: BucketRow): void {
    if (!objectLockOf(bucket)) throw new S3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration');
  }

  async getRetention(bucket: BucketRow, key: string, versionId?: string): Promise<Retention> {
    this.requireLockBucket(bucket);
    const row = await this.objects.headObject(bucket, key, versionId);
    if (!row.retention) throw new S3Error('NoSuchObjectLockConfiguration');
    return row.retention;
  }

  /** Whether the version's legal hold is on; NoSuchObjectLockConfiguration when none was ever placed, as S3 answers. */
  async getLegalHold(bucket: BucketRow, key: string, versionId?: string): Promise<boolean> {
    this.requireLockBucket(bucket);
    const hold = (await this.objects.headObject(bucket, key, versionId)).legalHold;
    if (hold === null) throw new S3Error('NoSuchObjectLockConfiguration');
    return hold;
  }

  /**
   * Sets (or with null removes) a version's retention. Extending is always allowed; weakening an
   * active GOVERNANCE retention needs `bypass` (and is audited); COMPLIANCE is never weakened.
   */
  async putRetention(bucket: BucketRow, key: string, versionId: string | undefined, next: Retention | null, bypass?: RequestSource): Promise<void> {
    this.requireLockBucket(bucket);
    const now = this.clock();
    if (next) checkRetainUntil(next.until, now);
    const { bypassed, row } = await this.change(bucket, key, versionId, (current) => {
      const check = checkRetentionChange(current.retention, next, now, !!bypass);
      return { state: { retention: next, legalHold: current.legalHold }, bypassed: check.bypassed };
    });
    if (bypassed && bypass) {
      await this.audit.record({
        action: 'object.governance-bypassed',
        actor: bypass.actor,
        projectId: bucket.projectId,
        bucket: bucket.name,
        source: bypass.source,
        detail: `retention of ${key} version ${row} set to ${next ? `${next.mode} until ${next.until.toISOString()}` : 'none'}`,
      });
    }
  }

  async putLegalHold(bucket: BucketRow, key: string, versionId: string | undefined, on: boolean): Promise<void> {
    this.requireLockBucket(bucket);
    await this.change(bucket, key, versionId, (current) => ({ state: { retention: current.retention, legalHold: on }, bypassed: false }));
  }

  private async change(
    bucket: BucketRow,
    key: string,
    versionId: string | undefined,
    decide: (current: LockState) => { state: LockState; bypassed: boolean },
  ): Promise<{ bypassed: boolean; row: string }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.objects.headObject(bucket, key, versionId);
      const current = { retention: row.retention, legalHold: row.legalHold };
      const { state, bypassed } = decide(current);
      const out = await this.objects.meta.setObjectLock(bucket.id, key, row.versionId, current, state);
      if (out === 'ok') return { bypassed, row: row.versionId };
      if (out === 'missing') await this.objects.headObject(bucket, key, versionId); // S3's error for what is gone now
    }
    throw new S3Error('SlowDown', 'The object lock state kept changing; try again.');
  }
}
