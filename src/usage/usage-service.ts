import type { Logger } from 'pino';
import type { MetadataStore, UsageCounters, UsageIncrement } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';

// Request and byte counters per (day, project, bucket, token). Requests are counted in memory and
// written in batches (every few seconds and on close), never one database write per request; the
// write adds to the stored rows, so several nodes can count into the same rows. Stored bytes and
// object counts are not counted here: they are read from the objects themselves when asked.

export type RequestKind = 'read' | 'write' | 'list' | 'delete' | 'other';

export interface UsageEvent {
  projectId: string;
  /** null or '' when the request named no bucket. */
  bucket: string | null;
  /** null or '' for console sessions. */
  tokenId: string | null;
  kind: RequestKind;
  bytesIn: number;
  bytesOut: number;
}

export interface UsageReportQuery {
  projectId: string;
  /** 'YYYY-MM-DD', inclusive; default: 29 days before `to`. */
  from?: string;
  /** 'YYYY-MM-DD', inclusive; default: today (UTC). */
  to?: string;
  bucket?: string;
  tokenId?: string;
}

export interface UsageReport {
  current: { bytes: number; objects: number };
  buckets: { name: string; bytes: number; objects: number }[];
  days: {
    date: string;
    requests: { read: number; write: number; list: number; delete: number; other: number };
    bytesIn: number;
    bytesOut: number;
  }[];
}

/** The longest range one report covers. */
export const MAX_REPORT_DAYS = 366;
const DAY_MS = 86_400_000;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

const KIND_FIELD: Record<RequestKind, keyof UsageCounters> = {
  read: 'requestsRead',
  write: 'requestsWrite',
  list: 'requestsList',
  delete: 'requestsDelete',
  other: 'requestsOther',
};

const KIND_FIELD_ALL: Record<keyof UsageCounters, true> = {
  requestsRead: true,
  requestsWrite: true,
  requestsList: true,
  requestsDelete: true,
  requestsOther: true,
  bytesIn: true,
  bytesOut: true,
};

function dayOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function parseDay(text: string, field: string): number {
  const t = DATE_PATTERN.test(text) ? Date.parse(`${text}T00:00:00Z`) : NaN;
  if (Number.isNaN(t) || dayOf(new Date(t)) !== text) throw new DomainError('invalid-argument', `${field} is a date like 2024-05-31.`, field);
  return t;
}

function emptyCounters(): UsageCounters {
  return { requestsRead: 0, requestsWrite: 0, requestsList: 0, requestsDelete: 0, requestsOther: 0, bytesIn: 0, bytesOut: 0 };
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

export class UsageService {
  private pending = new Map<string, UsageIncrement>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly meta: MetadataStore,
    private readonly clock: () => Date = () => new Date(),
    private readonly log?: Logger,
  ) {}

  /** Counts one request; cheap (a map update). */
  record(e: UsageEvent): void {
    const day = dayOf(this.clock());
    const bucket = e.bucket ?? '';
    const tokenId = e.tokenId ?? '';
    const key = `${day}\n${e.projectId}\n${bucket}\n${tokenId}`;
    let row = this.pending.get(key);
    if (!row) {
      row = { day, projectId: e.projectId, bucket, tokenId, ...emptyCounters() };
      this.pending.set(key, row);
    }
    row[KIND_FIELD[e.kind]] += 1;
    row.bytesIn += nonNegative(e.bytesIn);
    row.bytesOut += nonNegative(e.bytesOut);
  }

  /** Writes the counters gathered so far. Flushes run one after another; a failed batch is kept for the next. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushOnce());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.meta.addUsage([...batch.values()]);
    } catch (err) {
      // Put the counts back so they are not lost; they go out with the next flush.
      for (const [key, row] of batch) {
        const now = this.pending.get(key);
        if (!now) this.pending.set(key, row);
        else for (const f of Object.keys(KIND_FIELD_ALL) as (keyof UsageCounters)[]) now[f] += row[f];
      }
      this.log?.warn({ err }, 'writing usage counters failed; will retry');
      throw err;
    }
  }

  /** Request counters per day (zero-filled), and what the project stores now. */
  async report(q: UsageReportQuery): Promise<UsageReport> {
    const toText = q.to ?? dayOf(this.clock());
    const to = parseDay(toText, 'to');
    const fromText = q.from ?? dayOf(new Date(to - 29 * DAY_MS));
    const from = parseDay(fromText, 'from');
    if (from > to) throw new DomainError('invalid-argument', 'from is after to.', 'from');
    if ((to - from) / DAY_MS + 1 > MAX_REPORT_DAYS) {
      throw new DomainError('invalid-argument', `A report covers at most ${MAX_REPORT_DAYS} days.`, 'from');
    }
    // Counts of this node not yet written are included, so a report right after requests is exact.
    await this.flush().catch(() => undefined);
    const rows = await this.meta.usageByDay({ projectId: q.projectId, from: fromText, to: toText, bucket: q.bucket, tokenId: q.tokenId });
    const byDay = new Map(rows.map((r) => [r.day, r]));
    const days: UsageReport['days'] = [];
    for (let t = from; t <= to; t += DAY_MS) {
      const date = dayOf(new Date(t));
      const r = byDay.get(date) ?? { day: date, ...emptyCounters() };
      days.push({
        date,
        requests: { read: r.requestsRead, write: r.requestsWrite, list: r.requestsList, delete: r.requestsDelete, other: r.requestsOther },
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
      });
    }
    const buckets: UsageReport['buckets'] = [];
    for (const b of await this.meta.listBuckets(q.projectId)) {
      if (q.bucket !== undefined && b.name !== q.bucket) continue;
      const stats = await this.meta.bucketStats(b.id);
      buckets.push({ name: b.name, bytes: stats.bytes, objects: stats.objects });
    }
    const current = buckets.reduce((acc, b) => ({ bytes: acc.bytes + b.bytes, objects: acc.objects + b.objects }), { bytes: 0, objects: 0 });
    return { current, buckets, days };
  }
}
