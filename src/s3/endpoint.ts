import { isUtf8 } from 'node:buffer';
import { S3Error } from './errors.js';
import { hasNul } from '../util/nul.js';
import { percentDecode, queryDecode } from '../sigv4/uri-encode.js';

// Turns method + host + path + query into a typed S3 operation. Pure: no I/O, no auth.

export const OPERATIONS = [
  'ListBuckets',
  'CreateBucket',
  'DeleteBucket',
  'HeadBucket',
  'GetBucketLocation',
  'GetBucketVersioning',
  'GetBucketAcl',
  'PutBucketAcl',
  'GetBucketCors',
  'PutBucketCors',
  'DeleteBucketCors',
  'GetBucketPolicy',
  'PutBucketPolicy',
  'DeleteBucketPolicy',
  'GetBucketPolicyStatus',
  'GetPublicAccessBlock',
  'PutPublicAccessBlock',
  'DeletePublicAccessBlock',
  'GetBucketOwnershipControls',
  'PutBucketOwnershipControls',
  'DeleteBucketOwnershipControls',
  'ListObjects',
  'ListObjectsV2',
  'ListObjectVersions',
  'ListMultipartUploads',
  'DeleteObjects',
  'PostObject',
  'PutObject',
  'GetObject',
  'HeadObject',
  'DeleteObject',
  'CopyObject',
  'GetObjectAcl',
  'PutObjectAcl',
  'GetObjectTagging',
  'PutObjectTagging',
  'DeleteObjectTagging',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
  'PutBucketVersioning',
  'GetBucketLifecycleConfiguration',
  'PutBucketLifecycleConfiguration',
  'DeleteBucketLifecycle',
  'GetBucketEncryption',
  'PutBucketEncryption',
  'DeleteBucketEncryption',
  'GetBucketTagging',
  'PutBucketTagging',
  'DeleteBucketTagging',
  'GetObjectLockConfiguration',
  'PutObjectLockConfiguration',
  'GetBucketRequestPayment',
  'GetBucketAccelerateConfiguration',
  'GetBucketLogging',
  'GetObjectRetention',
  'PutObjectRetention',
  'GetObjectLegalHold',
  'GetObjectAttributes',
  'PutObjectLegalHold',
] as const;

export type OperationName = (typeof OPERATIONS)[number];

/**
 * Requests S3 defines but skep does not implement, named by the access they would need: the
 * sub-resources below, read or written, on a bucket or an object. They are authorized like that
 * access, so a token that could never perform them is told AccessDenied, and only then answered
 * 501 NotImplemented.
 */
export const UNSUPPORTED_OPERATIONS = [
  'UnsupportedBucketRead',
  'UnsupportedBucketWrite',
  'UnsupportedObjectRead',
  'UnsupportedObjectWrite',
] as const;

export type UnsupportedOperationName = (typeof UNSUPPORTED_OPERATIONS)[number];

/** Every operation the parser yields: the implemented ones and the unsupported ones. */
export type ParsedOperationName = OperationName | UnsupportedOperationName;

/** What an unsupported request asked for, for the NotImplemented message. */
export interface UnsupportedRequest {
  method: string;
  /** The sub-resource (e.g. "lifecycle"). */
  subresource: string;
}

interface Addressed {
  query: Query;
  /** The project named by a project host name (<project-id>.<domain>), or null. */
  project: string | null;
}

export type S3Operation =
  | ({ op: 'ListBuckets'; bucket: null; key: null } & Addressed)
  | ({ op: BucketOperation; bucket: string; key: null } & Addressed)
  | ({ op: ObjectOperation; bucket: string; key: string } & Addressed)
  | UnsupportedOperation;

export type UnsupportedOperation = { op: UnsupportedOperationName; bucket: string; key: string | null; unsupported: UnsupportedRequest } & Addressed;

export function isUnsupported(op: S3Operation): op is UnsupportedOperation {
  return 'unsupported' in op;
}

