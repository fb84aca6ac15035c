import type { IncomingMessage } from 'node:http';
import { replaceHeaders } from '../sigv4/sigv2.js';
import { S3Error } from './errors.js';
import { headerValueProblem } from '../net/header-text.js';

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
  // A query value can hold what no header can (a line break, NUL, DEL): refused as a header
  // holding it would be, not stored for every later response of the object to fail on.
  for (const [name, value] of asHeaders) {
    const problem = headerValueProblem(value);
    if (problem) throw new S3Error('InvalidArgument', problem, { ArgumentName: name, ArgumentValue: value });
  }
  for (const [name, value] of asHeaders) req.headers[name] = value;
  req.rawHeaders = replaceHeaders(req.rawHeaders, asHeaders);
}
