import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAmzDate, parseHttpDate, parseRequestDate } from './http-date.js';
import { inTimeZone } from '../../test/helpers/time-zone.js';

test('the three HTTP-date forms name the same instant, in GMT whatever the local time zone', () => {
  inTimeZone('America/New_York', () => {
    const instant = '1994-11-06T08:49:37.000Z';
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')?.toISOString(), instant);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')?.toISOString(), instant);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994')?.toISOString(), instant);
    assert.equal(parseHttpDate(' Sun, 06 Nov 1994 08:49:37 GMT ')?.toISOString(), instant, 'surrounding blanks');
  });
});

test('anything else is no date', () => {
  for (const text of ['12', '2000', '', 'yesterday', '1994-11-06T08:49:37Z', 'Sun, 06 Nov 1994 08:49:37 PST', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 25:49:37 GMT', 'Sun, 6 Nov 1994 08:49:37 GMT']) {
    assert.equal(parseHttpDate(text), undefined, text);
  }
});

test('a two-digit RFC 850 year more than 50 years ahead is in the past century', () => {
  const seventy = 2070 <= new Date().getUTCFullYear() + 50 ? 2070 : 1970;
  assert.equal(parseHttpDate('Thursday, 01-Jan-70 00:00:00 GMT')?.getUTCFullYear(), seventy);
  assert.equal(parseHttpDate('Friday, 01-Jan-99 00:00:00 GMT')?.getUTCFullYear(), 1999);
});

test('a request date is ISO 8601 basic, an HTTP-date, or RFC 1123 with a numeric zone; never local time, never a guess', () => {
  inTimeZone('Pacific/Kiritimati', () => {
    const instant = '2026-12-07T13:04:05.000Z';
    assert.equal(parseRequestDate('20261207T130405Z')?.toISOString(), instant);
    assert.equal(parseRequestDate('Mon, 07 Dec 2026 13:04:05 GMT')?.toISOString(), instant);
    assert.equal(parseRequestDate('Mon Dec  7 13:04:05 2026')?.toISOString(), instant, 'asctime is GMT');
    assert.equal(parseRequestDate('Mon, 07 Dec 2026 13:04:05 +0000')?.toISOString(), instant);
    assert.equal(parseRequestDate('Mon, 07 Dec 2026 15:04:05 +0200')?.toISOString(), instant);
    // As clients loosely write RFC 1123 (Go's time.RFC1123 says UTC: rclone's SigV2), and ISO 8601 extended.
    for (const text of ['Mon, 07 Dec 2026 13:04:05 UTC', 'Mon, 7 Dec 2026 13:04:05 GMT', 'mon, 07 dec 2026 13:04:05 gmt', 'Mon, 07 Dec 2026 13:04:05 UT', 'Mon, 07 Dec 2026 13:04:05 Z', '07 Dec 2026 13:04:05 GMT', '2026-12-07T13:04:05Z', '2026-12-07T13:04:05.000Z', 'Mon, 07 Dec 2026 08:04:05 -0500']) {
      assert.equal(parseRequestDate(text)?.toISOString(), instant, text);
    }
    for (const text of ['12', '2026-12-07T13:04:05', '20261207T256000Z', '20261307T130405Z', '20261200T130405Z', 'Mon, 07 Dec 2026 13:04:05', 'Mon, 07 Foo 2026 13:04:05 GMT', 'Mon, 31 Feb 2026 13:04:05 GMT', 'Mon, 07 Dec 2026 13:04:05 EST', '']) {
      assert.equal(parseRequestDate(text), undefined, text);
    }
    assert.equal(parseAmzDate('20240229T000000Z')?.toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(parseAmzDate('20230229T000000Z'), undefined, 'no 29 February in 2023');
    assert.equal(parseAmzDate('00500101T000000Z'), undefined, 'Date.UTC would read year 50 as 1950');
  });
});
