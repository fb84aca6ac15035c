import type { IncomingMessage } from 'node:http';

/**
 * Serves a request with the headers its SigV2 presigned URL carries in its query (botocore moves
 * a signed x-amz-copy-source or x-amz-meta-* there): each takes the place of any header of that
 * name the client sent. Otherwise a presigned CopyObject ran as an empty PutObject.
 */
export function adoptHeadersFromQuery(req: IncomingMessage, pairs: readonly [string, string][]): void {
  const names = new Set(pairs.map(([name]) => name));
  const raw: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (!names.has(req.rawHeaders[i]!.toLowerCase())) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  for (const [name, value] of pairs) {
    // Node reads header values as Latin-1, one character per byte: a decoded query value becomes
    // its UTF-8 bytes read that way, as the same text sent in a header would be.
    const asHeader = Buffer.from(value, 'utf8').toString('latin1');
    raw.push(name, asHeader);
    req.headers[name] = asHeader;
  }
  req.rawHeaders = raw;
}
