import { S3Error } from './errors.js';

// The opaque continuation tokens of ListObjectsV2 and ListBuckets: the last key (or bucket name)
// of a page, base64url, resumed after.

export function encodeContinuationToken(last: string): string {
  return Buffer.from(last, 'utf8').toString('base64url');
}

/** The name a token resumes after; one no page gave (an empty one included) is InvalidArgument, as on S3. */
export function decodeContinuationToken(token: string): string {
  const last = Buffer.from(token, 'base64url').toString('utf8');
  // Every token a page gives names a key or a bucket, so an empty one is none of ours.
  if (last === '' || encodeContinuationToken(last) !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
  }
  return last;
}
