import type { Logger } from 'pino';
import type { RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';
import type { BucketService } from '../buckets/bucket-service.js';
import { S3Error } from '../s3/errors.js';
import {
  exceededLimit,
  storedTotals,
  type BucketRow,
  type MetadataStore,
  type QuotaBreach,
  type QuotaCharge,
  type StorageQuota,
  type StorageQuotas,
  type StorageUsed,
} from '../storage/metadata/metadata-store.js';
import { versioningMode } from '../objects/bucket-config.js';
import { DomainError } from '../util/domain-error.js';

// Storage quotas per project and per bucket (bytes, objects), enforced on the writes that add
// data: PutObject, POST forms, CopyObject, CompleteMultipartUpload (and the REST upload).
//
// Counted in a storage_counters row per bucket in the metadata store, so nodes share them. A
// write under a quota is charged in the transaction that commits it (MetadataStore.putObject):
// the counters move and are compared with the quota in one atomic step, and a write that would
// pass it is rolled back, so concurrent writes on any node never store more than the quota. The
// check here, against the same counters, refuses early (before a body is read) what cannot fit.
// Deletes under a quota are counted in their own transaction the same way (a delete reported
// after its commit could land after a recount that already counted it, and be taken off twice).
// Writes and deletes in buckets without a quota count into memory and reach the store in
// batches, like the usage counters, and always before a check. A bucket's counters are recounted
// from its objects when a quota is set and hourly while it has one, which mends any drift (a
// crash between a commit and its count, or a delete already in flight when a first quota is set). A
// bucket and a project without a quota cost nothing: the bucket row comes with both quotas in the
// query that reads it, and its writes commit as before.

/** The quotas that apply to one bucket's writes. */
export type BucketQuotas = StorageQuotas;

/** What a write to `bucket` is held to in its commit: its quotas, if it has any (see MetadataStore.putObject). */
export function quotaCharge(bucket: BucketRow): QuotaCharge | undefined {
  return bucket.quotas ? { projectId: bucket.projectId, ...bucket.quotas } : undefined;
}

/** The largest quota values accepted (a petabyte, a billion objects). */
const MAX_QUOTA_BYTES = 2 ** 50;
const MAX_QUOTA_OBJECTS = 1_000_000_000;

export function parseBucketQuota(json: string | undefined): StorageQuota | null {
  if (json === undefined) return null;
  const q = JSON.parse(json) as StorageQuota;
  return q.maxBytes === null && q.maxObjects === null ? null : q;
}

/** Both quotas of a bucket, or null when neither is set (the common case: nothing allocated). */
export function quotasOf(bucketSetting: string | undefined, projectQuota: StorageQuota | null | undefined): BucketQuotas | null {
  const bucket = parseBucketQuota(bucketSetting);
  const project = projectQuota ?? null;
  return bucket || project ? { bucket, project } : null;
}

/** A quota as given, checked: each limit null or a whole number from 1; both null means none. */
export function checkQuota(q: StorageQuota): StorageQuota | null {
  for (const [field, value, max] of [['maxBytes', q.maxBytes, MAX_QUOTA_BYTES], ['maxObjects', q.maxObjects, MAX_QUOTA_OBJECTS]] as const) {
    if (value !== null && (!Number.isSafeInteger(value) || value < 1 || value > max)) {
      throw new DomainError('invalid-argument', `${field} is a whole number from 1 to ${max}, or null for no limit.`, field);
    }
  }
  return q.maxBytes === null && q.maxObjects === null ? null : { maxBytes: q.maxBytes, maxObjects: q.maxObjects };
}

function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function describeQuota(q: StorageQuota | null): string {
  if (!q) return 'none';
  const parts = [];
  if (q.maxBytes !== null) parts.push(formatBytes(q.maxBytes));
  if (q.maxObjects !== null) parts.push(`${q.maxObjects} objects`);
  return parts.join(', ');
}

/**
 * The storage counters' write side: every committed write and delete reports what it changed, and
 * the changes reach the store in batches (every few seconds, and before any quota check).
 */
export class StorageMeter {
  /**
   * Counter changes not yet in the store, by bucket id: those of one second added together, with
   * the time of the latest (so a recount in that second never drops a change made after it).
   */
  private pending = new Map<string, { second: number; at: number; bytes: number; objects: number }[]>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly meta: MetadataStore,
    private readonly log?: Logger,
  ) {}

  /** What a committed write or delete changed in a bucket (cheap: a map update). */
  changed(bucketId: string, bytes: number, objects: number, at = Date.now()): void {
    if (bytes === 0 && objects === 0) return;
    const second = Math.floor(at / 1000);
    const list = this.pending.get(bucketId);
    const last = list?.[list.length - 1];
    if (last && last.second === second) {
      last.bytes += bytes;
      last.objects += objects;
      last.at = Math.max(last.at, at);
    } else if (list) list.push({ second, at, bytes, objects });
    else this.pending.set(bucketId, [{ second, at, bytes, objects }]);
  }

  /** Writes the counted changes; flushes run one after another, and a failed batch is kept for the next. */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      const deltas = [...batch].flatMap(([bucketId, list]) => list.map((d) => ({ bucketId, bytes: d.bytes, objects: d.objects, at: new Date(d.at) })));
      try {
        await this.meta.addStorageCounters(deltas);
      } catch (err) {
        for (const d of deltas) this.changed(d.bucketId, d.bytes, d.objects, d.at.getTime());
        this.log?.warn({ err }, 'writing storage counters failed; will retry');
        throw err;
      }
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }
}

