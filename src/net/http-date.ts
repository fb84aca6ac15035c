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
  if (m) return utc(Number(m[3]), m[2], Number(m[1]), m[4], m[5], m[6]);
  m = RFC_850.exec(text);
  if (m) {
    // A two-digit year more than 50 years ahead is in the past century (RFC 9110).
    const yy = Number(m[3]);
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2], Number(m[1]), m[4], m[5], m[6]);
  }
  m = ASCTIME.exec(text);
  if (m) return utc(Number(m[6]), m[1], Number(m[2].trim()), m[3], m[4], m[5]);
  return undefined;
}

/** ISO 8601 basic (20130524T000000Z): how SigV4 writes x-amz-date and X-Amz-Date. */
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/** RFC 1123 with a numeric zone (Tue, 07 Dec 2026 13:00:00 +0000), as some SigV2 clients write Date. */
const RFC_1123_NUMERIC = new RegExp(`^${DAY}, (\\d{1,2}) ${MONTH} (\\d{4}) ${TIME} ([+-])(\\d{2})(\\d{2})$`);

/** The instant of an ISO 8601 basic timestamp, or undefined (no field may roll over). */
export function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const d = utc(Number(m[1]), MONTHS[Number(m[2]) - 1] ?? '', Number(m[3]), m[4]!, m[5]!, m[6]!);
  return d && d.getUTCFullYear() === Number(m[1]) ? d : undefined;
}

/**
 * A request's Date or x-amz-date, for the clock-skew check: ISO 8601 basic, an HTTP-date, or
 * RFC 1123 with a numeric zone. Never read in the server's own time zone, and never a string
 * that only happens to parse ("12").
 */
export function parseRequestDate(value: string): Date | undefined {
  const text = value.trim();
  const basic = parseAmzDate(text);
  if (basic) return basic;
  const http = parseHttpDate(text);
  if (http) return http;
  const m = RFC_1123_NUMERIC.exec(text);
  if (!m) return undefined;
  const d = utc(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  const offsetMs = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return d && new Date(d.getTime() - offsetMs);
}

function utc(year: number, month: string, day: number, h: string, min: string, s: string): Date | undefined {
  const d = new Date(Date.UTC(year, MONTHS.indexOf(month), day, Number(h), Number(min), Number(s)));
  // Out-of-range fields (31 Feb, 25:00) would roll over into another instant: not a date.
  if (d.getUTCDate() !== day || d.getUTCHours() !== Number(h) || d.getUTCMinutes() !== Number(min) || d.getUTCSeconds() !== Number(s)) return undefined;
  return d;
}
