import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTimestamp, parseIsoInstant, parseIsoTimestamp } from './iso-time.js';
import { inTimeZone } from '../../test/helpers/time-zone.js';

test('isoTimestamp writes what toISOString writes', () => {
  const samples = [0, 1, 999, 1000, 59_999, 86_399_999, 86_400_000, -1, -86_400_001, 1_767_225_600_000, 1_767_311_999_999, 253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_000, 8.64e15, -8.64e15];
  for (let i = 0; i < 5000; i++) samples.push(Math.floor((Math.random() - 0.3) * 4e12));
  for (const ms of samples) assert.equal(isoTimestamp(new Date(ms)), new Date(ms).toISOString(), String(ms));
});

test('isoTimestamp throws on an invalid date, as toISOString does', () => {
  assert.throws(() => isoTimestamp(new Date(NaN)), RangeError);
});

test('parseIsoTimestamp reads RFC 3339 timestamps and nothing looser', () => {
  const ok: [string, string][] = [
    ['2030-01-02T03:04:05Z', '2030-01-02T03:04:05.000Z'],
    ['2030-01-02T03:04:05.123Z', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05.123456789Z', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02t03:04:05z', '2030-01-02T03:04:05.000Z'],
    ['2030-01-02T03:04:05+02:00', '2030-01-02T01:04:05.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
  ];
  for (const [text, iso] of ok) assert.equal(parseIsoTimestamp(text)?.toISOString(), iso, text);
  const refused = ['2030', '2030-01-02', '2030-01-02T03:04:05', 'Tue, 01 Jan 2030 00:00:00 GMT', '+100000-01-01T00:00:00Z', '+010000-01-01T00:00:00.000Z', '2030-02-30T00:00:00Z', '2030-13-01T00:00:00Z', '2030-01-01T24:00:00Z', ' 2030-01-01T00:00:00Z', ''];
  for (const text of refused) assert.equal(parseIsoTimestamp(text), undefined, text);
});

test('parseIsoInstant reads ISO 8601 dates and date-times, a time without a zone as UTC, and nothing looser', () => {
  inTimeZone('Pacific/Kiritimati', () => {
    const ok: [string, string][] = [
      ['2030-01-02', '2030-01-02T00:00:00.000Z'],
      ['2030-01', '2030-01-01T00:00:00.000Z'],
      ['2030-01-02T03:04:05', '2030-01-02T03:04:05.000Z'],
      ['2030-01-02T03:04', '2030-01-02T03:04:00.000Z'],
      ['2030-01-02T03:04:05.5Z', '2030-01-02T03:04:05.500Z'],
      ['2030-01-02T03:04:05+0200', '2030-01-02T01:04:05.000Z'],
      ['2030-01-02T03:04:05-01:30', '2030-01-02T04:34:05.000Z'],
      [' 2030-01-02T00:00:00.000Z\n', '2030-01-02T00:00:00.000Z'],
    ];
    for (const [text, iso] of ok) assert.equal(parseIsoInstant(text)?.toISOString(), iso, text);
    const refused = ['12', '1', '2030', '2030/01/01', 'Jan 1 2030', '2030-1-1', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '2030-02-30', '2030-01-01T24:00:00Z', '2030-01-01 00:00:00Z', ''];
    for (const text of refused) assert.equal(parseIsoInstant(text), undefined, text);
  });
});
