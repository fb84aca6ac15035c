import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { S3Error } from './errors.js';
import { header } from './context.js';
import type { HeaderValue } from './render.js';
import { keyMd5, type CustomerKey, type EncryptionRequest } from '../objects/sse.js';
import { RETENTION_MODES, type LockState } from '../objects/object-lock.js';
import type { ObjectRow, RetentionMode, StoredEncryption } from '../storage/metadata/metadata-store.js';
import type { ParsedOperationName } from './endpoint.js';
import { parseIsoTimestamp } from '../util/iso-time.js';
import { forwardedTls } from '../net/client-address.js';

// The request and response headers of data protection: server-side encryption (SSE-S3, SSE-C,
// SSE-KMS refused), Object Lock on writes, and what GET/HEAD report about a version. Parsed once
// here, so handlers get typed values.

const SSE = 'x-amz-server-side-encryption';
const SSE_C = 'x-amz-server-side-encryption-customer-';
const COPY_SSE_C = 'x-amz-copy-source-server-side-encryption-customer-';

function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** Reads one request header, or one field of a POST form, by its lower-case name. */
type HeaderReader = (name: string) => string | undefined;

function readerOf(req: IncomingMessage): HeaderReader {
  return (name) => header(req, name);
}

/**
 * Whether a key sent on this connection stays off the network in clear: skep's own TLS; else, from
 * a trusted proxy that says how the client reached it, that word (https, or a key that crossed the
 * network in clear); else a client on this machine.
 */
function keepsKeysSafe(req: IncomingMessage): boolean {
  return !!(req.socket as TLSSocket).encrypted || (forwardedTls(req) ?? isLoopback(req.socket.remoteAddress));
}

/**
 * An SSE-C key from the headers with `prefix` (request or copy source), checked as S3 checks it;
 * undefined when none is sent. Over plain HTTP a key would cross the network in clear, so it is
 * refused unless the client is on this machine (keepsKeysSafe).
 */
export function customerKeyFrom(req: IncomingMessage, prefix = SSE_C): CustomerKey | undefined {
  return readCustomerKey(readerOf(req), keepsKeysSafe(req), prefix);
}

function readCustomerKey(read: HeaderReader, safe: boolean, prefix: string): CustomerKey | undefined {
  const algorithm = read(`${prefix}algorithm`);
  const key = read(`${prefix}key`);
  const md5 = read(`${prefix}key-md5`);
  if (algorithm === undefined && key === undefined && md5 === undefined) return undefined;
  if (!safe) {
    throw new S3Error('InvalidRequest', 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.');
  }
  if (algorithm === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.', { ArgumentName: `${prefix}algorithm` });
  }
  if (algorithm !== 'AES256') throw new S3Error('InvalidEncryptionAlgorithmError', 'The encryption request you specified is not valid. Supported value: AES256.', { ArgumentName: `${prefix}algorithm`, ArgumentValue: algorithm });
  if (key === undefined || md5 === undefined) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide both the encryption key and the MD5 of the encryption key.', { ArgumentName: `${prefix}key` });
  }
  const bytes = Buffer.from(key, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== key.trim()) {
    throw new S3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.', { ArgumentName: `${prefix}key` });
  }
  if (keyMd5(bytes) !== md5.trim()) {
    throw new S3Error('InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.', { ArgumentName: `${prefix}key-md5` });
  }
  return { key: bytes, keyMd5: md5.trim() };
}

export function copySourceCustomerKey(req: IncomingMessage): CustomerKey | undefined {
  return customerKeyFrom(req, COPY_SSE_C);
}

/** SSE-KMS is answered clearly: skep has no key management service to hold its keys. */
function kmsNotImplemented(): S3Error {
  return new S3Error('NotImplemented', 'SSE-KMS (aws:kms) needs a key management service and none is configured on this skep server; use AES256 (SSE-S3) or SSE-C.');
}

/** Checks an SSEAlgorithm value (header or bucket configuration): AES256, else KMS refused, else invalid. */
export function sseAlgorithm(value: string, argument: string): 'AES256' {
  if (value === 'AES256') return value;
  if (value === 'aws:kms' || value === 'aws:kms:dsse') throw kmsNotImplemented();
  throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: argument, ArgumentValue: value });
}

/**
 * The encryption a write asks for; undefined: none asked (the bucket's default applies). A POST
 * form's fields (lower-case names) stand for the headers, read by the same rules.
 */
export function encryptionRequest(req: IncomingMessage, form?: ReadonlyMap<string, string>): EncryptionRequest | undefined {
  return readEncryptionRequest(form ? (name) => form.get(name) : readerOf(req), keepsKeysSafe(req));
}

