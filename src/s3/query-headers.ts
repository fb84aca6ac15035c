import type { IncomingMessage } from 'node:http';
import { replaceHeaders } from '../sigv4/sigv2.js';

/**
 * Serves a request with the headers its presigned URL carries in its query (botocore moves a
 * signed x-amz-copy-source or x-amz-meta-* there in SigV2; the JS SDK x-amz-meta-*, x-amz-tagging
 * and more in SigV4): each takes the place of any header of that name the client sent. Otherwise
 * a presigned CopyObject ran as an empty PutObject, and a presigned PUT lost its metadata.
 */
export function adoptHeadersFromQuery(req: IncomingMessage, pairs: readonly [string, string][]): void {
  // Node reads header values as Latin-1, one character per byte: a decoded query value becomes
  // its UTF-8 bytes read that way, as the same text sent in a header would be.
  const asHeaders = pairs.map(([name, value]): [string, string] => [name, Buffer.from(value, 'utf8').toString('latin1')]);
  for (const [name, value] of asHeaders) req.headers[name] = value;
  req.rawHeaders = replaceHeaders(req.rawHeaders, asHeaders);
}
