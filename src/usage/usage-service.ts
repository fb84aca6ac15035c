import type { Logger } from 'pino';
import { storedTotals, type MetadataStore, type StorageSnapshot, type UsageCounters, type UsageIncrement } from '../storage/metadata/metadata-store.js';
import { isStoreError } from '../storage/metadata/store-errors.js';
import { DomainError } from '../util/domain-error.js';

// Request and byte counters per (day, project, bucket, token). Requests are counted in memory and
// written in batches (every few seconds and on close), never one database write per request; the
// write adds to the stored rows, so several nodes can count into the same rows.
//
// Stored bytes and objects per day (noncurrent versions included: they take space as much as
// current objects do): a write or delete request marks its bucket changed, and the
// next flush snapshots what the bucket holds (the store's object count and byte total) as that
// day's figure. Only changed buckets are read, never all of them; a bucket whose totals are slow
// to compute is read at most once per SNAPSHOT_COST_FACTOR times that duration, so snapshots take
// at most about 1% of the time; a change made on an earlier day is always snapshotted at the next
// flush. Days with no snapshot carry the bucket's last known figure forward; before a bucket was
// created it stored nothing. A report's today is what the project stores now.

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
  /** What is stored now: bytes and objects include the noncurrent versions versioning keeps. */
  current: { bytes: number; objects: number };
  buckets: { name: string; bytes: number; objects: number; noncurrentVersions: number; noncurrentBytes: number }[];
  days: {
    date: string;
    requests: { read: number; write: number; list: number; delete: number; other: number };
    bytesIn: number;
    bytesOut: number;
    /**
     * Stored at the end of the day (today: now), summed over the selected buckets: each bucket's
     * last figure on or before the day, 0 before the bucket was created. null when no selected
     * bucket has a figure for the day (e.g. days before the upgrade that added these figures),
     * after today, and in token reports (storage belongs to buckets, not to the tokens that wrote it).
     */
    storedBytes: number | null;
    objects: number | null;
  }[];
}

/** One token's use over a range (tokenId '' for console sessions). */
export interface TokenUsageEntry {
  tokenId: string;
  requests: { read: number; write: number; list: number; delete: number; other: number };
  bytesIn: number;
  bytesOut: number;
}

/** A bucket's totals are re-read no sooner than this many times the last read took. */
export const SNAPSHOT_COST_FACTOR = 100;

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

interface ChangedBucket {
  day: string;
  projectId: string;
  bucket: string;
  /** Bumped on every change, so a change made while its snapshot is taken is not forgotten. */
  seq: number;
}

export class UsageService {
  private pending = new Map<string, UsageIncrement>();
  private flushing: Promise<void> = Promise.resolve();
  /** Buckets changed since their last snapshot, by (day, project, bucket). */
  private changed = new Map<string, ChangedBucket>();
  /** When each bucket (project, name) was last snapshotted, and how long reading its totals took. */
  private snapshots = new Map<string, { at: number; ms: number }>();
  private seq = 0;
  /** The day record() last counted into, and its bounds (ms): most requests reuse it. */
  private countingDay = { day: '', start: 0, end: 0 };

  constructor(
    private readonly meta: MetadataStore,
    private readonly clock: () => Date = () => new Date(),
    private readonly log?: Logger,
  ) {}

  /** Counts one request; cheap (a map update). */
  record(e: UsageEvent): void {
    const day = this.dayOfRequest();
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
    if (bucket !== '' && (e.kind === 'write' || e.kind === 'delete')) this.storageChanged(e.projectId, bucket);
  }

  /**
   * Notes that what a bucket stores changed, for a new daily figure: told by every committed write
   * and delete, whatever made it (a request, lifecycle expiry, `skep bucket delete --force`).
   */
  storageChanged(projectId: string, bucket: string): void {
    const day = this.dayOfRequest();
    this.changed.set(`${day}\n${projectId}\n${bucket}`, { day, projectId, bucket, seq: ++this.seq });
  }

  /** Today's date (UTC) by the clock; formatted once a day rather than once a request. */
  private dayOfRequest(): string {
    const now = this.clock().getTime();
    const c = this.countingDay;
    if (now < c.start || now >= c.end) {
      c.start = now - (now % DAY_MS);
      c.end = c.start + DAY_MS;
      c.day = dayOf(new Date(now));
    }
    return c.day;
  }

