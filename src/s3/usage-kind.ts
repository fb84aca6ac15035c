import type { ParsedOperationName } from './endpoint.js';
import type { RequestKind } from '../usage/usage-service.js';

// How each S3 operation counts in the usage report: reads, writes, listings, deletes, other.

export const USAGE_KIND: Record<ParsedOperationName, RequestKind> = {
  GetObject: 'read',
  HeadObject: 'read',
  PutObject: 'write',
  CopyObject: 'write',
  CreateMultipartUpload: 'write',
  UploadPart: 'write',
  UploadPartCopy: 'write',
  CompleteMultipartUpload: 'write',
  AbortMultipartUpload: 'write',
  PutObjectTagging: 'write',
  DeleteObjectTagging: 'write',
  ListBuckets: 'list',
  ListObjects: 'list',
  ListObjectsV2: 'list',
  ListObjectVersions: 'list',
  ListMultipartUploads: 'list',
  ListParts: 'list',
  DeleteObject: 'delete',
  DeleteObjects: 'delete',
  DeleteBucket: 'delete',
  CreateBucket: 'other',
  HeadBucket: 'other',
  GetBucketLocation: 'other',
  GetBucketVersioning: 'other',
  GetBucketAcl: 'other',
  GetObjectAcl: 'other',
  GetObjectTagging: 'other',
  PostObject: 'other',
  UnsupportedBucketRead: 'other',
  UnsupportedBucketWrite: 'other',
  UnsupportedObjectRead: 'other',
  UnsupportedObjectWrite: 'other',
};
