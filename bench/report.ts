// The side-by-side table: rows = scenarios, columns = targets and skep's ratios.

import type { ScenarioId, ScenarioResult, TargetResult } from './scenarios.js';
import { requiredMs, type HashCosts } from './required-hashing.js';

interface Row {
  label: string;
  /** The scenario behind the row, to flag failed operations. */
  id?: ScenarioId;
  /** Whether a bigger number is better (ratios are read accordingly). */
  higherIsBetter: boolean;
  value: (t: TargetResult) => number | string | undefined;
  digits: number;
}

function scenario(t: TargetResult, id: ScenarioId): ScenarioResult | undefined {
  return t.scenarios[id];
}

function metric(id: ScenarioId, pick: (s: ScenarioResult) => number | undefined) {
  return (t: TargetResult) => {
    const s = scenario(t, id);
    if (!s) return undefined;
    if (s.error) return 'ERROR';
    return pick(s);
  };
}

export function buildRows(cfg: { smallConcurrency: number; largeConcurrency: number; listKeys: number; largeSizeMiB: number }): Row[] {
  const sc = `c=${cfg.smallConcurrency}`;
  const lc = `c=${cfg.largeConcurrency}`;
  const big = `${cfg.largeSizeMiB} MiB`;
  return [
    { label: `PUT 4 KiB ops/s (${sc})`, id: 'put-small', higherIsBetter: true, digits: 0, value: metric('put-small', (s) => s.opsPerSec) },
    { label: `PUT 4 KiB p50 ms`, id: 'put-small', higherIsBetter: false, digits: 2, value: metric('put-small', (s) => s.p50Ms) },
    { label: `PUT 4 KiB p99 ms`, id: 'put-small', higherIsBetter: false, digits: 2, value: metric('put-small', (s) => s.p99Ms) },
    { label: `PUT 4 KiB versioned ops/s (${sc})`, id: 'put-versioned', higherIsBetter: true, digits: 0, value: metric('put-versioned', (s) => s.opsPerSec) },
    { label: `PUT 4 KiB versioned p50 ms`, id: 'put-versioned', higherIsBetter: false, digits: 2, value: metric('put-versioned', (s) => s.p50Ms) },
    { label: `PUT 4 KiB versioned p99 ms`, id: 'put-versioned', higherIsBetter: false, digits: 2, value: metric('put-versioned', (s) => s.p99Ms) },
    { label: `GET 4 KiB ops/s (${sc})`, id: 'get-small', higherIsBetter: true, digits: 0, value: metric('get-small', (s) => s.opsPerSec) },
    { label: `GET 4 KiB p50 ms`, id: 'get-small', higherIsBetter: false, digits: 2, value: metric('get-small', (s) => s.p50Ms) },
    { label: `GET 4 KiB p99 ms`, id: 'get-small', higherIsBetter: false, digits: 2, value: metric('get-small', (s) => s.p99Ms) },
    { label: `HEAD 4 KiB ops/s (${sc})`, id: 'head-small', higherIsBetter: true, digits: 0, value: metric('head-small', (s) => s.opsPerSec) },
    { label: `HEAD 4 KiB p50 ms`, id: 'head-small', higherIsBetter: false, digits: 2, value: metric('head-small', (s) => s.p50Ms) },
    { label: `PUT 4 KiB SSE-S3 ops/s (${sc})`, id: 'put-encrypted', higherIsBetter: true, digits: 0, value: metric('put-encrypted', (s) => s.opsPerSec) },
    { label: `PUT 4 KiB SSE-S3 p50 ms`, id: 'put-encrypted', higherIsBetter: false, digits: 2, value: metric('put-encrypted', (s) => s.p50Ms) },
    { label: `GET 4 KiB SSE-S3 ops/s (${sc})`, id: 'get-encrypted', higherIsBetter: true, digits: 0, value: metric('get-encrypted', (s) => s.opsPerSec) },
    { label: `GET 4 KiB SSE-S3 p50 ms`, id: 'get-encrypted', higherIsBetter: false, digits: 2, value: metric('get-encrypted', (s) => s.p50Ms) },
    { label: `PUT ${big} MiB/s (${lc})`, id: 'put-large', higherIsBetter: true, digits: 0, value: metric('put-large', (s) => s.mibPerSec) },
    { label: `PUT ${big} trailer MiB/s (${lc})`, id: 'put-large-trailer', higherIsBetter: true, digits: 0, value: metric('put-large-trailer', (s) => s.mibPerSec) },
    { label: `PUT ${big} signed chunks MiB/s (${lc})`, id: 'put-large-signed', higherIsBetter: true, digits: 0, value: metric('put-large-signed', (s) => s.mibPerSec) },
    { label: `GET ${big} MiB/s (${lc})`, id: 'get-large', higherIsBetter: true, digits: 0, value: metric('get-large', (s) => s.mibPerSec) },
    { label: `ListV2 ${cfg.listKeys} keys ops/s (${sc})`, id: 'list', higherIsBetter: true, digits: 1, value: metric('list', (s) => s.opsPerSec) },
    { label: `ListV2 p50 ms`, id: 'list', higherIsBetter: false, digits: 1, value: metric('list', (s) => s.p50Ms) },
    { label: `ListV2 p99 ms`, id: 'list', higherIsBetter: false, digits: 1, value: metric('list', (s) => s.p99Ms) },
    { label: `server RSS peak MiB (VmHWM)`, higherIsBetter: false, digits: 0, value: (t) => t.rssPeakMiB },
    { label: `server RSS at end MiB`, higherIsBetter: false, digits: 0, value: (t) => t.rssEndMiB },
  ];
}

