import { setImmediate } from 'node:timers/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BucketRow, MetadataStore, ObjectVersionRow, UploadRow } from '../storage/metadata/metadata-store.js';
import type { ObjectService } from '../objects/object-service.js';
import type { AuditService } from '../audit/audit-service.js';
import { LIFECYCLE_ACTOR } from '../audit/actor.js';
import { currentExpires, DAY_MS, dueAt, removesExpiredDeleteMarker, ruleMatches, type LifecycleConfig, type LifecycleRule } from './rules.js';

// The lifecycle worker applies each bucket's lifecycle rules in the background. A pass walks every
// bucket that has rules (by bucket id), each bucket's versions (in listing order) and then its
// multipart uploads, in batches. After each batch it saves where it is in a lease row of the
// metadata store, so a pass interrupted by a crash or a stop resumes there, and only the node
// holding the lease works (several nodes never apply a rule twice). Every removal is a
// compare-and-swap on the version it judged (a version rewritten since is left alone), never
// touches a version under Object Lock, and is audited.

export const LEASE_NAME = 'lifecycle';

export interface LifecycleWorkerOptions {
  meta: MetadataStore;
  objects: ObjectService;
  audit: AuditService;
  log: Logger;
  clock?: () => Date;
  /** How often a pass starts (ms). */
  intervalMs: number;
  /** The length of a lifecycle day (ms): 24 h, shorter only in tests. */
  dayMs?: number;
  /** Versions or uploads per batch. */
  batch?: number;
}

/** Where a pass stands (saved in the lease row). */
interface Cursor {
  /** The bucket being worked on (or, when `bucketDone`, the last one finished); null: before the first. */
  bucketId: string | null;
  projectId?: string;
  bucketName?: string;
  bucketDone?: boolean;
  phase: 'versions' | 'uploads';
  keyMarker?: string;
  versionIdMarker?: string;
  /** The marker version's place: the next batch resumes after it even when this pass removed it. */
  versionSeqMarker?: number;
  uploadKeyMarker?: string;
  uploadIdMarker?: string;
  /** Noncurrent versions of keyMarker's key seen so far (NewerNoncurrentVersions counts them). */
  noncurrentSeen?: number;
  /** When the pass started; a fresh pass begins when it is done. */
  passStartedAt: number;
  /** When the last complete pass ended. */
  lastPassAt?: number;
}

export interface PassReport {
  expired: number;
  removedVersions: number;
  abortedUploads: number;
  /** Versions a rule matched but Object Lock (or a concurrent write) kept. */
  skipped: number;
  complete: boolean;
}

const DEFAULT_BATCH = 500;
/**
 * How long a lease lasts without renewal (each batch renews it): a node that dies mid-pass holds
 * up the next holder this long at most. Short when passes are frequent (tests), a minute at most.
 */
function leaseMs(intervalMs: number): number {
  return Math.max(5_000, Math.min(60_000, intervalMs * 10));
}

export class LifecycleWorker {
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly clock: () => Date;
  private readonly dayMs: number;
  private readonly batch: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PassReport | null> | undefined;
  private stopping = false;

  constructor(private readonly opts: LifecycleWorkerOptions) {
    this.clock = opts.clock ?? (() => new Date());
    this.dayMs = opts.dayMs ?? DAY_MS;
    this.batch = opts.batch ?? DEFAULT_BATCH;
  }

  start(): void {
    this.stopping = false;
    const tick = () => {
      this.timer = undefined;
      if (this.stopping) return;
      void this.runOnce().finally(() => {
        if (!this.stopping) this.timer = setTimeout(tick, this.opts.intervalMs).unref();
      });
    };
    // A pass left unfinished (a crash, a restart) resumes soon after start.
    this.timer = setTimeout(tick, Math.min(this.opts.intervalMs, 1000)).unref();
  }

  /** Stops after the batch in progress; its progress is saved. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.opts.meta.releaseLease(LEASE_NAME, this.holder).catch(() => undefined);
  }

  /** Runs (or resumes) one pass if this node gets the lease; null when another node holds it. */
  runOnce(): Promise<PassReport | null> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.opts.log.warn({ err }, 'lifecycle pass failed; it resumes at the next run');
        return null;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private leaseUntil(): Date {
    return new Date(Date.now() + leaseMs(this.opts.intervalMs));
  }

