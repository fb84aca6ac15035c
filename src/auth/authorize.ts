import type { ParsedOperationName } from '../s3/endpoint.js';
import type { PermissionLevel, Principal } from './principal.js';
import { anonymousAllowed, isPolicyManagement, tokenDenied, type BucketAccess } from './bucket-access.js';
import type { PolicyCaller, RequestFacts } from './bucket-policy.js';
import { keyInReach, listingRanges, reachOf } from './scope.js';

// The one place that decides whether a principal may perform an operation on a bucket.
// Every S3 operation maps to exactly one right; S3, presigned URLs and the REST API all ask here.
// Requests skep does not implement map too, so a token is refused before it learns that.

export type Right =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'DeleteBucket'
  /** HeadBucket and GetBucketLocation: clients call them before any work. */
  | 'ProbeBucket'
  | 'ReadBucketConfig'
  | 'WriteBucketConfig'
  | 'ListObjects'
  | 'ReadObject'
  | 'WriteObject'
  | 'DeleteObject'
  /** REST API: list, create, disable, rotate, revoke the project's tokens. */
  | 'ManageTokens'
  /** REST API: read the project's audit log (every bucket's events: a token of all buckets only). */
  | 'ReadAudit'
  /** REST API: read the project's usage; granted by the token's billing flag, not by its level. */
  | 'ReadUsage'
  /**
   * Weaken or delete through GOVERNANCE-mode Object Lock retention
   * (x-amz-bypass-governance-retention: true); asked for only when a request sends that header.
   */
  | 'BypassGovernanceRetention';

export const REQUIRED_RIGHT: Record<ParsedOperationName, Right> = {
  ListBuckets: 'ListBuckets',
  CreateBucket: 'CreateBucket',
  DeleteBucket: 'DeleteBucket',
  HeadBucket: 'ProbeBucket',
  GetBucketLocation: 'ProbeBucket',
  GetBucketVersioning: 'ReadBucketConfig',
  GetBucketAcl: 'ReadBucketConfig',
  PutBucketAcl: 'WriteBucketConfig',
  GetBucketCors: 'ReadBucketConfig',
  PutBucketCors: 'WriteBucketConfig',
  DeleteBucketCors: 'WriteBucketConfig',
  GetBucketPolicy: 'ReadBucketConfig',
  PutBucketPolicy: 'WriteBucketConfig',
  DeleteBucketPolicy: 'WriteBucketConfig',
  GetBucketPolicyStatus: 'ReadBucketConfig',
  GetPublicAccessBlock: 'ReadBucketConfig',
  PutPublicAccessBlock: 'WriteBucketConfig',
  DeletePublicAccessBlock: 'WriteBucketConfig',
  GetBucketOwnershipControls: 'ReadBucketConfig',
  PutBucketOwnershipControls: 'WriteBucketConfig',
  DeleteBucketOwnershipControls: 'WriteBucketConfig',
  ListObjects: 'ListObjects',
  ListObjectsV2: 'ListObjects',
  ListObjectVersions: 'ListObjects',
  ListMultipartUploads: 'ListObjects',
  ListParts: 'ListObjects',
  GetObject: 'ReadObject',
  HeadObject: 'ReadObject',
  GetObjectAcl: 'ReadObject',
  // Within what an admin allowed the bucket (Object Ownership, public access block), an object's
  // writer sets its ACL, as x-amz-acl on PutObject does.
  PutObjectAcl: 'WriteObject',
  GetObjectTagging: 'ReadObject',
  PutObject: 'WriteObject',
  PostObject: 'WriteObject',
  CopyObject: 'WriteObject',
  PutObjectTagging: 'WriteObject',
  DeleteObjectTagging: 'WriteObject',
  CreateMultipartUpload: 'WriteObject',
  UploadPart: 'WriteObject',
  UploadPartCopy: 'WriteObject',
  CompleteMultipartUpload: 'WriteObject',
  AbortMultipartUpload: 'WriteObject',
  DeleteObject: 'DeleteObject',
  DeleteObjects: 'DeleteObject',
  PutBucketVersioning: 'WriteBucketConfig',
  GetBucketLifecycleConfiguration: 'ReadBucketConfig',
  PutBucketLifecycleConfiguration: 'WriteBucketConfig',
  DeleteBucketLifecycle: 'WriteBucketConfig',
  GetBucketEncryption: 'ReadBucketConfig',
  PutBucketEncryption: 'WriteBucketConfig',
  DeleteBucketEncryption: 'WriteBucketConfig',
  GetBucketTagging: 'ReadBucketConfig',
  PutBucketTagging: 'WriteBucketConfig',
  DeleteBucketTagging: 'WriteBucketConfig',
  GetObjectLockConfiguration: 'ReadBucketConfig',
  PutObjectLockConfiguration: 'WriteBucketConfig',
  GetBucketRequestPayment: 'ReadBucketConfig',
  GetBucketAccelerateConfiguration: 'ReadBucketConfig',
  GetBucketLogging: 'ReadBucketConfig',
  // Per-version lock state is object data: read with the object, set by those who write it.
  GetObjectRetention: 'ReadObject',
  GetObjectLegalHold: 'ReadObject',
  GetObjectAttributes: 'ReadObject',
  PutObjectRetention: 'WriteObject',
  PutObjectLegalHold: 'WriteObject',
  // Not implemented: authorized by the access they would need, then answered 501.
  UnsupportedBucketRead: 'ReadBucketConfig',
  UnsupportedBucketWrite: 'WriteBucketConfig',
  UnsupportedObjectRead: 'ReadObject',
  UnsupportedObjectWrite: 'WriteObject',
};

