import type { KeyObject } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import type { CredentialLookup, Principal } from '../auth/principal.js';
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
import { queryDecode } from './uri-encode.js';
import { checkSessionToken, checkState, signatureMismatch, signaturesEqual } from './credential-state.js';
import { parseAmzDate, parseRequestDate } from '../net/http-date.js';
import { fromHeaderV2, fromQueryV2 } from './sigv2.js';

export { signaturesEqual };

// Verifies SigV4 in the Authorization header or in presigned query parameters, and tells the
// body reader how the payload is protected. The signature is checked here; the payload (hash,
// chunk signatures, trailer) is checked while the body streams (see payload.ts).

export interface SignedRequest {
  method: string;
  /** Path as received, still percent-encoded, without the query. */
  rawPath: string;
  /** Query string as received, without '?'. */
  rawQuery: string;
  /** Node's rawHeaders: [name, value, name, value, ...]. */
  rawHeaders: readonly string[];
  /** Node's parsed headers (lower-case names). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The bucket a virtual-hosted Host header names (SigV2 signs it as part of the resource). */
  hostBucket?: string | null;
}

export interface VerifyOptions {
  /** Regions a signature may name (the configured one, 'auto', 'us-east-1'). */
  regions: readonly string[];
  now: Date;
  lookup: CredentialLookup;
  /** Accept Signature Version 2 (default true; `--no-sigv2` turns it off). */
  sigv2?: boolean;
  /** The service the credential scope must name: 's3' (the default), or 'sts' for STS actions. */
  service?: string;
  /**
   * The SHA-256 (hex) of a body the caller has read already (an STS form): signed as the payload
   * hash when the request sends no x-amz-content-sha256, as STS clients do not.
   */
  payloadHash?: string;
}

/** What a streaming (aws-chunked) body needs to check its chunk and trailer signatures. */
export interface ChunkSigning {
  key: KeyObject;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export type PayloadMode =
  /** UNSIGNED-PAYLOAD (or a presigned URL): bytes are taken as they come. */
  | { kind: 'unsigned' }
  /** The hex SHA-256 named in x-amz-content-sha256; checked when the body ends. */
  | { kind: 'sha256'; hex: string }
  /** aws-chunked framing; signed chunks carry `signing`; a trailer may follow. */
  | { kind: 'streaming'; signing: ChunkSigning | null; trailer: boolean };

export interface Authenticated {
  principal: Principal;
  presigned: boolean;
  payload: PayloadMode;
  /** Presigned URLs: when the URL stops working. */
  expiresAt?: Date;
  /**
   * A presigned URL's x-amz-* parameters (lower-case names, decoded values): headers its signer
   * signed and moved into the query, which the request is to be served with.
   */
  headersFromQuery?: [string, string][];
}

const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 604800;

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function queryParams(rawQuery: string): Map<string, string> {
  const map = new Map<string, string>();
  if (!rawQuery) return map;
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = queryDecode(eq < 0 ? part : part.slice(0, eq));
    if (!map.has(name)) map.set(name, eq < 0 ? '' : queryDecode(part.slice(eq + 1)));
  }
  return map;
}

interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