  private async pass(): Promise<PassReport | null> {
    const { meta } = this.opts;
    const lease = await meta.acquireLease(LEASE_NAME, this.holder, new Date(), this.leaseUntil());
    if (!lease) return null;
    const saved = lease.state ? (JSON.parse(lease.state) as Cursor) : null;
    const now = this.clock().getTime();
    // A pass in progress resumes; a finished one starts again once the interval has passed.
    let cursor: Cursor;
    if (saved && saved.bucketId !== null) cursor = saved;
    else if (saved?.lastPassAt !== undefined && now - saved.lastPassAt < this.opts.intervalMs) return { expired: 0, removedVersions: 0, abortedUploads: 0, skipped: 0, complete: true };
    else cursor = { bucketId: null, phase: 'versions', passStartedAt: now, lastPassAt: saved?.lastPassAt };
    const report: PassReport = { expired: 0, removedVersions: 0, abortedUploads: 0, skipped: 0, complete: false };

    for (;;) {
      if (this.stopping) return report;
      const target = await this.currentBucket(cursor);
      if (!target) break;
      const { bucket, config } = target;
      const more = cursor.phase === 'versions' ? await this.versionsBatch(bucket, config.rules, cursor, report) : await this.uploadsBatch(bucket, config.rules, cursor, report);
      if (!more) {
        if (cursor.phase === 'versions') cursor = { ...cursor, phase: 'uploads', keyMarker: undefined, versionIdMarker: undefined, versionSeqMarker: undefined, noncurrentSeen: undefined };
        else cursor = { ...finished(cursor), bucketId: bucket.id };
      }
      if (!(await meta.saveLeaseState(LEASE_NAME, this.holder, JSON.stringify(cursor), this.leaseUntil()))) {
        this.opts.log.warn('lifecycle lease lost to another node; stopping this pass');
        return report;
      }
      // SQLite answers synchronously: without a turn of the event loop between batches, a long
      // pass would hold every S3 request until it is done.
      await setImmediate();
    }
    report.complete = true;
    const done: Cursor = { bucketId: null, phase: 'versions', passStartedAt: cursor.passStartedAt, lastPassAt: this.clock().getTime() };
    await meta.saveLeaseState(LEASE_NAME, this.holder, JSON.stringify(done), this.leaseUntil());
    if (report.expired + report.removedVersions + report.abortedUploads > 0) this.opts.log.info(report, 'lifecycle pass done');
    return report;
  }

  /**
   * The bucket the cursor is on (with its rules), or the next one (by id) that has rules; null
   * when no bucket is left in this pass. A bucket deleted or stripped of its rules is passed over.
   */
  private async currentBucket(cursor: Cursor): Promise<{ bucket: BucketRow; config: LifecycleConfig } | null> {
    const { meta } = this.opts;
    for (;;) {
      if (cursor.bucketId === null || cursor.bucketDone) {
        const [next] = await meta.bucketsWithSetting('lifecycle', cursor.bucketId, 1);
        if (!next) return null;
        Object.assign(cursor, finished(cursor), { bucketId: next.bucket.id, projectId: next.bucket.projectId, bucketName: next.bucket.name, bucketDone: false });
      }
      // The row with its settings (versioning state, rules as they are now), as requests read it.
      const found = await meta.getBucketWithSettings(cursor.projectId!, cursor.bucketName!);
      const value = found && found.bucket.id === cursor.bucketId ? found.settings.lifecycle : undefined;
      if (!found || value === undefined) {
        cursor.bucketDone = true;
        continue;
      }
      return { bucket: { ...found.bucket, settings: found.settings }, config: JSON.parse(value) as LifecycleConfig };
    }
  }

