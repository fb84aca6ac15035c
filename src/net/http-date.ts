import { parseIsoTimestamp } from '../util/iso-time.js';

// HTTP-dates (RFC 9110 section 5.6.7): the three forms a recipient must accept, all in GMT.
// JavaScript's Date parser is no substitute: it reads the zone-less asctime form in the server's
// local time zone and accepts strings that are no date at all ("12" is 1 December 2001), which
// would turn a condition the client never meant into a 304 or 412.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

/** Sun, 06 Nov 1994 08:49:37 GMT */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** Sunday, 06-Nov-94 08:49:37 GMT */
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** Sun Nov  6 08:49:37 1994 */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** The instant an HTTP-date names, or undefined when `value` is not one (a condition to ignore). */
export function parseHttpDate(value: string): Date | undefined {
  const text = value.trim();
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[3]), MONTHS.indexOf(m[2]!), Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = RFC_850.exec(text);
  if (m) {
    // A two-digit year more than 50 years ahead is in the past century (RFC 9110).
    const yy = Number(m[3]);
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    return utc(year, MONTHS.indexOf(m[2]!), Number(m[1]), m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(text);
  if (m) return utc(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!);
  return undefined;
}

/** ISO 8601 basic (20130524T000000Z): how SigV4 writes x-amz-date and X-Amz-Date. */
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/**
 * RFC 1123 as clients write it beyond the IMF-fixdate: a weekday or none, a one-digit day, any
 * case, and a zone of GMT, UTC (Go's time.RFC1123, rclone's SigV2), UT, Z or +hhmm (s3cmd).
 */
const RFC_1123_LOOSE = /^(?:[a-z]{3},\s*)?(\d{1,2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (gmt|utc|ut|z|[+-]\d{4})$/i;

/** The instant of an ISO 8601 basic timestamp, or undefined (no field may roll over). */
export function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  return m ? utc(Number(m[1]), Number(m[2]) - 1, Number(m[3]), m[4]!, m[5]!, m[6]!) : undefined;
}

/**
 * A request's Date or x-amz-date, for the clock-skew check (the signature covers the exact text):
 * ISO 8601 basic or extended with its zone, an HTTP-date, or RFC 1123 as clients loosely write
 * it. Never read in the server's own time zone, and never a string that only happens to parse
 * ("12").
 */
export function parseRequestDate(value: string): Date | undefined {
  const text = value.trim();
  const known = parseAmzDate(text) ?? parseHttpDate(text) ?? parseIsoTimestamp(text);
  if (known) return known;
  const m = RFC_1123_LOOSE.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]![0]!.toUpperCase() + m[2]!.slice(1).toLowerCase());
  const d = utc(Number(m[3]), month, Number(m[1]), m[4]!, m[5]!, m[6]!);
  const zone = m[7]!;
  const offsetMs = /^[+-]/.test(zone) ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000 : 0;
  return d && new Date(d.getTime() - offsetMs);
}

/** The instant the fields name (`month` from 0; -1 for a name that is no month), or undefined. */
function utc(year: number, month: number, day: number, h: string, min: string, s: string): Date | undefined {
  const d = new Date(Date.UTC(year, month, day, Number(h), Number(min), Number(s)));
  // Out-of-range fields (31 Feb, month 13, 25:00) would roll over into another instant, and Date.UTC
  // reads years below 100 as 19xx: not a date.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month || d.getUTCDate() !== day || d.getUTCHours() !== Number(h) || d.getUTCMinutes() !== Number(min) || d.getUTCSeconds() !== Number(s)) return undefined;
  return d;
}