function fmt(v: number | string | undefined, digits: number): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | string | undefined, b: number | string | undefined): number | undefined {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

function table(header: string[], rows: string[][], alignLeft = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Columns for skep on the distributed configuration (--backend postgres,ceph), when they ran. */
const EXTRA_COLUMNS: [string, string][] = [
  ['skep-base', 'skep base'],
  ['skep-pg-ceph', 'skep pg+ceph'],
  ['skep-pg-ceph-x3', 'skep pg+ceph x3'],
];

export function renderTable(results: TargetResult[], rows: Row[]): string {
  const by = (name: string) => results.find((r) => r.target === name);
  const skep = by('skep');
  const s3rver = by('s3rver');
  const ceiling = by('ceiling');
  const base = by('skep-base');
  const distributed = EXTRA_COLUMNS.filter(([name]) => by(name)).map(([name, label]) => ({ t: by(name), label }));
  const out: string[][] = [];
  let flagged = false;
  const mark = (t: TargetResult | undefined, row: Row) => {
    const failed = !!(t && row.id && (t.scenarios[row.id]?.failedOps ?? 0) > 0);
    if (failed) flagged = true;
    return failed ? '!' : '';
  };
  for (const row of rows) {
    const v = (t: TargetResult | undefined) => (t ? row.value(t) : undefined);
    // Leave out the scenarios this run skipped.
    if (row.id && results.every((t) => v(t) === undefined)) continue;
    const a = v(skep);
    const b = v(s3rver);
    const c = v(ceiling);
    const rs = ratio(a, b);
    const rc = ratio(a, c);
    const rb = ratio(a, v(base));
    // "ahead": skep better than s3rver on this row.
    const ahead = rs === undefined ? '' : (row.higherIsBetter ? rs >= 1 : rs <= 1) ? 'yes' : 'NO';
    out.push([
      row.label,
      fmt(a, row.digits) + mark(skep, row),
      ...distributed.map(({ t }) => fmt(v(t), row.digits) + mark(t, row)),
      fmt(b, row.digits) + mark(s3rver, row),
      (row.label.startsWith('ListV2') && c !== undefined && typeof c === 'number' ? `${fmt(c, row.digits)}*` : fmt(c, row.digits)) + mark(ceiling, row),
      ...(base ? [rb === undefined ? '-' : `${rb.toFixed(2)}x`] : []),
      rs === undefined ? '-' : `${rs.toFixed(2)}x`,
      rc === undefined ? '-' : `${rc.toFixed(2)}x`,
      ahead,
    ]);
  }
  return (
    table(['scenario', 'skep', ...distributed.map((d) => d.label), 's3rver', 'ceiling', ...(base ? ['skep/base'] : []), 'skep/s3rver', 'skep/ceiling', 'skep ahead'], out) +
    '\n  ratios are value/value: above 1 is better for ops/s and MiB/s, below 1 is better for ms and MiB.' +
    '\n  * the ceiling answers a list with a fixed, tiny XML document: a bound on request overhead, not a real listing.' +
    (base ? '\n  skep base: the --baseline checkout, run in the same interleaved rounds.' : '') +
    (distributed.some((d) => d.label.includes('pg'))
      ? '\n  skep pg+ceph: metadata in PostgreSQL (fsync on), blobs in Ceph through its S3 gateway (one OSD on the in-memory store:' +
        '\n  no disk writes, no replication), all on this machine\'s cores; x3: three nodes taking requests in turn, RSS summed over them.'
      : '') +
    (flagged ? '\n  ! some operations of the best round failed (see the log); the figures are those of the operations that succeeded.' : '')
  );
}

const IDS: [ScenarioId, string][] = [
  ['put-small', 'PUT 4 KiB'],
  ['put-versioned', 'PUT 4 KiB versioned'],
  ['get-small', 'GET 4 KiB'],
  ['head-small', 'HEAD 4 KiB'],
  ['put-encrypted', 'PUT 4 KiB SSE-S3'],
  ['get-encrypted', 'GET 4 KiB SSE-S3'],
  ['put-large', 'PUT large'],
  ['put-large-trailer', 'PUT large trailer'],
  ['put-large-signed', 'PUT large signed'],
  ['get-large', 'GET large'],
  ['list', 'ListV2'],
];

/**
 * Where the CPU goes: server CPU per operation (all threads, and the main thread alone), the
 * cores the server kept busy, and the client's own CPU per operation. With `hashing` (timed in
 * this run), the large PUT rows also show the hashing S3 requires of every server and skep's
 * CPU beyond it, the figure to hold against the ceiling's, which hashes nothing.
 */
export function renderCpuTable(results: TargetResult[], hashing?: HashCosts): string {
  const header = [
    'CPU ms per op',
    ...results.flatMap((r) => [`${r.target} all`, 'main', 'cores']),
    'client (skep run)',
    ...(hashing ? ['required hashing', 'skep all beyond it'] : []),
  ];
  const rows: string[][] = [];
  const skep = results.find((r) => r.target === 'skep');
  for (const [id, label] of IDS) {
    if (results.every((r) => !r.scenarios[id])) continue;
    const row = [label];
    for (const r of results) {
      const s = r.scenarios[id];
      const ok = s && !s.error;
      row.push(ok ? s.serverCpuMsPerOp.toFixed(3) : '-', ok ? s.serverThreadsMsPerOp.main.toFixed(3) : '-', ok ? s.serverCores.toFixed(2) : '-');
    }
    const sk = skep?.scenarios[id];
    const skOk = sk && !sk.error;
    row.push(skOk ? sk.clientCpuMsPerOp.toFixed(3) : '-');
    if (hashing) {
      const required = requiredMs(hashing, id);
      row.push(required === undefined ? '' : required.toFixed(1), required === undefined || !skOk ? '' : (sk.serverCpuMsPerOp - required).toFixed(1));
    }
    rows.push(row);
  }
  return (
    table(header, rows) +
    (hashing
      ? `\n  required hashing: the CPU of the hashes S3 asks of a server for that body, timed here on one thread (per object:` +
        ` MD5 ${hashing.md5.toFixed(1)} ms for the ETag; SHA-256 ${hashing.sha256.toFixed(1)} ms for signed chunks; CRC32 ${hashing.crc32.toFixed(1)} ms for the trailer).` +
        `\n  The ceiling computes none of them.`
      : '')
  );
}
