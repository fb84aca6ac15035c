import type { AuditAction, AuditQuery, AuditRow, BucketSettingName, MetadataStore } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import type { RequestSource } from './actor.js';
import { newAuditId } from './audit-id.js';

// The audit log: who did what to which project, token or bucket, from where. Every service writes
// through record(); reads page by a (time, id) cursor; old events are pruned after the retention.
// Events never hold a secret.

export interface AuditEvent {
  action: AuditAction;
  actor: string;
  projectId?: string | null;
  tokenId?: string | null;
  bucket?: string | null;
  source?: string | null;
  detail?: string | null;
}

export type AuditFilter = Omit<AuditQuery, 'limit' | 'before' | 'beforeId'>;

export interface AuditPage {
  items: AuditRow[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** How long events are kept by default. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;

/** The cursor is the (time, id) of the last row returned, opaque to clients. */
export function encodeAuditCursor(row: Pick<AuditRow, 'at' | 'id'>): string {
  return Buffer.from(`${row.at.getTime()}:${row.id}`, 'utf8').toString('base64url');
}

export function decodeAuditCursor(cursor: string): { before: Date; beforeId: string } {
  const m = /^(\d{1,15}):(.+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new DomainError('invalid-argument', 'The cursor is not one this server returned.', 'cursor');
  return { before: new Date(Number(m[1])), beforeId: m[2] };
}

export class AuditService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async record(e: AuditEvent): Promise<void> {
    const at = this.clock();
    // Time-ordered ids keep events of the same millisecond in the order they happened.
    await this.meta.appendAudit({
      id: newAuditId(at),
      at,
      action: e.action,
      actor: e.actor,
      projectId: e.projectId ?? null,
      tokenId: e.tokenId ?? null,
      bucket: e.bucket ?? null,
      source: e.source ?? null,
      detail: e.detail ?? null,
    });
  }

  /**
   * The one event for a change of a bucket's configuration (CORS, policy, versioning, lifecycle...):
   * action bucket.config-changed, the setting's name first in the detail ("versioning: Enabled").
   */
  bucketConfigChanged(bucket: { projectId: string; name: string }, setting: BucketSettingName, by: RequestSource, change?: string): Promise<void> {
    return this.record({
      action: 'bucket.config-changed',
      actor: by.actor,
      projectId: bucket.projectId,
      bucket: bucket.name,
      source: by.source,
      detail: change ? `${setting}: ${change}` : setting,
    });
  }

  /** Newest first, at most `limit` rows. */
  list(q: AuditQuery): Promise<AuditRow[]> {
    return this.meta.listAudit(q);
  }

  /** One page of the filtered log, newest first, continuing after `cursor`. */
  async page(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    const position = cursor === undefined ? {} : decodeAuditCursor(cursor);
    // One extra row tells whether another page follows.
    const rows = await this.meta.listAudit({ ...filter, ...position, limit: limit + 1 });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeAuditCursor(last) : null };
  }

  /** Every row of the filtered log, newest first, read a page at a time (for exports). */
  async *all(filter: AuditFilter, pageSize = 1000): AsyncGenerator<AuditRow> {
    let cursor: string | undefined;
    do {
      const page = await this.page(filter, pageSize, cursor);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Deletes events older than the retention period; returns how many. */
  prune(retentionDays: number): Promise<number> {
    return this.meta.pruneAudit(new Date(this.clock().getTime() - retentionDays * DAY_MS));
  }
}
