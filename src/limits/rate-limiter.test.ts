import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLimiterState, RateLimiter, type LimiterState } from './rate-limiter.js';

test('allows up to max events per key in the window, then again once they age out', async () => {
  const limiter = new RateLimiter(new MemoryLimiterState(), 'test', 3, 1000);
  const allowed = [];
  for (const t of [0, 10, 20, 30]) allowed.push(await limiter.allow('a', t));
  assert.deepEqual(allowed, [true, true, true, false]);
  assert.equal(await limiter.allow('b', 30), true, 'keys are independent');
  assert.equal(await limiter.retryAfter('a', 500), 500);
  assert.equal(await limiter.allow('a', 1000), true, 'the first event left the window');
  await limiter.clear('a');
  assert.equal(await limiter.retryAfter('a', 1001), 0);
});

test('limiters sharing one state keep their keys apart, and every event goes through the state', async () => {
  const calls: string[] = [];
  const memory = new MemoryLimiterState();
  // A state that records what the limiters ask of it: what a shared (database) state would see.
  const spy: LimiterState = {
    recent: (k, since) => (calls.push(`recent ${k}`), memory.recent(k, since)),
    add: (k, at) => (calls.push(`add ${k}`), memory.add(k, at)),
    clear: (k) => (calls.push(`clear ${k}`), memory.clear(k)),
  };
  const signIn = new RateLimiter(spy, 'sign-in', 1, 1000);
  const audit = new RateLimiter(spy, 'audit', 1, 1000);
  assert.equal(await signIn.allow('x', 0), true);
  assert.equal(await audit.allow('x', 0), true, 'another limiter counts its own events');
  assert.equal(await signIn.allow('x', 1), false);
  await signIn.note('y', 2);
  assert.deepEqual(calls, ['recent sign-in|x', 'add sign-in|x', 'recent audit|x', 'add audit|x', 'recent sign-in|x', 'add sign-in|y']);
});

test('retryAfter waits for the oldest event that keeps the count at the limit', async () => {
  const limiter = new RateLimiter(new MemoryLimiterState(), 'test', 2, 1000);
  for (const t of [0, 100, 200]) await limiter.note('k', t);
  // Three events, limit two: the second one (t=100) must leave the window first.
  assert.equal(await limiter.retryAfter('k', 300), 800);
});