/** What each permission level may do (the table shown to operators). */
export const LEVEL_RIGHTS: Record<PermissionLevel, ReadonlySet<Right>> = {
  'admin-rw': new Set<Right>([
    'ListBuckets', 'CreateBucket', 'DeleteBucket', 'ProbeBucket', 'ReadBucketConfig', 'WriteBucketConfig',
    'ListObjects', 'ReadObject', 'WriteObject', 'DeleteObject', 'ManageTokens', 'ReadAudit', 'BypassGovernanceRetention',
  ]),
  'admin-ro': new Set<Right>(['ListBuckets', 'ProbeBucket', 'ReadBucketConfig', 'ListObjects', 'ReadObject']),
  'object-rw': new Set<Right>(['ListBuckets', 'ProbeBucket', 'ListObjects', 'ReadObject', 'WriteObject', 'DeleteObject']),
  'object-ro': new Set<Right>(['ListBuckets', 'ProbeBucket', 'ListObjects', 'ReadObject']),
};

/** A refusal is AccessDenied unless it names another S3 error (MethodNotAllowed). */
export type Decision = { allow: true } | { allow: false; reason: string; error?: 'MethodNotAllowed' };

/**
 * Rights S3 keeps to the bucket owner's account whatever a policy or ACL opens: an anonymous
 * caller never changes a bucket's configuration or deletes it.
 */
const OWNER_ONLY: ReadonlySet<Right> = new Set<Right>(['CreateBucket', 'DeleteBucket', 'WriteBucketConfig']);

/** Whether the principal's scope reaches into this bucket at all (the whole bucket or a prefix in it). */
export function inScope(principal: Principal, bucket: string): boolean {
  return reachOf(principal.bucketScope, bucket) !== 'none';
}

/** Rights a prefix entry grants inside its bucket: objects under the prefix, and seeing that the bucket exists. */
const PREFIX_RIGHTS: ReadonlySet<Right> = new Set<Right>(['ProbeBucket', 'ListObjects', 'ReadObject', 'WriteObject', 'DeleteObject']);

/** The object an operation acts on: its key, or for a listing the prefix it asks for. */
export interface AccessTarget {
  /** The object key, or null for bucket-wide operations (checked per key later, e.g. DeleteObjects). */
  key: string | null;
  /** A listing's prefix ('' for the whole bucket); absent for other operations. */
  listPrefix?: string;
}

/** What an S3 request adds: the policy action, the key, the bucket's access settings, request facts. */
export interface S3AccessContext extends AccessTarget {
  /** The IAM action a bucket policy names (s3:GetObject), or null when no policy can grant it. */
  action: string | null;
  /** Further actions the request needs, each judged as `action` is (GetObjectAttributes reads the object too). */
  alsoActions?: readonly string[];
  access: BucketAccess;
  facts: RequestFacts;
}

