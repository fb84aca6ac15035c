import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WindowLimiter } from './window-limiter.js';

test('allows up to max events per key in the window, then again once they age out', () => {
  const limiter = new WindowLimiter(3, 1000);
  assert.deepEqual([0, 10, 20, 30].map((t) => limiter.allow('a', t)), [true, true, true, false]);
  assert.equal(limiter.allow('b', 30), true, 'keys are independent');
  assert.equal(limiter.retryAfter('a', 500), 500);
  assert.equal(limiter.allow('a', 1000), true, 'the first event left the window');
  limiter.clear('a');
  assert.equal(limiter.retryAfter('a', 1001), 0);
});
