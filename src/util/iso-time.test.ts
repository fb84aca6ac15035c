import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTimestamp } from './iso-time.js';

test('isoTimestamp writes what toISOString writes', () => {
  const samples = [0, 1, 999, 1000, 59_999, 86_399_999, 86_400_000, -1, -86_400_001, 1_767_225_600_000, 1_767_311_999_999, 253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_000, 8.64e15, -8.64e15];
  for (let i = 0; i < 5000; i++) samples.push(Math.floor((Math.random() - 0.3) * 4e12));
  for (const ms of samples) assert.equal(isoTimestamp(new Date(ms)), new Date(ms).toISOString(), String(ms));
});

test('isoTimestamp throws on an invalid date, as toISOString does', () => {
  assert.throws(() => isoTimestamp(new Date(NaN)), RangeError);
});
