import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEVEL_RIGHTS } from '../src/auth/authorize.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS } from '../src/auth/principal.js';
import { CAPABILITIES, PERMISSIONS } from '../console/src/permissions.js';
import { hrefOf, parseRoute, type Route } from '../console/src/router.js';
import { formatBytes, formatRelative, formatWait } from '../console/src/format.js';
import { byteTicks, storedChange, usageRange, usageSeries, usageTotals } from '../console/src/components/usageSeries.js';
import type { UsageReport } from '../console/src/api.js';

// The console's pure parts, run under Node: what it tells people about permissions must match
// the authorizer, and every route must survive a trip through its URL.

test('the permission table says what the authorizer decides', () => {
  assert.deepEqual(
    PERMISSIONS.map((p) => p.level),
    [...PERMISSION_LEVELS],
  );
  for (const p of PERMISSIONS) assert.equal(p.label, PERMISSION_LABELS[p.level]);
  for (const c of CAPABILITIES) {
    const granted = PERMISSION_LEVELS.filter((level) => c.rights.every((r) => LEVEL_RIGHTS[level].has(r)));
    assert.deepEqual(c.levels, granted, c.label);
  }
});

test('routes round-trip through their URLs', () => {
  const routes: Route[] = [
    { name: 'home' },
    { name: 'signin' },
    { name: 'buckets', projectId: 'p-1' },
    { name: 'bucket', projectId: 'p-1', bucket: 'my.bucket', prefix: '' },
    { name: 'bucket', projectId: 'p-1', bucket: 'photos', prefix: 'a b/ü?&=#%/' },
    { name: 'tokens', projectId: 'p-1' },
    { name: 'token-new', projectId: 'p-1' },
    { name: 'usage', projectId: 'p-1' },
  ];
  for (const r of routes) {
    const u = new URL(hrefOf(r), 'http://x');
    assert.ok(u.pathname.startsWith('/console/'), hrefOf(r));
    assert.deepEqual(parseRoute(u.pathname, u.search), r, hrefOf(r));
  }
  assert.deepEqual(parseRoute('/console/projects/p-1', ''), { name: 'buckets', projectId: 'p-1' });
  assert.deepEqual(parseRoute('/console', ''), { name: 'home' });
  assert.equal(parseRoute('/console/nope', '').name, 'not-found');
  assert.equal(parseRoute('/console/projects/p-1/buckets/a/b', '').name, 'not-found');
});

test('sizes and times read the way people say them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  // Powers of 1024 carry the binary prefixes: 1 KiB = 1024 bytes.
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1024), '1 KiB');
  assert.equal(formatBytes(3 * 1024 * 1024), '3 MiB');
  assert.equal(formatBytes(150 * 1024 ** 3), '150 GiB');
  assert.equal(formatBytes(5 * 1024 ** 4), '5 TiB');
  assert.equal(formatBytes(-1), '—');
  // Relative times follow the machine's locale; their wording is checked in English only.
  if (!new Intl.RelativeTimeFormat().resolvedOptions().locale.startsWith('en')) return;
  const now = Date.parse('2026-01-10T12:00:00Z');
  assert.equal(formatRelative('2026-01-10T11:59:50Z', now), 'just now');
  assert.equal(formatRelative('2026-01-10T09:00:00Z', now), '3 hours ago');
  assert.equal(formatRelative('2026-01-20T12:00:00Z', now), 'in 10 days');
  assert.equal(formatRelative(null, now), '—');
});

test('usage charts: one row per day, zero requests and a gap (not a zero) where the report has no figure', () => {
  const { from, to } = usageRange(4, new Date('2026-03-02T18:00:00Z'));
  assert.equal(from.toISOString(), '2026-02-27T00:00:00.000Z');
  assert.equal(to.toISOString(), '2026-03-02T00:00:00.000Z');
  const requests = { read: 1, write: 2, list: 3, delete: 4, other: 5 };
  const report: UsageReport = {
    current: { bytes: 300, objects: 3 },
    buckets: [],
    days: [
      { date: '2026-02-28', requests, bytesIn: 10, bytesOut: 20, storedBytes: 100, objects: 1 },
      { date: '2026-03-01', requests, bytesIn: 0, bytesOut: 5, storedBytes: 0, objects: 0 },
      { date: '2026-03-02', requests, bytesIn: 0, bytesOut: 0, storedBytes: 300, objects: 3 },
    ],
  };
  const points = usageSeries(report, from, 4);
  assert.deepEqual(
    points.map((p) => [p.day, p.Read + p.Write + p.List + p.Delete + p.Other, p['Bytes in'], p['Bytes out'], p.Stored, p.Objects]),
    [
      ['2026-02-27', 0, 0, 0, null, null],
      ['2026-02-28', 15, 10, 20, 100, 1],
      ['2026-03-01', 15, 0, 5, 0, 0],
      ['2026-03-02', 15, 0, 0, 300, 3],
    ],
  );
  assert.deepEqual(usageTotals(points), { requests: 45, bytesIn: 10, bytesOut: 25, peakStored: 300 });
  const change = storedChange(points);
  assert.deepEqual([change?.first.day, change?.last.day], ['2026-02-28', '2026-03-02']);
  assert.equal(storedChange(usageSeries({ ...report, days: [] }, from, 4)), null);
});

test('size axes tick on round numbers of the unit shown', () => {
  assert.deepEqual(byteTicks(7065).map(formatBytes), ['0 B', '2 KiB', '4 KiB', '6 KiB', '8 KiB']);
  assert.deepEqual(byteTicks(789).map(formatBytes), ['0 B', '200 B', '400 B', '600 B', '800 B']);
  assert.deepEqual(byteTicks(3.1 * 1024 ** 2).map(formatBytes), ['0 B', '1 MiB', '2 MiB', '3 MiB', '4 MiB']);
  assert.deepEqual(byteTicks(3), [0, 1, 2, 3]);
  assert.deepEqual(byteTicks(0), [0, 1]);
  for (const max of [1, 1000, 1023, 1024, 5e6, 7.7e9, 1e15]) {
    const ticks = byteTicks(max);
    assert.ok(ticks.length >= 2 && ticks.length <= 9, `${max}: ${ticks.length} ticks`);
    assert.ok(ticks[ticks.length - 1] >= max && ticks[ticks.length - 2] < max, `${max}: ${ticks}`);
  }
});

test('a wait reads in seconds under a minute, else in whole minutes rounded up', () => {
  assert.deepEqual([1, 45, 60, 61, 299, 300].map(formatWait), ['1 second', '45 seconds', '1 minute', '2 minutes', '5 minutes', '5 minutes']);
});
