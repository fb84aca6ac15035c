import { isUtf8 } from 'node:buffer';
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { queryDecode, uriEncode, percentDecode } from './uri-encode.js';
import { BoundedCache } from '../util/bounded-cache.js';

// Pure pieces of Signature Version 4, named after the steps in AWS's documentation.

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Canonical URI for S3: the path, decoded once and re-encoded per UriEncode (no double encoding). */
export function canonicalUri(rawPath: string): string {
  return uriEncode(percentDecode(rawPath), true) || '/';
}

/**
 * Canonical query string: every parameter (minus those excluded) decoded, UriEncoded, sorted by
 * name then value, joined as name=value with '&'.
 */
export function canonicalQuery(rawQuery: string, exclude?: string): string {
  if (!rawQuery) return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = queryDecode(eq < 0 ? part : part.slice(0, eq));
    if (name === exclude) continue;
    const value = eq < 0 ? '' : queryDecode(part.slice(eq + 1));
    pairs.push([uriEncode(name, false), uriEncode(value, false)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * Canonical headers from Node's rawHeaders (name/value pairs as received), for the signed names.
 * Repeated headers are joined with ',', values trimmed and inner whitespace runs collapsed.
 */
export function canonicalHeaders(rawHeaders: readonly string[], signedHeaders: readonly string[]): string {
  const values = new Map<string, string[]>();
  for (const name of signedHeaders) values.set(name, []);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const list = values.get(rawHeaders[i].toLowerCase());
    if (list) list.push(receivedText(rawHeaders[i + 1]).trim().replace(/\s+/g, ' '));
  }
  let out = '';
  for (const name of signedHeaders) out += `${name}:${values.get(name)!.join(',')}\n`;
  return out;
}

/**
 * Node gives header values as Latin-1 (one char per byte), but the canonical request is hashed as
 * UTF-8: bytes that form UTF-8 (what SDKs send and sign) are read as UTF-8 so the hash covers the
 * bytes received; anything else keeps its Latin-1 reading.
 */
function receivedText(value: string): string {
  if (!/[\x80-\xff]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : value;
}

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  canonicalHeaders: string;
  signedHeaders: string;
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalRequestParts): string {
  return [p.method, p.canonicalUri, p.canonicalQuery, p.canonicalHeaders, p.signedHeaders, p.payloadHash].join('\n');
}

export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequestText)}`;
}

/**
 * Derived keys by secret, day, region and service: a key is used by every request of its day.
 * Kept as KeyObjects: an HMAC keyed by a Buffer costs Node.js 24 a thrown and caught TypeError
 * (its check for a KeyObject), 12 us against 2.5, on every request and every signed chunk.
 */
const signingKeys = new BoundedCache<KeyObject>(1024);

export function signingKey(secret: string, date: string, region: string, service: string): KeyObject {
  return signingKeys.get(`${date}/${region}/${service}/${secret}`, () => {
    const kDate = hmac(`AWS4${secret}`, date);
    const kRegion = hmac(kDate, region);
    const kService = hmac(kRegion, service);
    return createSecretKey(hmac(kService, 'aws4_request'));
  });
}

export function signature(key: KeyObject, toSign: string): string {
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

/** String to sign of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function chunkStringToSign(amzDate: string, scope: string, previousSignature: string, chunkSha256Hex: string): string {
  return `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256Hex}`;
}

/** String to sign of the trailing headers (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER). */
export function trailerStringToSign(amzDate: string, scope: string, previousSignature: string, trailerSha256Hex: string): string {
  return `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previousSignature}\n${trailerSha256Hex}`;
}