  /**
   * Writes the counters gathered so far and snapshots the buckets that changed. Flushes run one
   * after another; a failed batch is kept for the next. `all` snapshots every changed bucket, due
   * or not: at shutdown, so the day's last change is not left unrecorded.
   */
  flush(opts: { all?: boolean } = {}): Promise<void> {
    const run = this.flushing.then(async () => {
      let failure: unknown = null;
      await this.flushCounters().catch((err: unknown) => (failure = err));
      await this.snapshotChanged(opts.all ?? false).catch((err: unknown) => (failure ??= err));
      if (failure !== null) throw failure;
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushCounters(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.meta.addUsage([...batch.values()]);
    } catch (err) {
      // A row the store refuses fails every batch it is in: the rows go one by one, without it.
      if (isStoreError(err, 'data')) return this.flushRowByRow(batch);
      this.putBack(batch);
      this.log?.warn({ err }, 'writing usage counters failed; will retry');
      throw err;
    }
  }

  /** Writes each row alone; drops a row the store refuses, keeps the others that fail for the next flush. */
  private async flushRowByRow(batch: Map<string, UsageIncrement>): Promise<void> {
    let failure: unknown = null;
    for (const [key, row] of batch) {
      try {
        await this.meta.addUsage([row]);
      } catch (err) {
        if (isStoreError(err, 'data')) {
          this.log?.error({ err, row }, 'the store refused a usage counter row; its counts are dropped');
          continue;
        }
        this.putBack(new Map([[key, row]]));
        failure ??= err;
      }
    }
    if (failure !== null) {
      this.log?.warn({ err: failure }, 'writing usage counters failed; will retry');
      throw failure;
    }
  }

  /** Puts counts that were not written back, so they go out with the next flush. */
  private putBack(batch: Map<string, UsageIncrement>): void {
    for (const [key, row] of batch) {
      const now = this.pending.get(key);
      if (!now) this.pending.set(key, row);
      else for (const f of Object.keys(KIND_FIELD_ALL) as (keyof UsageCounters)[]) now[f] += row[f];
    }
  }

  /** Snapshots each changed bucket that is due (see the top of this file). */
  private async snapshotChanged(all: boolean): Promise<void> {
    if (this.changed.size === 0) return;
    const now = this.clock();
    const today = dayOf(now);
    const t = now.getTime();
    const bucketKey = (c: ChangedBucket) => `${c.projectId}\n${c.bucket}`;
    const due = new Set<string>();
    for (const c of this.changed.values()) {
      const last = this.snapshots.get(bucketKey(c));
      if (all || c.day < today || !last || t - last.at >= last.ms * SNAPSHOT_COST_FACTOR) due.add(bucketKey(c));
    }
    if (due.size === 0) return;
    const taken: [string, ChangedBucket][] = [...this.changed].filter(([, c]) => due.has(bucketKey(c)));
    const totals = new Map<string, { bytes: number; objects: number }>();
    const rows: StorageSnapshot[] = [];
    try {
      for (const [, c] of taken) {
        const key = bucketKey(c);
        let stats = totals.get(key);
        if (!stats) {
          const started = performance.now();
          const b = await this.meta.getBucket(c.projectId, c.bucket);
          // A deleted bucket stores nothing from that day on.
          stats = b ? storedTotals(await this.meta.bucketStats(b.id)) : { bytes: 0, objects: 0 };
          this.snapshots.set(key, { at: t, ms: performance.now() - started });
          totals.set(key, stats);
        }
        rows.push({ day: c.day, projectId: c.projectId, bucket: c.bucket, bytes: stats.bytes, objects: stats.objects });
      }
      await this.meta.putStorageSnapshots(rows);
    } catch (err) {
      this.log?.warn({ err }, 'writing storage snapshots failed; will retry');
      throw err;
    }
    for (const [ckey, c] of taken) if (this.changed.get(ckey)?.seq === c.seq) this.changed.delete(ckey);
    // Forget timings of buckets quiet for a day, so the map does not grow with every bucket ever seen.
    for (const [key, s] of this.snapshots) if (t - s.at > DAY_MS) this.snapshots.delete(key);
  }

  /**
   * Requests and bytes in/out per token over a range of days (default: the last 30), for billing:
   * one entry per token with any use, '' standing for console sessions.
   */
  async byToken(q: Omit<UsageReportQuery, 'tokenId'>): Promise<{ from: string; to: string; tokens: TokenUsageEntry[] }> {
    const toText = q.to ?? dayOf(this.clock());
    const to = parseDay(toText, 'to');
    const fromText = q.from ?? dayOf(new Date(to - 29 * DAY_MS));
    const from = parseDay(fromText, 'from');
    if (from > to) throw new DomainError('invalid-argument', 'from is after to.', 'from');
    if ((to - from) / DAY_MS + 1 > MAX_REPORT_DAYS) throw new DomainError('invalid-argument', `A report covers at most ${MAX_REPORT_DAYS} days.`, 'from');
    await this.flush().catch(() => undefined);
    const rows = await this.meta.usageByToken({ projectId: q.projectId, from: fromText, to: toText, bucket: q.bucket });
    return {
      from: fromText,
      to: toText,
      tokens: rows.map((r) => ({
        tokenId: r.tokenId,
        requests: { read: r.requestsRead, write: r.requestsWrite, list: r.requestsList, delete: r.requestsDelete, other: r.requestsOther },
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
      })),
    };
  }

  /** Request counters and stored bytes per day (every day of the range), and what the project stores now. */
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
    const buckets: UsageReport['buckets'] = [];
    /** The day each selected bucket was created: it stored nothing before. */
    const createdOn = new Map<string, string>();
    for (const b of await this.meta.listBuckets(q.projectId)) {
      if (q.bucket !== undefined && b.name !== q.bucket) continue;
      const stats = await this.meta.bucketStats(b.id);
      buckets.push({ name: b.name, ...storedTotals(stats), noncurrentVersions: stats.noncurrentVersions, noncurrentBytes: stats.noncurrentBytes });
      createdOn.set(b.name, dayOf(b.createdAt));
    }
    const current = buckets.reduce((acc, b) => ({ bytes: acc.bytes + b.bytes, objects: acc.objects + b.objects }), { bytes: 0, objects: 0 });

    // Stored bytes: each selected bucket's latest snapshot on or before the day; 0 before the
    // bucket was created; unknown between its creation and its first snapshot.
    const today = dayOf(this.clock());
    const snaps = q.tokenId === undefined ? await this.meta.storageSnapshots({ projectId: q.projectId, from: fromText, to: toText, bucket: q.bucket }) : [];
    const known = new Map<string, { bytes: number; objects: number }>();
    const names = new Set([...createdOn.keys(), ...snaps.map((x) => x.bucket)]);
    let next = 0;
    const storedOn = (date: string): { bytes: number; objects: number } | null => {
      if (q.tokenId !== undefined || date > today) return null;
      if (date === today) return current;
      let any = false;
      const sum = { bytes: 0, objects: 0 };
      for (const name of names) {
        const created = createdOn.get(name);
        const figure = known.get(name) ?? (created !== undefined && date < created ? { bytes: 0, objects: 0 } : undefined);
        if (!figure) continue;
        any = true;
        sum.bytes += figure.bytes;
        sum.objects += figure.objects;
      }
      return any ? sum : null;
    };

    const byDay = new Map(rows.map((r) => [r.day, r]));
    const days: UsageReport['days'] = [];
    for (let t = from; t <= to; t += DAY_MS) {
      const date = dayOf(new Date(t));
      const r = byDay.get(date) ?? { day: date, ...emptyCounters() };
      for (; next < snaps.length && snaps[next].day <= date; next++) known.set(snaps[next].bucket, snaps[next]);
      const stored = storedOn(date);
      days.push({
        date,
        requests: { read: r.requestsRead, write: r.requestsWrite, list: r.requestsList, delete: r.requestsDelete, other: r.requestsOther },
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        storedBytes: stored?.bytes ?? null,
        objects: stored?.objects ?? null,
      });
    }
    return { current, buckets, days };
  }
}
