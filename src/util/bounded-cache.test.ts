import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCache } from './bounded-cache.js';

test('BoundedCache makes each value once, keeps at most its limit, and drops the oldest first', () => {
  const cache = new BoundedCache<string>(2);
  let made = 0;
  const get = (k: string) => cache.get(k, () => `${k}:${++made}`);
  assert.equal(get('a'), 'a:1');
  assert.equal(get('a'), 'a:1');
  assert.equal(get('b'), 'b:2');
  assert.equal(get('c'), 'c:3');
  assert.equal(cache.size, 2);
  assert.equal(get('b'), 'b:2', 'kept');
  assert.equal(get('a'), 'a:4', 'the oldest was dropped, so it is made again');
  assert.throws(() => cache.get('x', () => {
    throw new Error('no');
  }), /no/);
  assert.equal(get('x'), 'x:5', 'a failed make caches nothing');
});
