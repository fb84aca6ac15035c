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

test('concurrent checks of one key admit no more than the limit', async () => {
  const limiter = new RateLimiter(new MemoryLimiterState(), 'test', 3, 1000);
  const allowed = await Promise.all(Array.from({ length: 10 }, () => limiter.allow('a', 0)));
  assert.equal(allowed.filter(Boolean).length, 3);
});

test('limiters sharing one state keep their keys apart, and every event goes through the state', async () => {
  const calls: string[] = [];
  const memory = new MemoryLimiterState();
  // A state that records what the limiters ask of it: what a shared (database) state would see.
  const spy: LimiterState = {
    recent: (k, since) => (calls.push(`recent ${k}`), memory.recent(k, since)),
    add: (k, at, until) => (calls.push(`add ${k}`), memory.add(k, at, until)),
    addBelow: (k, max, since, at, until) => (calls.push(`addBelow ${k}`), memory.addBelow(k, max, since, at, until)),
    hasRoom: (k, now) => (calls.push(`hasRoom ${k}`), memory.hasRoom(k, now)),
    clear: (k) => (calls.push(`clear ${k}`), memory.clear(k)),
  };
  const signIn = new RateLimiter(spy, 'sign-in', 1, 1000);
  const audit = new RateLimiter(spy, 'audit', 1, 1000);
  assert.equal(await signIn.allow('x', 0), true);
  assert.equal(await audit.allow('x', 0), true, 'another limiter counts its own events');
  assert.equal(await signIn.allow('x', 1), false);
  await signIn.note('y', 2);
  assert.deepEqual(calls, ['addBelow sign-in|x', 'addBelow audit|x', 'addBelow sign-in|x', 'add sign-in|y']);
});

test('retryAfter waits for the oldest event that keeps the count at the limit', async () => {
  const limiter = new RateLimiter(new MemoryLimiterState(), 'test', 2, 1000);
  for (const t of [0, 100, 200]) await limiter.note('k', t);
  // Three events, limit two: the second one (t=100) must leave the window first.
  assert.equal(await limiter.retryAfter('k', 300), 800);
});

test('a full memory drops keys whose windows ended, never one that still counts', async () => {
  const state = new MemoryLimiterState(3);
  const signIn = new RateLimiter(state, 'sign-in', 2, 1000);
  await signIn.note('victim', 0);
  await signIn.note('victim', 10);
  assert.equal(await signIn.retryAfter('victim', 20), 980);
  // A flood of made-up keys: two fit, the rest find no room and are refused, not counted.
  const flood = [];
  for (let i = 0; i < 50; i++) flood.push(await signIn.allow(`made-up-${i}`, 30 + i));
  assert.deepEqual(flood.slice(0, 3), [true, true, false]);
  assert.ok(flood.slice(2).every((ok) => !ok));
  assert.equal(await signIn.retryAfter('victim', 100), 900, 'the victim key still counts');
  // A key with no room is not unlimited: it waits a window, even with no events of its own.
  await signIn.note('another', 100);
  assert.equal(await signIn.retryAfter('another', 100), 1000);
  // Once windows end, their keys make room.
  assert.equal(await signIn.allow('later', 1100), true);
  assert.equal(await signIn.retryAfter('later', 1100), 0);
});

test('a full memory looks for ended windows in limiters of every length', async () => {
  const state = new MemoryLimiterState(2);
  const long = new RateLimiter(state, 'long', 5, 60_000);
  const short = new RateLimiter(state, 'short', 5, 1000);
  await long.note('a', 0);
  await short.note('b', 0);
  assert.equal(await short.allow('c', 500), false, 'both still count');
  // The short window ended first: its key goes, the long one stays.
  assert.equal(await short.allow('c', 1500), true);
  assert.equal(await long.retryAfter('a', 1500, 1), 58_500);
});
