import { createHmac } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import { checkSessionToken, checkState, signatureMismatch, signaturesEqual } from './credential-state.js';
import { percentDecode, queryDecode, uriEncode } from './uri-encode.js';
import type { Authenticated, SignedRequest, VerifyOptions } from './authenticate.js';
import { parseRequestDate } from '../net/http-date.js';

// Signature Version 2 (AWS's legacy HMAC-SHA1 scheme), in the Authorization header
// (`AWS AKID:signature`) and in query strings (AWSAccessKeyId, Signature, Expires): what boto3's
// default generate_presigned_url, AWS CLI v1's `s3 presign` and `s3cmd signurl` produce. It yields
// the same Authenticated principal as SigV4, so every token check is shared.

/**
 * Sub-resources that are part of the canonicalized resource: AWS's SigV2 documentation lists the
 * older ones, and signers (s3cmd, minio-go) add those of later APIs. botocore's HmacV1Auth keeps
 * to its own list (BOTOCORE_SUBRESOURCES), so a signature is also tried against that.
 */
const SIGNED_SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'delete', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold',
  'lifecycle', 'location', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'partNumber',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention', 'select',
  'select-type', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires',
]);

/** The sub-resources botocore's HmacV1Auth signs (its QSAOfInterest). */
const BOTOCORE_SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'inventory', 'lifecycle', 'location', 'logging',
  'metrics', 'notification', 'object-lock', 'partNumber', 'policy', 'replication', 'requestPayment', 'restore', 'select',
  'select-type', 'storageClass', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires',
]);

const MAX_SKEW_MS = 15 * 60 * 1000;

/** HMAC-SHA1 of the string to sign, base64: the SigV2 signature. */
export function signV2(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

/**
 * CanonicalizedResource: `/bucket` for a virtual-hosted request, the path as sent, then the signed
 * sub-resources sorted by name (values decoded, as the documentation says).
 */
export function canonicalResourceV2(path: string, rawQuery: string, hostBucket: string | null, signed: ReadonlySet<string> = SIGNED_SUBRESOURCES): string {
  const subs: [string, string | null][] = [];
  for (const part of rawQuery ? rawQuery.split('&') : []) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = queryDecode(eq < 0 ? part : part.slice(0, eq));
    if (!signed.has(name)) continue;
    subs.push([name, eq < 0 ? null : queryDecode(part.slice(eq + 1))]);
  }
  subs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const query = subs.map(([k, v]) => (v === null || v === '' ? k : `${k}=${v}`)).join('&');
  return `${hostBucket ? `/${hostBucket}` : ''}${path || '/'}${query ? `?${query}` : ''}`;
}

/** CanonicalizedAmzHeaders: x-amz-* names lower-cased and sorted, repeated values joined with ','. */
export function canonicalAmzHeaders(rawHeaders: readonly string[], except?: string): string {
  const values = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (!name.startsWith('x-amz-') || name === except) continue;
    const list = values.get(name) ?? [];
    list.push(rawHeaders[i + 1].trim().replace(/\s*\r?\n\s*/g, ' '));
    values.set(name, list);
  }
  return [...values.keys()].sort().map((name) => `${name}:${values.get(name)!.join(',')}\n`).join('');
}

export interface StringToSignV2Parts {
  method: string;
  contentMd5: string;
  contentType: string;
  /** The Date header, or the Expires parameter of a presigned URL ('' when x-amz-date is signed instead). */
  date: string;
  amzHeaders: string;
  resource: string;
}

export function stringToSignV2(p: StringToSignV2Parts): string {
  return `${p.method}\n${p.contentMd5}\n${p.contentType}\n${p.date}\n${p.amzHeaders}${p.resource}`;
}

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The path as sent, and (when different) as AWS's encoding would write it: clients differ. A
 * path-style path naming only a bucket is also tried with a trailing slash: botocore signs a
 * bucket's requests (list, ACL, delete) as "/bucket/" while it sends "/bucket".
 */
function pathVariants(rawPath: string, hostBucket: string | null): string[] {
  const encoded = uriEncode(percentDecode(rawPath), true);
  const variants = encoded === rawPath ? [rawPath] : [rawPath, encoded];
  if (hostBucket === null && rawPath.length > 1 && rawPath.indexOf('/', 1) < 0) variants.push(`${rawPath}/`);
  return variants;
}

