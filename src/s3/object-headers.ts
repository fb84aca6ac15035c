import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.js';
import { header } from './context.js';
import type { ObjectRow, StoredHeaders } from '../storage/metadata/metadata-store.js';
import { checksumHeader } from '../checksums/types.js';
import type { HeaderValue } from './render.js';
import { queryDecode } from '../sigv4/uri-encode.js';
import { headerValueProblem, isHeaderName } from '../net/header-text.js';
import { validateTags } from '../objects/tags.js';

// Object headers in and out: what a PUT stores, what a GET/HEAD returns.

const STORED: (keyof StoredHeaders)[] = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires', 'x-amz-website-redirect-location'];
const REDIRECT = 'x-amz-website-redirect-location';
const MAX_REDIRECT_BYTES = 2048;
const MAX_USER_METADATA_BYTES = 2048;
export const STORAGE_CLASSES = ['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR', 'OUTPOSTS', 'EXPRESS_ONEZONE'];

export function storedHeadersFrom(req: IncomingMessage): StoredHeaders {
  const out: StoredHeaders = {};
  for (const name of STORED) {
    let value = header(req, name);
    // aws-chunked is transfer framing, not a property of the object.
    if (name === 'content-encoding' && value) {
      value = value.split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked').join(',') || undefined;
    }
    if (value !== undefined) out[name] = value;
  }
  checkRedirectLocation(out[REDIRECT]);
  return out;
}

/** S3's rule for x-amz-website-redirect-location: a path in the bucket or an absolute URL, of at most 2 KB. */
function checkRedirectLocation(value: string | undefined): void {
  if (value === undefined) return;
  if (!/^(\/|https?:\/\/)/.test(value)) throw new S3Error('InvalidRedirectLocation');
  if (Buffer.byteLength(value, 'latin1') > MAX_REDIRECT_BYTES) throw new S3Error('InvalidArgument', 'The website redirect location may be at most 2 KB.', { ArgumentName: REDIRECT });
}

/**
 * The stored headers a copy keeps under the COPY metadata directive: the source's, except its
 * website redirect location, which S3 does not copy; the request may give the copy one.
 */
export function copiedHeaders(source: StoredHeaders, req: IncomingMessage): StoredHeaders {
  const { [REDIRECT]: _sourceRedirect, ...kept } = source;
  const redirect = header(req, REDIRECT);
  checkRedirectLocation(redirect);
  return redirect === undefined ? kept : { ...kept, [REDIRECT]: redirect };
}

export function userMetadataFrom(req: IncomingMessage): Record<string, string> {
  // A Map, not an object literal: a name such as "constructor" or "__proto__" is a name like any other.
  const out = new Map<string, string>();
  let bytes = 0;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (!name.startsWith('x-amz-meta-')) continue;
    const key = name.slice('x-amz-meta-'.length);
    // A metadata entry with no name is dropped, as S3 drops it.
    if (key === '') continue;
    const value = req.rawHeaders[i + 1];
    const earlier = out.get(key);
    out.set(key, earlier === undefined ? value : `${earlier},${value}`);
    // The value is the header's bytes read as Latin-1: its length is their count (UTF-8 text included).
    bytes += key.length + value.length;
  }
  checkMetadataSize(bytes);
  return Object.fromEntries(out);
}

function checkMetadataSize(bytes: number): void {
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', undefined, { Size: String(bytes), MaxSizeAllowed: String(MAX_USER_METADATA_BYTES) });
  }
}

/**
 * Object headers and metadata that arrive as text instead of request headers (a POST form's
 * fields, lower-case names). Kept as the form's UTF-8 bytes, the way a PUT keeps a header's bytes,
 * so a GET sends back what the browser sent. A control character or a name that is not an HTTP
 * token could not be sent back at all (every GET and HEAD of the object would fail), so such a
 * field is refused here: InvalidArgument, naming it.
 */
