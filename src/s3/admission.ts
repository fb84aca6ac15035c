import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.js';
import { header, type S3Services } from './context.js';
import type { S3Operation } from './endpoint.js';
import type { ResolvedBucket } from '../buckets/bucket-config-service.js';
import { authorize, REQUIRED_RIGHT, type AccessTarget } from '../auth/authorize.js';
import { aclsEnabled, companionActions, effectiveBlock, objectAclMatters, policyActionFor, policyOutcome, type RequestExtras } from '../auth/bucket-access.js';
import type { RequestFacts } from '../auth/bucket-policy.js';
import type { Principal } from '../auth/principal.js';
import { overTls } from '../net/client-address.js';
import { bypassRequested } from './protection-headers.js';

// Admission to a bucket: gathers what the authorizer needs (the bucket's access settings in the
// same query that finds the bucket; an object's ACL only for anonymous reads that ACLs could open)
// and asks authorize(). A token is first checked against its level and scope alone, so it learns
// nothing about buckets outside them.

/** What a bucket policy's conditions can test about a request (keys lower-case, as parsed). */
export function requestFacts(req: IncomingMessage, op: S3Operation, principal: Principal | null, now: Date, sourceIp: string | undefined): RequestFacts {
  const facts: Record<string, string | undefined> = {
    'aws:sourceip': sourceIp,
    // skep's own TLS, or TLS a trusted proxy ended (X-Forwarded-Proto: https).
    'aws:securetransport': String(overTls(req)),
    'aws:referer': header(req, 'referer'),
    'aws:useragent': header(req, 'user-agent'),
    'aws:currenttime': now.toISOString(),
    'aws:epochtime': String(Math.floor(now.getTime() / 1000)),
    'aws:principaltype': principal ? 'User' : 'Anonymous',
    // The token's ID (its temporary credentials act for it), "anonymous" without one, as AWS fills
    // it; a console user's session has no token and so no aws:userid.
    'aws:userid': principal ? principal.tokenId || undefined : 'anonymous',
    's3:x-amz-acl': header(req, 'x-amz-acl'),
  };
  if (op.op === 'ListObjects' || op.op === 'ListObjectsV2' || op.op === 'ListObjectVersions') {
    facts['s3:prefix'] = op.query.get('prefix');
    facts['s3:delimiter'] = op.query.get('delimiter');
    facts['s3:max-keys'] = op.query.get('max-keys');
  }
  return facts;
}

export interface Admission {
  services: S3Services;
  op: S3Operation;
  projectId: string;
  /** Request facts for policy conditions; built only when the bucket has a policy to test them. */
  facts: () => RequestFacts;
  /** What the request asks for beyond its operation (a governance bypass, an ACL or tags for what it writes). */
  extras?: RequestExtras;
  /** Told of the bucket as soon as it is found, before the caller is authorized for it. */
  found?: (bucket: ResolvedBucket) => void;
  /** x-amz-expected-bucket-owner (or its copy source twin): the owner the caller means to reach. */
  expectedOwner?: string;
}

/** What a request's headers ask for beyond its operation (see companionActions). */
export function requestExtras(req: IncomingMessage, op: S3Operation): RequestExtras {
  const bypassGovernance = bypassRequested(req);
  // Only writes make objects (reads skip the look through every header name).
  if (req.method !== 'PUT' && req.method !== 'POST') return { bypassGovernance };
  const h = req.headers;
  const copy = op.op === 'CopyObject';
  return {
    bypassGovernance,
    setsAcl: h['x-amz-acl'] !== undefined || Object.keys(h).some((name) => name.startsWith('x-amz-grant-')),
    // A copy takes its source's tags unless told to REPLACE them with these.
    setsTags: h['x-amz-tagging'] !== undefined && (!copy || header(req, 'x-amz-tagging-directive')?.toUpperCase() === 'REPLACE'),
  };
}

/** The facts of a request to a bucket without a policy: nothing to test, nothing built. */
export const NO_FACTS: RequestFacts = {};

const LISTINGS = new Set<S3Operation['op']>(['ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads']);

/** What an operation acts on inside its bucket, for prefix scopes: its key, or a listing's prefix. */
export function accessTarget(op: S3Operation): AccessTarget {
  return LISTINGS.has(op.op) ? { key: null, listPrefix: op.query.get('prefix') ?? '' } : { key: op.key };
}

/** Level and scope alone (no I/O): throws AccessDenied when the token could never do this. */
export function checkTokenBounds(principal: Principal, op: S3Operation): void {
  if (!authorize(principal, REQUIRED_RIGHT[op.op], op.bucket, accessTarget(op)).allow) throw new S3Error('AccessDenied');
}

export async function admit(a: Admission, principal: Principal | null): Promise<ResolvedBucket> {
  const { op } = a;
  if (op.bucket === null) throw new Error(`${op.op} names no bucket`);
  if (principal) checkTokenBounds(principal, op);
  const resolved = await a.services.bucketConfig.resolve(a.projectId, op.bucket);
  if (!resolved) throw new S3Error('NoSuchBucket', undefined, { BucketName: op.bucket });
  a.found?.(resolved);
  // A safety check tools such as Terraform send: a bucket of another owner is refused, 403, as on
  // S3. The owner is the bucket's project (the Owner ID that listings and ACLs show).
  // (CreateBucket does not take the header on S3: a re-create of your own bucket ignores it.)
  if (a.expectedOwner !== undefined && op.op !== 'CreateBucket' && a.expectedOwner !== resolved.row.projectId) throw new S3Error('AccessDenied');
  // S3 authorizes DeleteObjects key by key (each object's ARN, in the handler): a token's level and
  // scope were checked above, and nothing is asked of the policy or ACLs about the bucket's ARN.
  if (op.op === 'DeleteObjects') return resolved;
  const versionId = op.query.get('versionId');
  const action = policyActionFor(op.op, versionId);
  let access = resolved.access;
  if (!principal && op.key !== null && objectAclMatters(action) && aclsEnabled(access) && !effectiveBlock(access).ignorePublicAcls) {
    access = { ...access, objectAcl: await a.services.bucketConfig.peekObjectAcl(resolved, op.key, versionId) };
  }
  const facts = access.policy ? a.facts() : NO_FACTS;
  const alsoActions = companionActions(op.op, versionId, a.extras);
  const decision = authorize(principal, REQUIRED_RIGHT[op.op], op.bucket, { action, alsoActions, ...accessTarget(op), access, facts });
  if (!decision.allow) {
    // An anonymous reader who may list the bucket may learn that a key is missing (404), as on S3:
    // no object, no ACL to grant the read, yet the listing would tell the same.
    // Not past an explicit Deny of the read in the policy, which outranks every grant.
    if (
      !principal &&
      decision.error === undefined &&
      versionId === undefined &&
      (op.op === 'GetObject' || op.op === 'HeadObject') &&
      mayList(null, resolved, op.bucket, facts) &&
      policyOutcome(access, { anonymous: true }, action!, op.bucket, op.key, facts) !== 'Deny'
    ) {
      if (!(await a.services.bucketConfig.objectExists(resolved, op.key!))) throw new S3Error('NoSuchKey', undefined, { Key: op.key! });
    }
    throw new S3Error(decision.error ?? 'AccessDenied');
  }
  return resolved;
}

/** Whether a caller may list the bucket: S3 tells a missing key (404) only to those who may. */
export function mayList(principal: Principal | null, resolved: ResolvedBucket, bucket: string, facts: RequestFacts): boolean {
  return authorize(principal, 'ListObjects', bucket, { action: 's3:ListBucket', key: null, access: resolved.access, facts }).allow;
}
