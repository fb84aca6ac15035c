import { S3Error } from './errors.js';
import { parseHttpDate } from '../net/http-date.js';
import { bareEtag } from '../util/etag.js';

// Conditional request headers, evaluated as S3 does (RFC 7232 precedence): If-Match beats
// If-Unmodified-Since, If-None-Match beats If-Modified-Since.

export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

/** Whether an If-Match / If-None-Match list (ETags, weak or strong, or *) names `etag`. */
export function etagMatches(list: string, etag: string): boolean {
  const bare = bareEtag(etag);
  return list.split(',').some((item) => {
    const t = item.trim().replace(/^W\//, '');
    return t === '*' || bareEtag(t) === bare;
  });
}

/** A date condition that is no HTTP-date is ignored, as HTTP and S3 ignore it. */
function parseDate(value: string | undefined): Date | undefined {
  return value ? parseHttpDate(value) : undefined;
}

/**
 * Throws PreconditionFailed (412) or NotModified (304) when the conditions fail for an object
 * with this ETag and Last-Modified. `copySource` switches to the x-amz-copy-source-if-* rules,
 * where every failure is 412.
 */
export function checkConditions(c: Conditions, etag: string, lastModified: Date, copySource = false): void {
  // HTTP dates have second precision.
  const modified = Math.floor(lastModified.getTime() / 1000) * 1000;
  const unmodifiedSince = parseDate(c.ifUnmodifiedSince);
  const modifiedSince = parseDate(c.ifModifiedSince);
  const headers = { ETag: etag, 'Last-Modified': new Date(modified).toUTCString() };
  if (c.ifMatch !== undefined) {
    if (!etagMatches(c.ifMatch, etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: copySource ? 'x-amz-copy-source-If-Match' : 'If-Match' });
  } else if (unmodifiedSince && modified > unmodifiedSince.getTime()) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: copySource ? 'x-amz-copy-source-If-Unmodified-Since' : 'If-Unmodified-Since' });
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagMatches(c.ifNoneMatch, etag)) {
      if (copySource) throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-None-Match' });
      throw new S3Error('NotModified', undefined, {}, headers);
    }
  } else if (modifiedSince && modified <= modifiedSince.getTime()) {
    if (copySource) throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-Modified-Since' });
    throw new S3Error('NotModified', undefined, {}, headers);
  }
}

/**
 * Whether a Range is served under If-Range (RFC 9110 13.1.5): only when the validator names the
 * object as it is now, a strong ETag or exactly its Last-Modified; otherwise the whole object is
 * sent, so a client resuming a download of an object replaced since never splices two of them.
 */
export function rangeApplies(ifRange: string | undefined, etag: string, lastModified: Date): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return bareEtag(value) === bareEtag(etag);
  if (value.startsWith('W/')) return false; // weak validators never match here
  const date = parseHttpDate(value);
  return !!date && date.getTime() === Math.floor(lastModified.getTime() / 1000) * 1000;
}
