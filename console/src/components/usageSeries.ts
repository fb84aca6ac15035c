// The usage report as chart rows: one per day of the range, in order, whatever the report holds.
// Pure (no React), so the console's unit tests run it under Node.

import type { RequestCounts, UsageReport } from '../api.js';
import { isoDay } from '../format.js';

export const DAY_MS = 86_400_000;

const NO_REQUESTS: RequestCounts = { read: 0, write: 0, list: 0, delete: 0, other: 0 };

const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

export interface UsagePoint {
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  /** The axis label, e.g. "Jun 3". */
  label: string;
  Read: number;
  Write: number;
  List: number;
  Delete: number;
  Other: number;
  'Bytes in': number;
  'Bytes out': number;
  /** null where the report has no figure (a gap in the chart, not a drop to zero). */
  Stored: number | null;
  Objects: number | null;
}

/** The first day of a range of `days` days that ends today (UTC), and its last. */
export function usageRange(days: number, now: Date = new Date()): { from: Date; to: Date } {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return { from: new Date(to.getTime() - (days - 1) * DAY_MS), to };
}

/** Every day in [from, from + days): the report's numbers, zero requests and no stored figure where it has none. */
export function usageSeries(report: UsageReport, from: Date, days: number): UsagePoint[] {
  const byDate = new Map(report.days.map((d) => [d.date, d]));
  return Array.from({ length: days }, (_, i) => {
    const at = new Date(from.getTime() + i * DAY_MS);
    const day = isoDay(at);
    const d = byDate.get(day);
    const r = d?.requests ?? NO_REQUESTS;
    return {
      day,
      label: dayLabel.format(at),
      Read: r.read,
      Write: r.write,
      List: r.list,
      Delete: r.delete,
      Other: r.other,
      'Bytes in': d?.bytesIn ?? 0,
      'Bytes out': d?.bytesOut ?? 0,
      Stored: d?.storedBytes ?? null,
      Objects: d?.objects ?? null,
    };
  });
}

export interface UsageTotals {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** The largest stored figure of the range (0 when there is none). */
  peakStored: number;
}

export function usageTotals(points: UsagePoint[]): UsageTotals {
  const t: UsageTotals = { requests: 0, bytesIn: 0, bytesOut: 0, peakStored: 0 };
  for (const p of points) {
    t.requests += p.Read + p.Write + p.List + p.Delete + p.Other;
    t.bytesIn += p['Bytes in'];
    t.bytesOut += p['Bytes out'];
    t.peakStored = Math.max(t.peakStored, p.Stored ?? 0);
  }
  return t;
}

/** How stored bytes changed over the range: from the first day with a figure to the last. */
export function storedChange(points: UsagePoint[]): { first: UsagePoint; last: UsagePoint } | null {
  const known = points.filter((p) => p.Stored !== null);
  if (known.length === 0) return null;
  return { first: known[0], last: known[known.length - 1] };
}

const TICK_STEPS = [1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500];

/**
 * Axis ticks for sizes from 0 to at least `max`, on round numbers of the unit formatBytes shows
 * (powers of 1024): 0, 2 KiB, 4 KiB… rather than 0, 1.9 KiB, 3.9 KiB….
 */
export function byteTicks(max: number, count = 4): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  let unit = 1;
  while (max / unit >= 1024 && unit < 1024 ** 5) unit *= 1024;
  const raw = max / unit / count;
  const step = (TICK_STEPS.find((s) => s >= raw) ?? 1000) * unit;
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => i * step);
}