export type BucketOperation =
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'GetBucketPolicy'
  | 'PutBucketPolicy'
  | 'DeleteBucketPolicy'
  | 'GetBucketPolicyStatus'
  | 'GetPublicAccessBlock'
  | 'PutPublicAccessBlock'
  | 'DeletePublicAccessBlock'
  | 'GetBucketOwnershipControls'
  | 'PutBucketOwnershipControls'
  | 'DeleteBucketOwnershipControls'
  | 'PostObject'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListObjectVersions'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'PutBucketVersioning'
  | 'GetBucketLifecycleConfiguration'
  | 'PutBucketLifecycleConfiguration'
  | 'DeleteBucketLifecycle'
  | 'GetBucketEncryption'
  | 'PutBucketEncryption'
  | 'DeleteBucketEncryption'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'DeleteBucketTagging'
  | 'GetObjectLockConfiguration'
  | 'PutObjectLockConfiguration'
  | 'GetBucketRequestPayment'
  | 'GetBucketAccelerateConfiguration'
  | 'GetBucketLogging';

export type ObjectOperation = Exclude<OperationName, BucketOperation | 'ListBuckets'>;

/** Decoded query parameters; a parameter given without a value maps to ''. */
export type Query = ReadonlyMap<string, string>;

export interface EndpointInput {
  method: string;
  /** Host header, possibly with a port. */
  host: string | undefined;
  /** req.url: path and query as received. */
  url: string;
  /** Base domains under which `<bucket>.<domain>` selects a bucket (virtual-hosted style). */
  baseDomains: readonly string[];
  /** Project domains: `<project-id>.<domain>` selects a project, `<bucket>.<project-id>.<domain>` a bucket in it. */
  projectDomains?: readonly string[];
  /** Whether an x-amz-copy-source header is present (selects CopyObject / UploadPartCopy). */
  hasCopySource: boolean;
}

export interface ParsedUrl {
  rawPath: string;
  rawQuery: string;
  query: Query;
}

export const MAX_KEY_BYTES = 1024;

export function splitUrl(url: string): ParsedUrl {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const query = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = queryDecode(eq < 0 ? part : part.slice(0, eq));
    if (!query.has(name)) query.set(name, eq < 0 ? '' : queryDecode(part.slice(eq + 1)));
  }
  return { rawPath, rawQuery, query };
}

const PROJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface HostAddress {
  /** The bucket of a virtual-hosted-style request, or null for path style. */
  bucket: string | null;
  /** The project of a project host name, or null. */
  project: string | null;
}

/** Query parameters that make a URL a presigned S3 request (SigV4, then SigV2). */
const PRESIGNED_PARAMS = ['X-Amz-Signature', 'X-Amz-Credential', 'AWSAccessKeyId', 'Signature'];

/**
 * Whether a request is signed as S3 signs (a SigV4 or SigV2 Authorization header, or a presigned
 * query): an S3 client's, whatever its path, so the paths the REST API and the console serve
 * never answer it (a bucket named `api` or `console` cannot exist; S3 says so in XML).
 */
export function carriesS3Signature(req: { url?: string; headers: { authorization?: string } }): boolean {
  const auth = req.headers.authorization;
  if (auth !== undefined && (auth.startsWith('AWS4-') || auth.startsWith('AWS '))) return true;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if (q < 0) return false;
  const params = new URLSearchParams(url.slice(q + 1));
  return PRESIGNED_PARAMS.some((name) => params.has(name));
}

/**
 * What a Host header names: `<bucket>.<domain>` under a base domain; `<project-id>.<domain>` or
 * `<bucket>.<project-id>.<domain>` under a project domain. Under a base domain every label is
 * the bucket's, since a bucket may be named like a project ID (a UUID).
 */
export function addressFromHost(host: string | undefined, baseDomains: readonly string[], projectDomains: readonly string[] = []): HostAddress {
  const none = { bucket: null, project: null };
  if (!host) return none;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  // Under a project domain only a project label counts: <project-id>.D or <bucket>.<project-id>.D.
  const underProject = labelsUnder(name, projectDomains);
  if (underProject !== null) return projectAddress(underProject) ?? none;
  const labels = labelsUnder(name, baseDomains);
  return labels === null ? none : { bucket: labels, project: null };
}