/** The refusal of a write that would pass a quota (403 QuotaExceeded), naming the quota. */
export function quotaExceeded(bucketName: string, breach: QuotaBreach): S3Error {
  const { scope, limit, quota, used, added } = breach;
  const over =
    limit === 'objects'
      ? `${quota.maxObjects} objects (${used.objects} stored)`
      : `${formatBytes(quota.maxBytes!)} (${formatBytes(used.bytes)} stored, this write adds ${formatBytes(added.bytes)})`;
  return new S3Error('QuotaExceeded', `The ${scope === 'bucket' ? `bucket ${bucketName}'s` : "project's"} quota of ${over} would be exceeded; nothing was written.`, {
    BucketName: bucketName,
  });
}

export class QuotaService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly meter: StorageMeter,
    private readonly buckets: BucketService,
    private readonly audit: AuditService,
  ) {}

  /**
   * Throws QuotaExceeded when writing `size` bytes to `key` would take the bucket or its project
   * past a quota. An overwrite counts only what it adds (the existing object is looked up only
   * when the simple sum would not fit).
   */
  async check(bucket: BucketRow, quotas: BucketQuotas | null, key: string, size: number): Promise<void> {
    if (!quotas) return;
    await this.meter.flush();
    let existing: { size: number } | null | undefined;
    const scopes: [QuotaBreach['scope'], StorageQuota | null, () => Promise<StorageUsed>][] = [
      ['bucket', quotas.bucket, () => this.meta.bucketStorage(bucket.id)],
      ['project', quotas.project, () => this.meta.projectStorage(bucket.projectId)],
    ];
    for (const [scope, quota, read] of scopes) {
      if (!quota) continue;
      const used = await read();
      if (!exceededLimit(quota, used, { bytes: size, objects: 1 })) continue;
      if (existing === undefined) existing = await this.replaced(bucket, key);
      const added = { bytes: size - (existing?.size ?? 0), objects: existing ? 0 : 1 };
      const limit = exceededLimit(quota, used, added);
      if (limit) throw quotaExceeded(bucket.name, { scope, limit, quota, used, added });
    }
  }

  /**
   * The object a write to `key` replaces, if any: the current one in an unversioned bucket; under
   * Suspended versioning the "null" version, current or not (the others are kept and count).
   */
  private async replaced(bucket: BucketRow, key: string): Promise<{ size: number } | null> {
    const mode = versioningMode(bucket);
    if (mode === 'enabled') return null;
    if (mode === 'unversioned') return this.meta.getObject(bucket.id, key);
    const nullVersion = await this.meta.getObjectVersion(bucket.id, key, 'null');
    // A delete marker is no stored object: an object in its place adds one.
    return nullVersion && !nullVersion.isDeleteMarker ? nullVersion : null;
  }

  /** What a bucket stores now, by its counters when it has a quota (they are kept right then), else counted. */
  async bucketUsage(bucket: BucketRow, counted: boolean): Promise<StorageUsed> {
    if (!counted) return storedTotals(await this.meta.bucketStats(bucket.id));
    await this.meter.flush();
    return this.meta.bucketStorage(bucket.id);
  }

  /** What a project stores now (each bucket counted). */
  async projectUsage(projectId: string): Promise<StorageUsed> {
    const total = { bytes: 0, objects: 0 };
    for (const b of await this.meta.listBuckets(projectId)) {
      const s = storedTotals(await this.meta.bucketStats(b.id));
      total.bytes += s.bytes;
      total.objects += s.objects;
    }
    return total;
  }

  /** Sets (null removes) a bucket's quota, audited as a configuration change, and recounts the bucket. */
  async setBucketQuota(bucket: BucketRow, quota: StorageQuota | null, by: RequestSource): Promise<void> {
    const clean = quota && checkQuota(quota);
    await this.buckets.putSetting(bucket, 'quota', clean ? JSON.stringify(clean) : null, by, describeQuota(clean));
    if (clean) await this.recount(bucket.id);
  }

  /** Sets (null removes) the project's quota, audited, and recounts its buckets. */
  async setProjectQuota(projectId: string, quota: StorageQuota | null, by: RequestSource): Promise<StorageQuota | null> {
    const clean = quota && checkQuota(quota);
    const before = await this.meta.getProjectQuota(projectId);
    if (!(await this.meta.setProjectQuota(projectId, clean))) throw new DomainError('not-found', `No project ${projectId}.`, 'project');
    await this.audit.record({ action: 'project.updated', actor: by.actor, projectId, source: by.source, detail: `quota: ${describeQuota(before)} -> ${describeQuota(clean)}` });
    if (clean) for (const b of await this.meta.listBuckets(projectId)) await this.recount(b.id);
    return clean;
  }

  getProjectQuota(projectId: string): Promise<StorageQuota | null> {
    return this.meta.getProjectQuota(projectId);
  }

  private async recount(bucketId: string): Promise<void> {
    // Changes counted before the recount are in it: write them first so they are not added twice.
    await this.meter.flush();
    await this.meta.recountStorage(bucketId);
  }

  /** Recounts every bucket under a quota (hourly): mends counts a crash or a race left off. */
  async reconcile(): Promise<number> {
    let n = 0;
    for (const p of await this.meta.listProjects()) {
      const projectQuota = await this.meta.getProjectQuota(p.id);
      for (const b of await this.meta.listBuckets(p.id)) {
        if (projectQuota || (await this.meta.getBucketSettings(b.id)).quota !== undefined) {
          await this.recount(b.id);
          n++;
        }
      }
    }
    return n;
  }
}
