import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStore } from '../storage/metadata/sqlite-store.js';
import { RateLimiter } from './rate-limiter.js';
import { StoreLimiterState } from './store-limiter-state.js';

// Limits kept in the metadata store are one limit for every node: two limiters (two nodes) on
// one store count the same events. (The store's own queries are in the metadata contract, which
// runs on SQLite and PostgreSQL.)

test('two nodes share one limit through the store', async () => {
  const meta = await openSqliteStore(':memory:');
  try {
    const nodeA = new RateLimiter(new StoreLimiterState(meta), 'sign-in', 3, 1000);
    const nodeB = new RateLimiter(new StoreLimiterState(meta), 'sign-in', 3, 1000);
    await nodeA.note('ada|198.51.100.7', 0);
    await nodeB.note('ada|198.51.100.7', 10);
    assert.equal(await nodeA.allow('ada|198.51.100.7', 20), true, 'the third attempt, on either node');
    assert.equal(await nodeB.allow('ada|198.51.100.7', 30), false, 'a fourth is refused on the other node');
    assert.equal(await nodeA.retryAfter('ada|198.51.100.7', 30), 970);
    assert.equal(await nodeB.allow('other|198.51.100.7', 30), true);
    await nodeB.clear('ada|198.51.100.7');
    assert.equal(await nodeA.retryAfter('ada|198.51.100.7', 40), 0, 'cleared for both');
  } finally {
    await meta.close();
  }
});

test('events older than a day are pruned as new ones come in', async () => {
  const meta = await openSqliteStore(':memory:');
  try {
    const state = new StoreLimiterState(meta);
    await state.add('k', 0);
    const now = 2 * 24 * 60 * 60 * 1000;
    await state.add('k', now);
    assert.deepEqual(await meta.limiterEvents('k', 0), [now]);
  } finally {
    await meta.close();
  }
});