/** The labels before the first of `domains` that `name` is under, or null. */
function labelsUnder(name: string, domains: readonly string[]): string | null {
  for (const domain of domains) {
    const suffix = `.${domain.toLowerCase()}`;
    if (name.endsWith(suffix) && name.length > suffix.length) return name.slice(0, -suffix.length);
  }
  return null;
}

/** `<project-id>` or `<bucket>.<project-id>`, or null when the last label is not a project ID. */
function projectAddress(labels: string): HostAddress | null {
  const lastDot = labels.lastIndexOf('.');
  const last = labels.slice(lastDot + 1);
  return PROJECT_ID.test(last) ? { project: last, bucket: lastDot < 0 ? null : labels.slice(0, lastDot) } : null;
}

function decodeKey(raw: string): string {
  const key = decodeKeyEscapes(raw);
  checkObjectKey(key);
  return key;
}

/**
 * Percent-decodes text that names a key (a path, x-amz-copy-source). Its escapes must spell UTF-8,
 * checked on the bytes, so that U+FFFD sent as %EF%BF%BD is a key character like any other, while
 * invalid bytes (which decoding would turn into it, making two names one key) are refused.
 */
export function decodeKeyEscapes(raw: string): string {
  for (const run of raw.match(/(?:%[0-9A-Fa-f]{2})+/g) ?? []) {
    if (!isUtf8(Buffer.from(run.replace(/%/g, ''), 'hex'))) throw invalidKey();
  }
  return percentDecode(raw);
}

const invalidKey = () => new S3Error('InvalidURI', 'Object keys must be valid UTF-8 without NUL characters.');

/**
 * A key a form parser decoded (a POST form's key field, or the file name ${filename} puts in it):
 * a U+FFFD there is where its bytes were not UTF-8, so it is refused as invalid bytes are in a
 * path. U+FFFD as a key's own character can come through a path only.
 */
export function formKeyText(text: string): string {
  if (text.includes('\uFFFD')) throw invalidKey();
  return text;
}

/**
 * The rule for an object key however it arrives (a path, a POST form's field): a lone surrogate or
 * NUL cannot be stored faithfully (PostgreSQL text holds no NUL) nor rendered in XML, and a key
 * is at most 1024 bytes of UTF-8.
 */
export function checkObjectKey(key: string): void {
  if (hasNul(key) || /[\uD800-\uDFFF]/.test(key.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) throw invalidKey();
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', undefined, { MaxSizeAllowed: String(MAX_KEY_BYTES), Size: String(Buffer.byteLength(key, 'utf8')) });
  }
}

/**
 * Sub-resources S3 defines that skep does not implement: authorized, then answered 501 NotImplemented.
 * One missing here makes its request the bucket's or object's plain operation (a DELETE of the
 * bucket, a PUT of the object): endpoint.test.ts checks every operation of S3's model against them.
 */
const UNSUPPORTED_BUCKET_SUBRESOURCES = [
  'accelerate', 'analytics', 'encryption', 'intelligent-tiering', 'inventory', 'lifecycle',
  'logging', 'metrics', 'notification', 'object-lock', 'replication', 'requestPayment', 'tagging', 'website', 'versioning',
  'metadataTable', 'metadataConfiguration', 'metadataInventoryTable', 'metadataJournalTable', 'abac', 'session',
];
// `encryption` on an object is UpdateObjectEncryption: as a PutObject it would replace the object with its XML.
const UNSUPPORTED_OBJECT_SUBRESOURCES = ['attributes', 'legal-hold', 'retention', 'restore', 'select', 'torrent', 'renameObject', 'encryption'];

/** An unsupported request, before the bucket and key are attached. */
type Unsupported = Pick<UnsupportedOperation, 'op' | 'unsupported'>;

