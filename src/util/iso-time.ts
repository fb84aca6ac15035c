// Date.prototype.toISOString for many timestamps at once (a listing formats one per key, and
// toISOString was a tenth of a 1000-key page): the date part is formatted once per day, the time
// of day from lookup tables.

const DAY_MS = 86_400_000;
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

let cachedDay = NaN;
let cachedPrefix = '';

/** The same text as `new Date(ms).toISOString()` (e.g. 2026-01-02T03:04:05.006Z). */
export function isoTimestamp(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) return date.toISOString(); // throws RangeError, as toISOString does
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedPrefix = new Date(day * DAY_MS).toISOString().slice(0, -13); // 'YYYY-MM-DDT' (or '+YYYYYY-MM-DDT')
    cachedDay = day;
  }
  let t = ms - day * DAY_MS;
  const milli = t % 1000;
  t = (t - milli) / 1000;
  const sec = t % 60;
  t = (t - sec) / 60;
  const min = t % 60;
  const hour = (t - min) / 60;
  return `${cachedPrefix}${TWO[hour]}:${TWO[min]}:${TWO[sec]}.${THREE[milli]}Z`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
/**
 * An ISO 8601 date or date-time in the W3C profile IAM names (YYYY-MM, YYYY-MM-DD, hh:mm with or
 * without seconds and fraction), extended format, 4-digit year; the zone may be left out.
 */
const ISO_INSTANT = /^(\d{4})-(\d{2})(?:-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?)?$/;

/**
 * An RFC 3339 timestamp (2030-01-02T03:04:05Z, fractions and offsets allowed), or undefined.
 * Stricter than Date.parse on purpose: no local time, no bare year, no year beyond 9999 (which
 * clients could not read back).
 */
export function parseIsoTimestamp(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  return m ? instant(m) : undefined;
}

/**
 * An ISO 8601 date (2030-01-02: its midnight UTC) or date-time (ISO_INSTANT), where a time
 * without a zone is UTC; undefined for anything else. For the dates S3 and IAM take "in ISO 8601" (lifecycle
 * dates, a POST policy's expiration, policy date conditions): Date.parse would read a zone-less
 * time in the server's own zone, and take "12" for 1 December 2001.
 */
export function parseIsoInstant(text: string): Date | undefined {
  const m = ISO_INSTANT.exec(text.trim());
  return m ? instant(m) : undefined;
}

function instant(m: RegExpExecArray): Date | undefined {
  const dd = m[3] ?? '01';
  const [year, month, day] = [m[1], m[2], dd].map(Number) as [number, number, number];
  const [hour, minute, second] = [m[4] ?? '00', m[5] ?? '00', m[6] ?? '00'];
  const fields = new Date(Date.UTC(year, month - 1, day, Number(hour), Number(minute), Number(second)));
  // Date.UTC rolls 2030-02-30 over to March: a field that moved was out of range.
  if (fields.getUTCFullYear() !== year || fields.getUTCMonth() !== month - 1 || fields.getUTCDate() !== day || fields.getUTCHours() !== Number(hour) || fields.getUTCMinutes() !== Number(minute) || fields.getUTCSeconds() !== Number(second)) {
    return undefined;
  }
  const zone = (m[8] ?? 'Z').toUpperCase();
  const offset = zone === 'Z' || zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${m[1]}-${m[2]}-${dd}T${hour}:${minute}:${second}${(m[7] ?? '').slice(0, 4)}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