  /** One batch of a bucket's versions; false when the bucket's versions are done. */
  private async versionsBatch(bucket: BucketRow, rules: LifecycleRule[], cursor: Cursor, report: PassReport): Promise<boolean> {
    const { meta, objects } = this.opts;
    const page = await meta.listObjectVersions(bucket.id, {
      prefix: '',
      keyMarker: cursor.keyMarker,
      versionIdMarker: cursor.versionIdMarker,
      versionSeqMarker: cursor.versionSeqMarker,
      limit: this.batch,
    });
    const now = this.clock();
    for (const v of page) {
      if (v.key !== cursor.keyMarker) cursor.noncurrentSeen = 0;
      const candidate = { key: v.key, size: v.size, tags: v.tags };
      const matching = rules.filter((r) => ruleMatches(r, candidate));
      if (v.isLatest && !v.isDeleteMarker) {
        const rule = matching.find((r) => currentExpires(r, v.lastModified, now, this.dayMs));
        if (rule) {
          const done = await objects.expireCurrent(bucket, v);
          if (done) {
            report.expired++;
            await this.record(bucket, v, done.deleteMarker ? `expired: delete marker ${done.versionId} added` : 'expired: deleted', rule);
          } else report.skipped++;
        }
      } else if (v.isLatest && v.isDeleteMarker) {
        const rule = matching.find((r) => removesExpiredDeleteMarker(r, v.lastModified, now, this.dayMs));
        if (rule && (await this.onlyVersion(bucket, v))) await this.removeVersion(bucket, v, 'expired delete marker removed', rule, report);
      } else {
        const rank = ++cursor.noncurrentSeen!;
        const since = v.noncurrentSince ?? v.lastModified;
        const rule = matching.find((r) => {
          const n = r.noncurrentVersionExpiration;
          if (!n || now.getTime() < dueAt(since, n.noncurrentDays, this.dayMs)) return false;
          // NewerNoncurrentVersions: that many newer noncurrent versions are kept whatever their age.
          return n.newerNoncurrentVersions === undefined || rank > n.newerNoncurrentVersions;
        });
        if (rule) await this.removeVersion(bucket, v, v.isDeleteMarker ? 'noncurrent delete marker removed' : 'noncurrent version removed', rule, report);
      }
      cursor.keyMarker = v.key;
      cursor.versionIdMarker = v.versionId;
      cursor.versionSeqMarker = v.seq;
    }
    return page.length === this.batch;
  }

  private async removeVersion(bucket: BucketRow, v: ObjectVersionRow, what: string, rule: LifecycleRule, report: PassReport): Promise<void> {
    if (await this.opts.objects.expireVersion(bucket, v)) {
      report.removedVersions++;
      await this.record(bucket, v, what, rule);
    } else report.skipped++;
  }

  /** Whether a delete marker is all that is left of its key. */
  private async onlyVersion(bucket: BucketRow, marker: ObjectVersionRow): Promise<boolean> {
    const rows = await this.opts.meta.listObjectVersions(bucket.id, { prefix: marker.key, limit: 2 });
    return rows.filter((r) => r.key === marker.key).length === 1;
  }

  /** One batch of a bucket's multipart uploads; false when they are done. */
  private async uploadsBatch(bucket: BucketRow, rules: LifecycleRule[], cursor: Cursor, report: PassReport): Promise<boolean> {
    const { meta, objects } = this.opts;
    const uploads = await meta.listUploads(bucket.id, { prefix: '', keyMarker: cursor.uploadKeyMarker, uploadIdMarker: cursor.uploadIdMarker, limit: this.batch });
    const now = this.clock().getTime();
    for (const u of uploads) {
      const rule = rules.find(
        (r) => r.abortIncompleteMultipartUpload && ruleMatches(r, { key: u.key, size: 0, tags: {} }) && now >= dueAt(u.initiated, r.abortIncompleteMultipartUpload.daysAfterInitiation, this.dayMs),
      );
      if (rule && (await objects.abortUpload(u))) {
        report.abortedUploads++;
        await this.recordUpload(bucket, u, rule);
      }
      cursor.uploadKeyMarker = u.key;
      cursor.uploadIdMarker = u.uploadId;
    }
    return uploads.length === this.batch;
  }

  private record(bucket: BucketRow, v: ObjectVersionRow, what: string, rule: LifecycleRule): Promise<void> {
    return this.opts.audit.record({
      action: 'lifecycle.expired',
      actor: LIFECYCLE_ACTOR,
      projectId: bucket.projectId,
      bucket: bucket.name,
      detail: `${v.key} version ${v.versionId}: ${what} (rule ${rule.id})`,
    });
  }

  private recordUpload(bucket: BucketRow, u: UploadRow, rule: LifecycleRule): Promise<void> {
    return this.opts.audit.record({
      action: 'lifecycle.upload-aborted',
      actor: LIFECYCLE_ACTOR,
      projectId: bucket.projectId,
      bucket: bucket.name,
      detail: `${u.key} upload ${u.uploadId} aborted (rule ${rule.id})`,
    });
  }
}

/** The cursor with its bucket done: the next step moves to the following bucket. */
function finished(c: Cursor): Cursor {
  return { bucketId: c.bucketId, bucketDone: true, phase: 'versions', passStartedAt: c.passStartedAt, lastPassAt: c.lastPassAt };
}
