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