function readEncryptionRequest(read: HeaderReader, safe: boolean): EncryptionRequest | undefined {
  const sse = read(SSE);
  const customer = readCustomerKey(read, safe, SSE_C);
  // A KMS key or context belongs with aws:kms (refused below as not implemented); with any other algorithm it is a bad request.
  const kmsOnly = [`${SSE}-aws-kms-key-id`, `${SSE}-context`].find((name) => read(name) !== undefined);
  if (kmsOnly && !sse?.trim().startsWith('aws:kms')) {
    throw new S3Error('InvalidArgument', `Server Side Encryption with AWS KMS managed key requires HTTP header ${SSE} : aws:kms`, { ArgumentName: kmsOnly });
  }
  if (sse !== undefined && customer) {
    throw new S3Error('InvalidArgument', 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', { ArgumentName: SSE });
  }
  if (sse !== undefined) {
    sseAlgorithm(sse.trim(), SSE);
    return { kind: 'SSE-S3' };
  }
  return customer ? { kind: 'SSE-C', customer } : undefined;
}

/** The headers that tell a client how an object is encrypted (PUT, GET, HEAD, copy, multipart). */
export function encryptionHeaders(encryption: StoredEncryption | null | undefined, customer?: CustomerKey): Record<string, HeaderValue> {
  if (!encryption) return {};
  if (encryption.kind === 'SSE-S3') return { [SSE]: 'AES256' };
  return { [`${SSE_C}algorithm`]: 'AES256', [`${SSE_C}key-MD5`]: customer?.keyMd5 };
}

function parseMode(value: string, argument: string): RetentionMode {
  if (!(RETENTION_MODES as readonly string[]).includes(value)) throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', { ArgumentName: argument, ArgumentValue: value });
  return value as RetentionMode;
}

/** Object Lock headers of a write; undefined when it sends none. */
export function lockRequest(req: IncomingMessage): Partial<LockState> | undefined {
  const mode = header(req, 'x-amz-object-lock-mode');
  const until = header(req, 'x-amz-object-lock-retain-until-date');
  const hold = header(req, 'x-amz-object-lock-legal-hold');
  if (mode === undefined && until === undefined && hold === undefined) return undefined;
  const out: Partial<LockState> = {};
  if ((mode === undefined) !== (until === undefined)) {
    throw new S3Error('InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied', { ArgumentName: mode === undefined ? 'x-amz-object-lock-mode' : 'x-amz-object-lock-retain-until-date' });
  }
  if (mode !== undefined && until !== undefined) {
    const date = parseIsoTimestamp(until);
    if (!date) throw new S3Error('InvalidArgument', 'The retain until date must be an ISO 8601 date.', { ArgumentName: 'x-amz-object-lock-retain-until-date', ArgumentValue: until });
    out.retention = { mode: parseMode(mode, 'x-amz-object-lock-mode'), until: date };
  }
  if (hold !== undefined) {
    if (hold !== 'ON' && hold !== 'OFF') throw new S3Error('InvalidArgument', 'Legal Hold must be either of \'ON\' or \'OFF\'', { ArgumentName: 'x-amz-object-lock-legal-hold', ArgumentValue: hold });
    out.legalHold = hold === 'ON';
  }
  return out;
}

/** x-amz-bypass-governance-retention: true. */
export function bypassRequested(req: IncomingMessage): boolean {
  return header(req, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() === 'true';
}

/** The x-amz-version-id a read answers: in a bucket that keeps versions, or for a version that has an ID; else none. */
export function readVersionId(row: ObjectRow, versioned: boolean): string | undefined {
  return versioned || (row.versionId !== undefined && row.versionId !== 'null') ? (row.versionId ?? 'null') : undefined;
}

/** Whether the caller may read a version's retention (GetObjectRetention) or legal hold (GetObjectLegalHold). */
export type LockReadable = (op: 'GetObjectRetention' | 'GetObjectLegalHold') => boolean;

/**
 * What GET and HEAD report about a version besides its content headers. S3 reports its retention
 * and legal hold only to a caller who may read them; asked only of a version that has them.
 */
export function versionHeaders(row: ObjectRow, versioned: boolean, mayRead: LockReadable, customer?: CustomerKey): Record<string, HeaderValue> {
  const h: Record<string, HeaderValue> = encryptionHeaders(row.encryption, customer);
  const versionId = readVersionId(row, versioned);
  if (versionId !== undefined) h['x-amz-version-id'] = versionId;
  if (row.retention && mayRead('GetObjectRetention')) {
    h['x-amz-object-lock-mode'] = row.retention.mode;
    h['x-amz-object-lock-retain-until-date'] = row.retention.until.toISOString();
  }
  // Once a legal hold was ever placed, ON or OFF; never placed, no header (as S3).
  if (typeof row.legalHold === 'boolean' && mayRead('GetObjectLegalHold')) h['x-amz-object-lock-legal-hold'] = row.legalHold ? 'ON' : 'OFF';
  return h;
}

/** The operations that choose a new object's encryption; S3 refuses the SSE headers on any other. */
const ENCRYPTING_OPERATIONS: ReadonlySet<ParsedOperationName> = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload']);
const SSE_REQUEST_HEADERS = [SSE, `${SSE}-aws-kms-key-id`, `${SSE}-context`] as const;

/** 400 for x-amz-server-side-encryption (or its KMS companions) on a read, a part or any other operation, as S3 answers. */
export function refuseMisplacedEncryptionHeaders(req: IncomingMessage, op: ParsedOperationName): void {
  if (ENCRYPTING_OPERATIONS.has(op)) return;
  const sent = SSE_REQUEST_HEADERS.find((name) => req.headers[name] !== undefined);
  if (sent) throw new S3Error('InvalidArgument', `${sent} header is not supported for this operation.`, { ArgumentName: sent });
}