async function verify(
  req: SignedRequest,
  opts: VerifyOptions,
  accessKeyId: string,
  provided: string,
  /** (Date line, CanonicalizedAmzHeaders) pairs to try: clients place x-amz-date differently. */
  variants: [string, string][],
  /** The session token the request carries (temporary credentials), if any. */
  sessionToken: string | undefined,
): Promise<Authenticated['principal']> {
  const resolved = await opts.lookup.lookup(accessKeyId);
  if (!resolved) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  let first = '';
  const hostBucket = req.hostBucket ?? null;
  const resources = pathVariants(req.rawPath, hostBucket).flatMap((path) => {
    const full = canonicalResourceV2(path, req.rawQuery, hostBucket);
    const botocore = canonicalResourceV2(path, req.rawQuery, hostBucket, BOTOCORE_SUBRESOURCES);
    return botocore === full ? [full] : [full, botocore];
  });
  for (const resource of resources) {
    for (const [date, amzHeaders] of variants) {
      const sts = stringToSignV2({
        method: req.method,
        contentMd5: header(req, 'content-md5') ?? '',
        contentType: header(req, 'content-type') ?? '',
        date,
        amzHeaders,
        resource,
      });
      if (!first) first = sts;
      for (const secret of resolved.secrets) {
        if (signaturesEqual(signV2(secret, sts), provided)) {
          checkSessionToken(resolved, sessionToken, accessKeyId);
          checkState(resolved, accessKeyId);
          return resolved.principal;
        }
      }
    }
  }
  throw signatureMismatch(accessKeyId, provided, first, '');
}

/** `Authorization: AWS AKID:signature`. */
export async function fromHeaderV2(req: SignedRequest, auth: string, opts: VerifyOptions): Promise<Authenticated> {
  const value = auth.slice('AWS '.length).trim();
  const colon = value.lastIndexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new S3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', { ArgumentName: 'Authorization', ArgumentValue: auth });
  }
  const accessKeyId = value.slice(0, colon);
  const provided = value.slice(colon + 1);
  const amzDate = header(req, 'x-amz-date');
  const dateText = amzDate ?? header(req, 'date');
  const date = dateText ? parseRequestDate(dateText) : undefined;
  if (!date) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(opts.now.getTime() - date.getTime()) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: dateText!,
      ServerTime: opts.now.toISOString(),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  }
  // x-amz-date takes precedence over Date. AWS's documentation shows it both ways: signed among the
  // amz headers with an empty Date line, and as the Date line itself; clients follow either.
  const dateHeader = header(req, 'date') ?? '';
  const amzHeaders = canonicalAmzHeaders(req.rawHeaders);
  const variants: [string, string][] = amzDate === undefined
    ? [[dateHeader, amzHeaders]]
    : [['', amzHeaders], [amzDate, canonicalAmzHeaders(req.rawHeaders, 'x-amz-date')], [dateHeader, amzHeaders]];
  const principal = await verify(req, opts, accessKeyId, provided, variants, header(req, 'x-amz-security-token'));
  return { principal, presigned: false, payload: { kind: 'unsigned' } };
}

/** Query-string authentication: AWSAccessKeyId, Signature and Expires (seconds since the epoch). */
export async function fromQueryV2(req: SignedRequest, params: ReadonlyMap<string, string>, opts: VerifyOptions): Promise<Authenticated> {
  const accessKeyId = params.get('AWSAccessKeyId');
  const expiresText = params.get('Expires');
  // A '+' sent unescaped reads as a space after form decoding; a base64 signature has no spaces.
  const provided = params.get('Signature')?.replace(/ /g, '+');
  if (!accessKeyId || !provided || expiresText === undefined) {
    throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  }
  if (!/^\d+$/.test(expiresText)) throw new S3Error('AccessDenied', 'Invalid date (should be seconds since epoch): ' + expiresText);
  const expiresAt = new Date(Number(expiresText) * 1000);
  if (opts.now.getTime() > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', { Expires: expiresAt.toISOString(), ServerTime: opts.now.toISOString() });
  }
  // x-amz-* parameters of a presigned URL (x-amz-copy-source, x-amz-meta-*, x-amz-security-token)
  // stand for headers the signer signed: botocore moves them into the query. They are the
  // request's headers from here on, and a header of the same name the client sends as well (the
  // SDKs do) is set aside, as S3 sets it aside: the URL says what the request is.
  const headersFromQuery: [string, string][] = [];
  for (const [name, value] of params) if (name.toLowerCase().startsWith('x-amz-')) headersFromQuery.push([name.toLowerCase(), value]);
  const rawHeaders = headersFromQuery.length > 0 ? replaceHeaders(req.rawHeaders, headersFromQuery) : req.rawHeaders;
  const sessionToken = params.get('x-amz-security-token') ?? params.get('X-Amz-Security-Token') ?? header(req, 'x-amz-security-token');
  const principal = await verify(req, opts, accessKeyId, provided, [[expiresText, canonicalAmzHeaders(rawHeaders)]], sessionToken);
  return { principal, presigned: true, payload: { kind: 'unsigned' }, expiresAt, ...(headersFromQuery.length > 0 && { headersFromQuery }) };
}

/**
 * A raw header list (name, value, name, value…) with `pairs` (lower-case names) in place of every
 * header of those names: how a SigV2 presigned URL's x-amz-* parameters stand for headers.
 */
export function replaceHeaders(rawHeaders: readonly string[], pairs: readonly [string, string][]): string[] {
  const names = new Set(pairs.map(([name]) => name));
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (!names.has(rawHeaders[i]!.toLowerCase())) out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  for (const [name, value] of pairs) out.push(name, value);
  return out;
}

/** A POST form's SigV2 policy signature: base64 HMAC-SHA1 of the base64 policy document. */
export function policySignatureV2(secret: string, policyBase64: string): string {
  return signV2(secret, policyBase64);
}
