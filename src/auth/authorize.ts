import type { ParsedOperationName } from '../s3/endpoint.js';
import type { PermissionLevel, Principal } from './principal.js';

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
  /** REST API: read the project's audit log. */
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
  ListObjects: 'ListObjects',
  ListObjectsV2: 'ListObjects',
  ListObjectVersions: 'ListObjects',
  ListMultipartUploads: 'ListObjects',
  ListParts: 'ListObjects',
  GetObject: 'ReadObject',
  HeadObject: 'ReadObject',
  GetObjectAcl: 'ReadObject',
  GetObjectTagging: 'ReadObject',
  PutObject: 'WriteObject',
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
  GetObjectLockConfiguration: 'ReadBucketConfig',
  PutObjectLockConfiguration: 'WriteBucketConfig',
  // Per-version lock state is object data: read with the object, set by those who write it.
  GetObjectRetention: 'ReadObject',
  GetObjectLegalHold: 'ReadObject',
  PutObjectRetention: 'WriteObject',
  PutObjectLegalHold: 'WriteObject',
  // Not implemented: authorized by the access they would need, then answered 501.
  PostObject: 'WriteObject',
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

export type Decision = { allow: true } | { allow: false; reason: string };

/** Whether the principal's bucket scope includes this bucket. */
export function inScope(principal: Principal, bucket: string): boolean {
  return principal.bucketScope === null || principal.bucketScope.includes(bucket);
}

/**
 * Decides (principal, right, bucket). `bucket` is null for service-level rights (ListBuckets,
 * which the caller filters to the principal's scope with `inScope`).
 */
export function authorize(principal: Principal | null, right: Right, bucket: string | null): Decision {
  if (!principal) return { allow: false, reason: 'anonymous requests are not allowed' };
  if (right === 'ReadUsage') {
    return principal.billing ? { allow: true } : { allow: false, reason: 'the token has no billing (usage) access' };
  }
  if (!LEVEL_RIGHTS[principal.permission].has(right)) {
    return { allow: false, reason: `${principal.permission} tokens may not ${right}` };
  }
  if (bucket !== null && !inScope(principal, bucket)) {
    return { allow: false, reason: `bucket ${bucket} is outside the token's scope` };
  }
  return { allow: true };
}
