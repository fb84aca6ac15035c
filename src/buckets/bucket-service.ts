import type { RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';
import type { ObjectService, RemovalFilter } from '../objects/object-service.js';
import { S3Error } from '../s3/errors.js';
import type { BucketRow, BucketSettingName, MetadataStore } from '../storage/metadata/metadata-store.js';

// Buckets as a whole: create, delete (or empty and delete), and their configuration settings.
// Every change is audited with who asked and from where, whichever protocol (S3, REST, CLI) asked.

export class BucketService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly objects: ObjectService,
    private readonly audit: AuditService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async create(projectId: string, name: string, region: string, by: RequestSource, opts: { objectLock?: boolean } = {}): Promise<BucketRow> {
    const row = await this.objects.createBucket(projectId, name, region, opts);
    await this.audit.record({ action: 'bucket.created', actor: by.actor, projectId, bucket: name, source: by.source, detail: `region ${region}` });
    return row;
  }

  /** Deletes an empty bucket (BucketNotEmpty otherwise). */
  async delete(bucket: BucketRow, by: RequestSource): Promise<void> {
    await this.objects.deleteBucket(bucket);
    await this.audit.record({ action: 'bucket.deleted', actor: by.actor, projectId: bucket.projectId, bucket: bucket.name, source: by.source });
  }

  /**
   * Removes every object version and delete marker (except those Object Lock protects: then the
   * bucket stays, BucketNotEmpty names them) and aborts every multipart upload, then the bucket.
   * What `may` keeps stays, and so does the bucket (AccessDenied).
   */
  async forceDelete(bucket: BucketRow, by: RequestSource, may?: RemovalFilter): Promise<{ objects: number; uploads: number }> {
    const removed = await this.objects.deleteBucket(bucket, { force: true, may });
    await this.audit.record({
      action: 'bucket.deleted',
      actor: by.actor,
      projectId: bucket.projectId,
      bucket: bucket.name,
      source: by.source,
      detail: `force: ${removed.objects} object${removed.objects === 1 ? '' : 's'} and ${removed.uploads} upload${removed.uploads === 1 ? '' : 's'} removed`,
    });
    return removed;
  }

  /** Every setting the bucket has, as stored now. */
  settingsOf(bucket: BucketRow): Promise<Partial<Record<BucketSettingName, string>>> {
    return this.meta.getBucketSettings(bucket.id);
  }

  /**
   * Sets (or with null removes) one configuration setting of the bucket, as the owning feature's
   * JSON, and audits it as bucket.config-changed with the setting's name (and `change`, a short
   * human summary such as "Enabled", when given). Every setting change goes through here.
   */
  async putSetting(bucket: BucketRow, name: BucketSettingName, value: string | null, by: RequestSource, change?: string): Promise<void> {
    if (!(await this.meta.putBucketSetting(bucket.id, name, value, this.clock()))) {
      throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    }
    await this.audit.bucketConfigChanged(bucket, name, by, change ?? (value === null ? 'removed' : undefined));
  }
}