export function headersFromFields(fields: ReadonlyMap<string, string>): { headers: StoredHeaders; userMetadata: Record<string, string> } {
  const asHeader = (name: string, value: string) => {
    const bytes = Buffer.from(value, 'utf8').toString('latin1');
    const problem = isHeaderName(name) ? headerValueProblem(bytes) : 'Header name is not a valid HTTP token.';
    if (problem) throw new S3Error('InvalidArgument', problem, { ArgumentName: name, ArgumentValue: value });
    return bytes;
  };
  const headers: StoredHeaders = {};
  for (const name of STORED) {
    const value = fields.get(name);
    if (value !== undefined) headers[name] = asHeader(name, value);
  }
  checkRedirectLocation(headers[REDIRECT]);
  const userMetadata = new Map<string, string>();
  let bytes = 0;
  for (const [name, value] of fields) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const key = name.slice('x-amz-meta-'.length);
    if (key === '') continue;
    const bytesOf = asHeader(name, value);
    userMetadata.set(key, bytesOf);
    bytes += key.length + bytesOf.length;
  }
  checkMetadataSize(bytes);
  return { headers, userMetadata: Object.fromEntries(userMetadata) };
}

export function storageClassFrom(req: IncomingMessage): string {
  const value = header(req, 'x-amz-storage-class') ?? 'STANDARD';
  if (!STORAGE_CLASSES.includes(value)) throw new S3Error('InvalidStorageClass', undefined, { StorageClassRequested: value });
  return value;
}

/** Tags from the x-amz-tagging header (URL query encoded). */
export function tagsFromHeader(req: IncomingMessage): Record<string, string> {
  const value = header(req, 'x-amz-tagging');
  if (!value) return {};
  const tags = new Map<string, string>();
  for (const part of value.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = queryDecode(eq < 0 ? part : part.slice(0, eq));
    if (tags.has(k)) throw new S3Error('InvalidArgument', "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.", { ArgumentName: 'x-amz-tagging' });
    tags.set(k, eq < 0 ? '' : queryDecode(part.slice(eq + 1)));
  }
  const record = Object.fromEntries(tags);
  validateTags(record);
  return record;
}

/** Response headers describing a stored object (GET and HEAD). */
export function objectResponseHeaders(row: ObjectRow, opts: { checksumMode: boolean }): Record<string, HeaderValue> {
  const h: Record<string, HeaderValue> = {
    ETag: row.etag,
    'Last-Modified': row.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
    'Content-Type': row.headers['content-type'] ?? 'binary/octet-stream',
  };
  for (const name of STORED) {
    if (name !== 'content-type' && row.headers[name] !== undefined) h[name] = row.headers[name];
  }
  for (const [k, v] of Object.entries(row.userMetadata)) h[`x-amz-meta-${k}`] = v;
  if (row.storageClass !== 'STANDARD') h['x-amz-storage-class'] = row.storageClass;
  const tagCount = Object.keys(row.tags).length;
  if (tagCount > 0) h['x-amz-tagging-count'] = tagCount;
  if (opts.checksumMode && row.checksum) {
    h[checksumHeader(row.checksum.algorithm)] = row.checksum.value;
    h['x-amz-checksum-type'] = row.checksum.type;
  }
  return h;
}

/** [query parameter, header] of each response-* override; read on every GET and HEAD, so built once. */
const OVERRIDES: readonly (readonly [string, string])[] = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];
const NO_OVERRIDES: readonly (readonly [string, string])[] = [];

/**
 * The response-* query overrides of a GET or HEAD, checked: refused for an anonymous request (an
 * unsigned link could otherwise serve a public object as text/html, as AWS also refuses), and each
 * value must be sendable as an ISO-8859-1 header value.
 */
export function responseOverrides(query: ReadonlyMap<string, string>, anonymous: boolean): readonly (readonly [name: string, value: string])[] {
  // Most reads have none: nothing is allocated for them.
  if (query.size === 0) return NO_OVERRIDES;
  let out: [string, string][] | undefined;
  for (const [param, name] of OVERRIDES) {
    const value = query.get(param);
    if (value === undefined) continue;
    if (anonymous) throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
    const problem = headerValueProblem(value);
    if (problem) throw new S3Error('InvalidArgument', problem, { ArgumentName: param, ArgumentValue: value });
    (out ??= []).push([name, value]);
  }
  return out ?? NO_OVERRIDES;
}

/** Replaces headers with the overrides (case-insensitively, so a stored value does not linger under another spelling). */
export function applyResponseOverrides(headers: Record<string, HeaderValue>, overrides: readonly (readonly [string, string])[]): void {
  for (const [name, value] of overrides) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
    headers[name] = value;
  }
}
