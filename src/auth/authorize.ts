import type { OperationName } from '../s3/endpoint.js';
import type { Principal } from './principal.js';

// The one place that decides whether a principal may perform an operation on a bucket.
// Every S3 operation maps to exactly one right; protocols (S3, REST API, presigned URLs) all ask here.

export type Right =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'ReadBucketConfig'
  | 'WriteBucketConfig'
  | 'ListObjects'
  | 'ReadObject'
  | 'WriteObject'
  | 'DeleteObject';

export const REQUIRED_RIGHT: Record<OperationName, Right> = {
  ListBuckets: 'ListBuckets',
  CreateBucket: 'CreateBucket',
  DeleteBucket: 'DeleteBucket',
  HeadBucket: 'ReadBucketConfig',
  GetBucketLocation: 'ReadBucketConfig',
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
};

export type Decision = { allow: true } | { allow: false; reason: string };

/**
 * Decides (principal, right, bucket). `bucket` is null for service-level rights (ListBuckets).
 * A principal acts only within its own project; the caller resolves buckets within it.
 */
export function authorize(principal: Principal | null, right: Right, _bucket: string | null): Decision {
  if (!principal) return { allow: false, reason: 'anonymous requests are not allowed' };
  // The bootstrap credential holds every right in its project.
  return { allow: true };
}