function parseCredential(value: string, malformed: (msg: string) => S3Error, opts: VerifyOptions): Credential {
  const parts = value.split('/');
  if (parts.length !== 5 || !parts[0] || parts[4] !== 'aws4_request') {
    throw malformed(`The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  const [accessKeyId, date, region, service] = parts;
  if (!/^\d{8}$/.test(date)) throw malformed(`The authorization header is malformed; incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  const expected = opts.service ?? 's3';
  if (service !== expected) throw malformed(`The authorization header is malformed; incorrect service "${service}". This endpoint belongs to "${expected}".`);
  if (!opts.regions.includes(region)) {
    const expected = opts.regions[0];
    const err = malformed(`The authorization header is malformed; the region '${region}' is wrong; expecting '${expected}'`);
    err.extra.Region = expected;
    throw err;
  }
  return { accessKeyId, date, region, service };
}

const SUPPORTED_PAYLOADS = new Set([
  'UNSIGNED-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
]);

function payloadHashOf(req: SignedRequest): string {
  const value = header(req, 'x-amz-content-sha256');
  if (value === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (/^[0-9a-f]{64}$/.test(value) || SUPPORTED_PAYLOADS.has(value)) return value;
  if (value.startsWith('STREAMING-AWS4-ECDSA')) {
    throw new S3Error('NotImplemented', 'SigV4a (ECDSA) streaming signatures are not supported.');
  }
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-*, or a valid sha256 value.', {
    ArgumentName: 'x-amz-content-sha256',
    ArgumentValue: value,
  });
}

/**
 * Tries each valid secret of the credential; returns the signing key that produced `provided`.
 * Canonical URI: first the normalised form, then the path exactly as sent (some clients sign it
 * without re-encoding).
 */
function verifySignature(
  secrets: string[],
  cred: Credential,
  amzDate: string,
  provided: string,
  canonicalVariants: string[],
): { key: KeyObject } | { key: null; stringToSign: string; canonicalRequest: string } {
  const scope = credentialScope(cred.date, cred.region, cred.service);
  let firstSts = '';
  for (const secret of secrets) {
    const key = signingKey(secret, cred.date, cred.region, cred.service);
    for (const creq of canonicalVariants) {
      const sts = stringToSign(amzDate, scope, creq);
      if (!firstSts) firstSts = sts;
      if (signaturesEqual(signature(key, sts), provided)) return { key };
    }
  }
  return { key: null, stringToSign: firstSts, canonicalRequest: canonicalVariants[0] };
}

function canonicalVariants(req: SignedRequest, query: string, headersText: string, signedHeaders: string, payloadHash: string): string[] {
  const normalized = canonicalUri(req.rawPath);
  const variants = [canonicalRequest({ method: req.method, canonicalUri: normalized, canonicalQuery: query, canonicalHeaders: headersText, signedHeaders, payloadHash })];
  if (req.rawPath !== normalized && req.rawPath) {
    variants.push(canonicalRequest({ method: req.method, canonicalUri: req.rawPath, canonicalQuery: query, canonicalHeaders: headersText, signedHeaders, payloadHash }));
  }
  return variants;
}

function parseSignedHeaders(value: string, malformed: (m: string) => S3Error): string[] {
  const names = value.split(';');
  if (names.some((n) => !n || n !== n.toLowerCase())) throw malformed('The authorization header is malformed; SignedHeaders is invalid.');
  if (!names.includes('host')) throw malformed('The authorization header is malformed; SignedHeaders must include host.');
  return names;
}

async function fromHeader(req: SignedRequest, auth: string, opts: VerifyOptions): Promise<Authenticated> {
  const malformed = (msg: string) => new S3Error('AuthorizationHeaderMalformed', msg);
  const rest = auth.slice(ALGORITHM.length).trim();
  const fields = new Map<string, string>();
  for (const piece of rest.split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) fields.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  const credValue = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const provided = fields.get('Signature');
  if (!credValue || !signed || !provided) {
    throw malformed('The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.');
  }
  const cred = parseCredential(credValue, malformed, opts);
  const signedHeaders = parseSignedHeaders(signed, malformed);

  const amzDateText = header(req, 'x-amz-date') ?? header(req, 'date');
  const date = amzDateText === undefined ? undefined : parseRequestDate(amzDateText);
  if (!date || !amzDateText) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(opts.now.getTime() - date.getTime()) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: amzDateText,
      ServerTime: opts.now.toISOString(),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  }
  const amzDate = header(req, 'x-amz-date') ?? toAmzDate(date);
  if (amzDate.slice(0, 8) !== cred.date) {
    throw malformed(`The authorization header is malformed; Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }
  const payloadHash = opts.payloadHash !== undefined && header(req, 'x-amz-content-sha256') === undefined ? opts.payloadHash : payloadHashOf(req);

  const resolved = await opts.lookup.lookup(cred.accessKeyId);
  if (!resolved) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: cred.accessKeyId });

  const variants = canonicalVariants(req, canonicalQuery(req.rawQuery), canonicalHeaders(req.rawHeaders, signedHeaders), signed, payloadHash);
  const result = verifySignature(resolved.secrets, cred, amzDate, provided, variants);
  if (!result.key) throw signatureMismatch(cred.accessKeyId, provided, result.stringToSign, result.canonicalRequest);
  checkSessionToken(resolved, header(req, 'x-amz-security-token'), cred.accessKeyId);
  checkState(resolved, cred.accessKeyId);
  requireAmzHeadersSigned(req.rawHeaders, signedHeaders);

  const scope = credentialScope(cred.date, cred.region, cred.service);
  let payload: PayloadMode;
  if (payloadHash === 'UNSIGNED-PAYLOAD') payload = { kind: 'unsigned' };
  else if (payloadHash.startsWith('STREAMING-')) {
    const signedChunks = payloadHash.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    payload = {
      kind: 'streaming',
      trailer: payloadHash.endsWith('-TRAILER'),
      signing: signedChunks ? { key: result.key, amzDate, scope, seedSignature: provided } : null,
    };
  } else payload = { kind: 'sha256', hex: payloadHash };
  return { principal: resolved.principal, presigned: false, payload };
}

/**
 * Every x-amz-* header of a SigV4 request must be signed (x-amz-content-sha256 excepted, as S3
 * excepts it): they change what a request does (x-amz-copy-source turns a PUT into a copy,
 * x-amz-bypass-governance-retention lifts a lock, SSE-C headers re-key an object), so a header
 * added to a presigned URL, or beside a signed request, would act with the signer's authority.
 */
function requireAmzHeadersSigned(rawHeaders: readonly string[], signedHeaders: readonly string[]): void {
  let unsigned: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !signedHeaders.includes(name)) (unsigned ??= []).push(name);
  }
  if (unsigned) throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
}

function toAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

async function fromQuery(req: SignedRequest, params: Map<string, string>, opts: VerifyOptions): Promise<Authenticated> {
  const malformed = (msg: string) => new S3Error('AuthorizationQueryParametersError', msg);
  if (params.get('X-Amz-Algorithm') !== ALGORITHM) {
    throw malformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const credValue = params.get('X-Amz-Credential');
  const amzDate = params.get('X-Amz-Date');
  const expiresText = params.get('X-Amz-Expires');
  const signed = params.get('X-Amz-SignedHeaders');
  const provided = params.get('X-Amz-Signature');
  if (!credValue || !amzDate || !expiresText || !signed || !provided) {
    throw malformed('Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  const cred = parseCredential(credValue, (m) => malformed(m.replace('The authorization header is malformed; ', 'Error parsing the X-Amz-Credential parameter; ')), opts);
  const signedHeaders = parseSignedHeaders(signed, malformed);
  const date = parseAmzDate(amzDate);
  if (!date) throw malformed('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (amzDate.slice(0, 8) !== cred.date) throw malformed(`Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  if (!/^-?\d+$/.test(expiresText)) throw malformed('X-Amz-Expires should be a number');
  const expires = Number(expiresText);
  // Out of range is a malformed URL, in S3's words (AuthorizationQueryParametersError, 400).
  if (expires < 0) throw malformed('X-Amz-Expires must be non-negative');
  if (expires === 0) throw new S3Error('AccessDenied', 'Request has expired');
  if (expires > MAX_PRESIGN_SECONDS) throw malformed(`X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGN_SECONDS} seconds`);
  const now = opts.now.getTime();
  if (date.getTime() - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  const expiresAt = new Date(date.getTime() + expires * 1000);
  if (now > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': expiresText, Expires: expiresAt.toISOString(), ServerTime: opts.now.toISOString() });
  }

  const resolved = await opts.lookup.lookup(cred.accessKeyId);
  if (!resolved) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: cred.accessKeyId });

  // A presigned URL's payload is unsigned unless the signer pinned a hash.
  const payloadHash = params.get('X-Amz-Content-Sha256') ?? header(req, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD';
  const hashForCanonical = params.has('X-Amz-Content-Sha256') || signedHeaders.includes('x-amz-content-sha256') ? payloadHash : 'UNSIGNED-PAYLOAD';
  const variants = canonicalVariants(
    req,
    canonicalQuery(req.rawQuery, 'X-Amz-Signature'),
    canonicalHeaders(req.rawHeaders, signedHeaders),
    signed,
    hashForCanonical,
  );
  const result = verifySignature(resolved.secrets, cred, amzDate, provided, variants);
  if (!result.key) throw signatureMismatch(cred.accessKeyId, provided, result.stringToSign, result.canonicalRequest);
  checkSessionToken(resolved, params.get('X-Amz-Security-Token') ?? header(req, 'x-amz-security-token'), cred.accessKeyId);
  checkState(resolved, cred.accessKeyId);
  requireAmzHeadersSigned(req.rawHeaders, signedHeaders);
  const headersFromQuery = hoistedHeaders(params);
  return { principal: resolved.principal, presigned: true, payload: presignedPayload(payloadHash, hashForCanonical), expiresAt, ...(headersFromQuery.length > 0 && { headersFromQuery }) };
}

/** The query parameters of SigV4 query authentication itself, and those that frame a body (read from the URL already, or not at all). */
const NOT_HOISTED = /^x-amz-(algorithm|credential|date|expires|signedheaders|signature|security-token|content-sha256|decoded-content-length|trailer|checksum-(crc32|crc32c|crc64nvme|sha1|sha256)|sdk-checksum-algorithm)$/;

/**
 * The x-amz-* headers a SigV4 presigned URL carries in its query: the AWS SDK for JavaScript
 * moves x-amz-meta-*, x-amz-tagging, x-amz-acl, x-amz-storage-class... there, and S3 serves the
 * request with them. They are signed (the canonical query holds every parameter), so they act as
 * signed headers; without them a presigned PUT dropped its metadata and tags. Checksum values are
 * not taken (x-amz-checksum-mode and -algorithm are): S3 says presigned URLs do not support them,
 * and the SDK fills one in computed over an empty body.
 */
function hoistedHeaders(params: Map<string, string>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of params) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && !NOT_HOISTED.test(lower)) out.push([lower, value]);
  }
  return out;
}

