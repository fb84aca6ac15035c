import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Authenticated, PayloadMode } from '../sigv4/authenticate.js';
import type { ObjectService } from '../objects/object-service.js';
import type { MultipartService } from '../objects/multipart-service.js';
import type { ObjectLockService } from '../objects/object-lock-service.js';
import type { BucketConfigService, ResolvedBucket } from '../buckets/bucket-config-service.js';
import type { DataProtectionService } from '../buckets/data-protection-service.js';
import type { BucketService } from '../buckets/bucket-service.js';
import type { QuotaService } from '../quotas/quota-service.js';
import type { RequestSource } from '../audit/actor.js';
import type { BucketRow } from '../storage/metadata/metadata-store.js';
import type { Principal } from '../auth/principal.js';
import type { RequestFacts } from '../auth/bucket-policy.js';
import type { RequestExtras } from '../auth/bucket-access.js';
import type { FormFields } from '../sigv4/post-policy.js';
import type { S3Operation } from './endpoint.js';
import type { S3Response } from './render.js';
import { MAX_SINGLE_PUT_BYTES } from './body.js';
import { MAX_PART_SIZE } from '../objects/multipart-service.js';

// What a handler receives. Handlers return an S3Response; they never touch the ServerResponse.

export interface S3Services {
  objects: ObjectService;
  multipart: MultipartService;
  /** Buckets as a whole: create, delete, and audited setting writes. */
  buckets: BucketService;
  /** A bucket's access and CORS configuration. */
  bucketConfig: BucketConfigService;
  /** Versioning, Object Lock, lifecycle and default encryption of a bucket. */
  protection: DataProtectionService;
  /** Retention and legal hold of object versions. */
  objectLock: ObjectLockService;
  /** Storage quotas, checked on the writes that add data. */
  quotas: QuotaService;
}

/** How large a body may be, declared or not (EntityTooLarge beyond). */
export interface S3Limits {
  /** PutObject (and a POST form's file). */
  maxObjectSize: number;
  /** UploadPart and UploadPartCopy. */
  maxPartSize: number;
}

/** S3's own limits: 5 GiB for a single PUT and for a part. */
export const S3_LIMITS: S3Limits = { maxObjectSize: MAX_SINGLE_PUT_BYTES, maxPartSize: MAX_PART_SIZE };

/** An unsigned request: no principal, and a body taken as it comes. */
export interface Anonymous {
  principal: null;
  presigned: false;
  payload: PayloadMode;
}

export const ANONYMOUS: Anonymous = { principal: null, presigned: false, payload: { kind: 'unsigned' } };

export interface S3Context<Op extends S3Operation = S3Operation> {
  requestId: string;
  req: IncomingMessage;
  op: Op;
  auth: Authenticated | Anonymous;
  /** The project the request acts in: the token's, or for an anonymous request the one its host names. */
  projectId: string;
  services: S3Services;
  region: string;
  limits: S3Limits;
  /** The length of a lifecycle day, for the expiry dates of x-amz-expiration and x-amz-abort-date. */
  lifecycleDayMs: number;
  log: Logger;
  /** Who acts (token:<id>, or anonymous) and from which address, for the audit log and policy conditions. */
  by: RequestSource;
  /** The operation's bucket in the request's project, once the caller is admitted to it; else NoSuchBucket or AccessDenied. */
  bucket(): Promise<BucketRow>;
  /** The same, with the bucket's access settings and CORS rules. */
  resolved(): Promise<ResolvedBucket>;
  /** The same, read again: for a handler that learnt the bucket may have changed since resolved() read it. */
  resolvedAgain(): Promise<ResolvedBucket>;
  /**
   * Admits `principal` (a POST form's signer, or null) to write `key` in the operation's bucket
   * with the same rules as a signed request: level and scope, then the bucket's policy and ACLs.
   * `form` adds what the form says that a request's headers would: its acl as s3:x-amz-acl in the
   * policy's facts, and whether it sets an ACL or tags (each also an action of its own).
   */
  admit(principal: Principal | null, key: string, form: { facts: RequestFacts; extras: RequestExtras }): Promise<ResolvedBucket>;
  /** A POST form's signer (SigV4 or SigV2 policy signature), or null for an unsigned form. */
  verifyForm(fields: FormFields): Promise<{ principal: Principal; policy: string } | null>;
  now(): Date;
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
