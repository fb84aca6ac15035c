import { S3Error } from './errors.js';
import type { ByteRange } from '../storage/blob/blob-store.js';

// HTTP Range for GET: one range of bytes (first-last, first-, or -suffix). S3 ignores
// multiple ranges and malformed values (serving the whole object), and answers 416 when the
// range starts beyond the end (or is bytes=-0).

export function parseRange(value: string | undefined, size: number): ByteRange | undefined {
  if (!value) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size, value);
    // S3 answers a tail read of an empty object with the whole (empty) object: 200, not 416.
    if (size === 0) return undefined;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw unsatisfiable(size, value);
  return { start, end };
}

function unsatisfiable(size: number, requested: string): S3Error {
  return new S3Error('InvalidRange', undefined, { ActualObjectSize: String(size), RangeRequested: requested }, { 'Content-Range': `bytes */${size}` });
}
