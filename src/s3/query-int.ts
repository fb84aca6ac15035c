import { S3Error } from './errors.js';

const INT_MAX = 2 ** 31 - 1;

/**
 * A non-negative integer query parameter (max-keys, max-parts, part-number-marker, ...): `fallback`
 * when absent or empty, at most `max`; anything else that is no integer S3 accepts (a sign, a
 * fraction, beyond its 32-bit range) is refused with S3's message for it.
 */
export function queryInt(query: ReadonlyMap<string, string>, name: string, fallback: number, max: number): number {
  const text = query.get(name);
  if (text === undefined || text === '') return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n <= INT_MAX)) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: text });
  return Math.min(n, max);
}