/** Reads (and SelectObjectContent, which reads through a POST) need a read right; the rest a write right. */
function unsupported(level: 'Bucket' | 'Object', method: string, subresource: string): Unsupported {
  const reads = method === 'GET' || method === 'HEAD' || subresource === 'select';
  return { op: `Unsupported${level}${reads ? 'Read' : 'Write'}`, unsupported: { method, subresource } };
}

/** Bucket configuration sub-resources: GET, PUT and (where S3 has it) DELETE. */
const BUCKET_CONFIG: Record<string, { GET: BucketOperation; PUT?: BucketOperation; DELETE?: BucketOperation }> = {
  acl: { GET: 'GetBucketAcl', PUT: 'PutBucketAcl' },
  cors: { GET: 'GetBucketCors', PUT: 'PutBucketCors', DELETE: 'DeleteBucketCors' },
  policy: { GET: 'GetBucketPolicy', PUT: 'PutBucketPolicy', DELETE: 'DeleteBucketPolicy' },
  policyStatus: { GET: 'GetBucketPolicyStatus' },
  publicAccessBlock: { GET: 'GetPublicAccessBlock', PUT: 'PutPublicAccessBlock', DELETE: 'DeletePublicAccessBlock' },
  ownershipControls: { GET: 'GetBucketOwnershipControls', PUT: 'PutBucketOwnershipControls', DELETE: 'DeleteBucketOwnershipControls' },
  versioning: { GET: 'GetBucketVersioning', PUT: 'PutBucketVersioning' },
  lifecycle: { GET: 'GetBucketLifecycleConfiguration', PUT: 'PutBucketLifecycleConfiguration', DELETE: 'DeleteBucketLifecycle' },
  encryption: { GET: 'GetBucketEncryption', PUT: 'PutBucketEncryption', DELETE: 'DeleteBucketEncryption' },
  tagging: { GET: 'GetBucketTagging', PUT: 'PutBucketTagging', DELETE: 'DeleteBucketTagging' },
  'object-lock': { GET: 'GetObjectLockConfiguration', PUT: 'PutObjectLockConfiguration' },
};

function bucketConfigOperation(method: string, query: Query): BucketOperation | undefined {
  for (const [sub, ops] of Object.entries(BUCKET_CONFIG)) {
    if (!query.has(sub)) continue;
    const op = ops[method as 'GET' | 'PUT' | 'DELETE'];
    if (op) return op;
    throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: sub.toUpperCase() });
  }
  return undefined;
}

/**
 * Bucket settings skep does not offer whose reads have a truthful answer, the one S3 gives for a
 * bucket that never set them; writing them stays NotImplemented.
 */
const UNOFFERED_SETTINGS_READS: Record<string, BucketOperation> = {
  requestPayment: 'GetBucketRequestPayment',
  accelerate: 'GetBucketAccelerateConfiguration',
  logging: 'GetBucketLogging',
};

function bucketOperation(method: string, query: Query): BucketOperation | Unsupported {
  if (method === 'GET' || method === 'PUT' || method === 'DELETE') {
    const config = bucketConfigOperation(method, query);
    if (config) return config;
  }
  switch (method) {
    case 'GET':
      if (query.has('location')) return 'GetBucketLocation';
      if (query.has('versions')) return 'ListObjectVersions';
      if (query.has('uploads')) return 'ListMultipartUploads';
      for (const sub in UNOFFERED_SETTINGS_READS) if (query.has(sub)) return UNOFFERED_SETTINGS_READS[sub];
      break;
    case 'HEAD':
      return 'HeadBucket';
    case 'PUT':
      break;
    case 'DELETE':
      break;
    case 'POST':
      if (query.has('delete')) return 'DeleteObjects';
      break;
    default:
      throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'BUCKET' });
  }
  const sub = UNSUPPORTED_BUCKET_SUBRESOURCES.find((s) => query.has(s));
  if (sub) return unsupported('Bucket', method, sub);
  if (method === 'GET') return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
  if (method === 'PUT') return 'CreateBucket';
  if (method === 'DELETE') return 'DeleteBucket';
  // POST on a bucket without ?delete is a browser-form upload.
  return 'PostObject';
}

