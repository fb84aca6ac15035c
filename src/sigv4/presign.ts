import {
  ALGORITHM,
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  signature,
  signingKey,
  stringToSign,
} from './canonical.js';
import { uriEncode } from './uri-encode.js';

// Mints SigV4 presigned URLs (query-string authentication, UNSIGNED-PAYLOAD, only `host` signed)
// from the same pure functions the verifier in authenticate.ts uses.

export const MAX_PRESIGN_SECONDS = 604800;

export interface PresignInput {
  method: string;
  /** Absolute URL to sign; its path already percent-encoded, its query (if any) kept and signed. */
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Seconds the URL stays valid: 1 to 604800. */
  expiresIn: number;
  now: Date;
  service?: string;
}

export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Returns the URL with X-Amz-* parameters and the signature appended. */
export function presign(i: PresignInput): string {
  if (!Number.isInteger(i.expiresIn) || i.expiresIn < 1 || i.expiresIn > MAX_PRESIGN_SECONDS) {
    throw new RangeError(`expiresIn must be a whole number of seconds from 1 to ${MAX_PRESIGN_SECONDS}`);
  }
  const url = new URL(i.url);
  const service = i.service ?? 's3';
  const date = amzDate(i.now);
  const scope = credentialScope(date.slice(0, 8), i.region, service);
  const params: [string, string][] = [
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${i.accessKeyId}/${scope}`],
    ['X-Amz-Date', date],
    ['X-Amz-Expires', String(i.expiresIn)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  const existing = url.search.length > 1 ? url.search.slice(1) : '';
  const rawQuery = [existing, ...params.map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(v, false)}`)].filter(Boolean).join('&');
  const creq = canonicalRequest({
    method: i.method.toUpperCase(),
    canonicalUri: canonicalUri(url.pathname),
    canonicalQuery: canonicalQuery(rawQuery),
    canonicalHeaders: canonicalHeaders(['host', url.host], ['host']),
    signedHeaders: 'host',
    payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const key = signingKey(i.secretAccessKey, date.slice(0, 8), i.region, service);
  const sig = signature(key, stringToSign(date, scope, creq));
  return `${url.origin}${url.pathname}?${rawQuery}&X-Amz-Signature=${sig}`;
}

/** A path-style object URL under `endpoint` (an origin such as http://host:9000), presigned. */
export function presignObjectUrl(i: Omit<PresignInput, 'url'> & { endpoint: string; bucket: string; key: string }): string {
  const origin = i.endpoint.replace(/\/+$/, '');
  return presign({ ...i, url: `${origin}/${uriEncode(i.bucket, false)}/${uriEncode(i.key, true)}` });
}
