import { S3Error } from '../errors.js';
import { isUnsupported, type ParsedOperationName } from '../endpoint.js';
import { header, type Handler, type S3Context } from '../context.js';
import type { BucketRow } from '../../storage/metadata/metadata-store.js';
import { admit, mayList, requestFacts } from '../admission.js';
import * as access from './access.js';
import * as cors from './cors.js';
import { PostObject } from './post-object.js';
import * as bucket from './bucket.js';
import * as list from './list.js';
import * as object from './object.js';
import type { CopySource } from './object.js';
import * as tagging from './tagging.js';
import * as attributes from './attributes.js';
import * as multipart from './multipart.js';
import * as versioning from './versioning.js';
import * as objectLock from './object-lock.js';
import * as lifecycle from './lifecycle.js';
import * as encryption from './encryption.js';
import * as unoffered from './unoffered-settings.js';

// One handler per S3 operation, by name.

/**
 * Copy sources are read with the caller's rights on the source bucket: its level and scope, and the
 * source bucket's policy (and for anonymous callers its ACLs) for s3:GetObject on the source key,
 * s3:GetObjectVersion when x-amz-copy-source names a version (as a GET of that version would be).
 * The query is the source's own: the target's (uploadId, partNumber...) says nothing about it.
 */
async function copySourceBucket(ctx: S3Context, src: CopySource): Promise<{ row: BucketRow; mayList: () => boolean }> {
  const query = new Map(src.versionId !== undefined ? [['versionId', src.versionId]] : []);
  const source = { ...ctx.op, op: 'GetObject' as const, bucket: src.bucket, key: src.key, query };
  const facts = () => requestFacts(ctx.req, source, ctx.auth.principal, ctx.now(), ctx.by.source);
  const resolved = await admit(
    {
      services: ctx.services,
      op: source,
      projectId: ctx.projectId,
      facts,
      expectedOwner: header(ctx.req, 'x-amz-source-expected-bucket-owner'),
    },
    ctx.auth.principal,
  );
  return { row: resolved.row, mayList: () => mayList(ctx.auth.principal, resolved, src.bucket, facts()) };
}

/** Anything S3 defines that skep does not implement, once the caller was allowed to ask for it. */
async function NotImplemented(ctx: S3Context): Promise<never> {
  const op = ctx.op;
  if (!isUnsupported(op)) throw new Error(`${op.op} is implemented`);
  const { method, subresource } = op.unsupported;
  // Like any other request on a bucket: NoSuchBucket for a missing one, and its policy applies.
  if (op.bucket !== null) await ctx.resolved();
  throw new S3Error('NotImplemented', `${method} ?${subresource} is not implemented by skep.`);
}

export const HANDLERS: Record<ParsedOperationName, Handler> = {
  ListBuckets: bucket.ListBuckets,
  CreateBucket: bucket.CreateBucket,
  DeleteBucket: bucket.DeleteBucket,
  HeadBucket: bucket.HeadBucket,
  GetBucketLocation: bucket.GetBucketLocation,
  GetBucketVersioning: versioning.GetBucketVersioning,
  PutBucketVersioning: versioning.PutBucketVersioning,
  GetBucketLifecycleConfiguration: lifecycle.GetBucketLifecycleConfiguration,
  PutBucketLifecycleConfiguration: lifecycle.PutBucketLifecycleConfiguration,
  DeleteBucketLifecycle: lifecycle.DeleteBucketLifecycle,
  GetBucketEncryption: encryption.GetBucketEncryption,
  PutBucketEncryption: encryption.PutBucketEncryption,
  DeleteBucketEncryption: encryption.DeleteBucketEncryption,
  GetBucketTagging: tagging.GetBucketTagging,
  PutBucketTagging: tagging.PutBucketTagging,
  DeleteBucketTagging: tagging.DeleteBucketTagging,
  GetObjectLockConfiguration: objectLock.GetObjectLockConfiguration,
  PutObjectLockConfiguration: objectLock.PutObjectLockConfiguration,
  GetBucketRequestPayment: unoffered.GetBucketRequestPayment,
  GetBucketAccelerateConfiguration: unoffered.GetBucketAccelerateConfiguration,
  GetBucketLogging: unoffered.GetBucketLogging,
  GetObjectRetention: objectLock.GetObjectRetention,
  PutObjectRetention: objectLock.PutObjectRetention,
  GetObjectLegalHold: objectLock.GetObjectLegalHold,
  GetObjectAttributes: attributes.GetObjectAttributes,
  PutObjectLegalHold: objectLock.PutObjectLegalHold,
  GetBucketAcl: access.GetBucketAcl,
  PutBucketAcl: access.PutBucketAcl,
  GetBucketCors: cors.GetBucketCors,
  PutBucketCors: cors.PutBucketCors,
  DeleteBucketCors: cors.DeleteBucketCors,
  GetBucketPolicy: access.GetBucketPolicy,
  PutBucketPolicy: access.PutBucketPolicy,
  DeleteBucketPolicy: access.DeleteBucketPolicy,
  GetBucketPolicyStatus: access.GetBucketPolicyStatus,
  GetPublicAccessBlock: access.GetPublicAccessBlock,
  PutPublicAccessBlock: access.PutPublicAccessBlock,
  DeletePublicAccessBlock: access.DeletePublicAccessBlock,
  GetBucketOwnershipControls: access.GetBucketOwnershipControls,
  PutBucketOwnershipControls: access.PutBucketOwnershipControls,
  DeleteBucketOwnershipControls: access.DeleteBucketOwnershipControls,
  ListObjects: list.ListObjects,
  ListObjectsV2: list.ListObjectsV2,
  ListObjectVersions: list.ListObjectVersions,
  PutObject: object.PutObject,
  GetObject: object.GetObject,
  HeadObject: object.HeadObject,
  DeleteObject: object.DeleteObject,
  DeleteObjects: object.DeleteObjects,
  CopyObject: object.makeCopyObject(copySourceBucket),
  GetObjectAcl: access.GetObjectAcl,
  PutObjectAcl: access.PutObjectAcl,
  GetObjectTagging: tagging.GetObjectTagging,
  PutObjectTagging: tagging.PutObjectTagging,
  DeleteObjectTagging: tagging.DeleteObjectTagging,
  CreateMultipartUpload: multipart.CreateMultipartUpload,
  UploadPart: multipart.UploadPart,
  UploadPartCopy: multipart.makeUploadPartCopy(copySourceBucket),
  CompleteMultipartUpload: multipart.CompleteMultipartUpload,
  AbortMultipartUpload: multipart.AbortMultipartUpload,
  ListParts: multipart.ListParts,
  ListMultipartUploads: multipart.ListMultipartUploads,
  PostObject,
  UnsupportedBucketRead: NotImplemented,
  UnsupportedBucketWrite: NotImplemented,
  UnsupportedObjectRead: NotImplemented,
  UnsupportedObjectWrite: NotImplemented,
};
