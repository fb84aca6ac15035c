import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEVEL_RIGHTS } from '../src/auth/authorize.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS } from '../src/auth/principal.js';
import { CAPABILITIES, PERMISSIONS } from '../console/src/permissions.js';
import { hrefOf, parseRoute, type Route } from '../console/src/router.js';
import { formatBytes, formatRelative } from '../console/src/format.js';

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
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(3 * 1024 * 1024), '3 MB');
  assert.equal(formatBytes(150 * 1024 ** 3), '150 GB');
  assert.equal(formatBytes(-1), '—');
  // Relative times follow the machine's locale; their wording is checked in English only.
  if (!new Intl.RelativeTimeFormat().resolvedOptions().locale.startsWith('en')) return;
  const now = Date.parse('2026-01-10T12:00:00Z');
  assert.equal(formatRelative('2026-01-10T11:59:50Z', now), 'just now');
  assert.equal(formatRelative('2026-01-10T09:00:00Z', now), '3 hours ago');
  assert.equal(formatRelative('2026-01-20T12:00:00Z', now), 'in 10 days');
  assert.equal(formatRelative(null, now), '—');
});