/**
 * How a presigned request's body comes: `declared` is the x-amz-content-sha256 it names, `signed`
 * what its signature covers. STREAMING-UNSIGNED-PAYLOAD-TRAILER is aws-chunked framing to decode,
 * not object bytes; the signed STREAMING-* bodies chain from an Authorization header's signature,
 * which a presigned request has not.
 */
function presignedPayload(declared: string, signed: string): PayloadMode {
  if (declared === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') return { kind: 'streaming', signing: null, trailer: true };
  if (declared.startsWith('STREAMING-')) {
    throw new S3Error('InvalidArgument', `x-amz-content-sha256 ${declared} needs a seed signature from an Authorization header; a presigned request may send UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a sha256 value.`, {
      ArgumentName: 'x-amz-content-sha256',
      ArgumentValue: declared,
    });
  }
  return /^[0-9a-f]{64}$/.test(signed) ? { kind: 'sha256', hex: signed } : { kind: 'unsigned' };
}

/** Whether the query carries a presigned URL's signature (SigV4 or SigV2): checked by name only when the text could hold one. */
function hasQuerySignature(rawQuery: string): boolean {
  if (!rawQuery.includes('X-Amz-') && !rawQuery.includes('Signature') && !rawQuery.includes('AWSAccessKeyId')) return false;
  const params = queryParams(rawQuery);
  return params.has('X-Amz-Signature') || params.has('X-Amz-Credential') || params.has('Signature') || params.has('AWSAccessKeyId');
}

/**
 * Authenticates a request. Returns null for an anonymous request (no signature at all);
 * throws an S3Error for anything malformed, unknown, expired or mis-signed.
 */
export async function authenticate(req: SignedRequest, opts: VerifyOptions): Promise<Authenticated | null> {
  const sigv2 = opts.sigv2 !== false;
  const auth = header(req, 'authorization');
  if (auth !== undefined) {
    if (hasQuerySignature(req.rawQuery)) {
      throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', { ArgumentName: 'Authorization' });
    }
    if (auth.startsWith(`${ALGORITHM} `)) return fromHeader(req, auth, opts);
    if (auth.startsWith('AWS ')) {
      if (sigv2) return fromHeaderV2(req, auth, opts);
      throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    }
    throw new S3Error('AuthorizationHeaderMalformed', 'The authorization header is malformed; the authorization header requires AWS4-HMAC-SHA256.');
  }
  // Parameter names, not substrings: `?prefix=X-Amz-Signature` is an anonymous request.
  const params = queryParams(req.rawQuery);
  if (params.has('X-Amz-Signature') || params.has('X-Amz-Credential')) {
    return fromQuery(req, params, opts);
  }
  if (params.has('AWSAccessKeyId') || params.has('Signature')) {
    if (sigv2) return fromQueryV2(req, params, opts);
    throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  return null;
}