function objectOperation(method: string, query: Query, hasCopySource: boolean): ObjectOperation | Unsupported {
  const uploadId = query.has('uploadId');
  switch (method) {
    case 'GET':
      if (uploadId) return 'ListParts';
      if (query.has('tagging')) return 'GetObjectTagging';
      if (query.has('acl')) return 'GetObjectAcl';
      if (query.has('retention')) return 'GetObjectRetention';
      if (query.has('legal-hold')) return 'GetObjectLegalHold';
      if (query.has('attributes')) return 'GetObjectAttributes';
      break;
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      if (query.has('acl')) return 'PutObjectAcl';
      if (uploadId || query.has('partNumber')) {
        if (!uploadId || !query.has('partNumber')) throw new S3Error('InvalidRequest', 'UploadPart requires both partNumber and uploadId.');
        return hasCopySource ? 'UploadPartCopy' : 'UploadPart';
      }
      if (query.has('tagging')) return 'PutObjectTagging';
      if (query.has('retention')) return 'PutObjectRetention';
      if (query.has('legal-hold')) return 'PutObjectLegalHold';
      break;
    case 'DELETE':
      if (uploadId) return 'AbortMultipartUpload';
      if (query.has('tagging')) return 'DeleteObjectTagging';
      break;
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (uploadId) return 'CompleteMultipartUpload';
      break;
    default:
      throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'OBJECT' });
  }
  const sub = UNSUPPORTED_OBJECT_SUBRESOURCES.find((s) => query.has(s));
  if (sub) return unsupported('Object', method, sub);
  if (method === 'GET') return 'GetObject';
  if (method === 'PUT') return hasCopySource ? 'CopyObject' : 'PutObject';
  if (method === 'DELETE') return 'DeleteObject';
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'OBJECT' });
}

export interface RequestAddress {
  bucket: string | null;
  /** The key as sent (still percent-encoded), or null. */
  rawKey: string | null;
  project: string | null;
  url: ParsedUrl;
}

/** The bucket, key and project a request names, from its Host and path (any method). */
export function parseAddress(input: Pick<EndpointInput, 'host' | 'url' | 'baseDomains' | 'projectDomains'>): RequestAddress {
  const url = splitUrl(input.url);
  const address = addressFromHost(input.host, input.baseDomains, input.projectDomains);
  const hostBucket = address.bucket;
  const project = address.project;

  let bucket: string | null;
  let rawKey: string | null;
  if (hostBucket !== null) {
    bucket = hostBucket;
    rawKey = url.rawPath.length > 1 ? url.rawPath.slice(1) : null;
  } else {
    const path = url.rawPath.startsWith('/') ? url.rawPath.slice(1) : url.rawPath;
    if (path === '') {
      bucket = null;
      rawKey = null;
    } else {
      const slash = path.indexOf('/');
      bucket = percentDecode(slash < 0 ? path : path.slice(0, slash));
      rawKey = slash < 0 || slash === path.length - 1 ? null : path.slice(slash + 1);
    }
  }
  return { bucket, rawKey, project, url };
}

export function parseEndpoint(input: EndpointInput): S3Operation & { url: ParsedUrl } {
  const { bucket, rawKey, project, url } = parseAddress(input);
  const { query } = url;
  const method = input.method.toUpperCase();

  if (bucket === null) {
    if (method !== 'GET') throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'SERVICE' });
    return { op: 'ListBuckets', bucket: null, key: null, query, project, url };
  }
  if (rawKey === null) {
    const op = bucketOperation(method, query);
    if (typeof op === 'string') return { op, bucket, key: null, query, project, url };
    return { ...op, bucket, key: null, query, project, url };
  }
  const op = objectOperation(method, query, input.hasCopySource);
  const key = decodeKey(rawKey);
  if (typeof op === 'string') return { op, bucket, key, query, project, url };
  return { ...op, bucket, key, query, project, url };
}

export { decodeKey };