/** Whether the token's scope covers (right, bucket, target); a reason when it does not. */
function scopeDenial(principal: Principal, right: Right, bucket: string, target: AccessTarget | undefined): string | null {
  const reach = reachOf(principal.bucketScope, bucket);
  if (reach === 'bucket') return null;
  if (reach === 'none') return `bucket ${bucket} is outside the token's scope`;
  if (!PREFIX_RIGHTS.has(right)) return `the token reaches only prefixes of bucket ${bucket}, not the bucket as a whole`;
  if (!target) return null;
  if (target.key !== null) return keyInReach(reach, target.key) ? null : `key ${target.key} is outside the token's prefixes in bucket ${bucket}`;
  if (target.listPrefix !== undefined && listingRanges(reach, target.listPrefix)?.length === 0) {
    return `prefix "${target.listPrefix}" is outside the token's prefixes in bucket ${bucket}`;
  }
  return null;
}

/**
 * Decides (principal, right, bucket[, target or S3 access context]). `bucket` is null for
 * service-level rights (ListBuckets, which the caller filters to the principal's scope with
 * `inScope`). A token is bounded by its level and scope — whole buckets, or key prefixes in them
 * (the target's key, or a listing's prefix, must lie under one); a bucket's policy can only take
 * away from it (an explicit Deny). Anonymous callers get only what the bucket's policy and ACLs
 * open to everyone.
 */
export function authorize(principal: Principal | null, right: Right, bucket: string | null, s3?: S3AccessContext | AccessTarget): Decision {
  if (!principal) {
    if (!s3 || !('access' in s3) || bucket === null) return { allow: false, reason: 'anonymous requests are not allowed' };
    if (!actionsOf(s3).every((action) => anonymousAllowed(s3.access, action, bucket, s3.key, s3.facts, s3.action))) {
      return { allow: false, reason: 'the bucket grants this to no anonymous caller' };
    }
    // S3 tells a caller the policy grants this to, but who is outside the owner account, 405.
    if (isPolicyManagement(s3.action)) return { allow: false, reason: 'only the bucket\'s project manages its policy', error: 'MethodNotAllowed' };
    if (OWNER_ONLY.has(right)) return { allow: false, reason: 'only the bucket\'s project may change or delete it' };
    return { allow: true };
  }
  if (right === 'ReadUsage') {
    return principal.billing ? { allow: true } : { allow: false, reason: 'the token has no billing (usage) access' };
  }
  if (!LEVEL_RIGHTS[principal.permission].has(right)) {
    return { allow: false, reason: `${principal.permission} tokens may not ${right}` };
  }
  // The log names every bucket's keys and tokens: a token scoped to some buckets would see past its scope.
  if (right === 'ReadAudit' && principal.bucketScope !== null) {
    return { allow: false, reason: 'the audit log covers every bucket of the project: only a token of all buckets reads it' };
  }
  if (bucket !== null) {
    const denial = scopeDenial(principal, right, bucket, s3);
    if (denial) return { allow: false, reason: denial };
  }
  if (s3 && 'access' in s3 && bucket !== null && s3.access.policy) {
    const caller = policyCaller(principal);
    if (actionsOf(s3).some((action) => tokenDenied(s3.access, caller, action, bucket, s3.key, s3.facts))) return { allow: false, reason: 'the bucket policy denies it' };
  }
  return { allow: true };
}

function actionsOf(s3: S3AccessContext): readonly (string | null)[] {
  return s3.alsoActions?.length ? [s3.action, ...s3.alsoActions] : [s3.action];
}

/**
 * Who a policy's Principal is matched against. Temporary credentials are their token, as AWS's
 * session credentials are their IAM user: a statement naming the token's access key ID applies.
 */
function policyCaller(principal: Principal): PolicyCaller {
  return { anonymous: false, projectId: principal.projectId, accessKeyId: principal.tokenAccessKeyId ?? principal.accessKeyId, tokenId: principal.tokenId };
}
