import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Authenticated } from '../sigv4/authenticate.js';
import type { ObjectService } from '../objects/object-service.js';
import type { MultipartService } from '../objects/multipart-service.js';
import type { BucketConfigService } from '../objects/bucket-config-service.js';
import type { ObjectLockService } from '../objects/object-lock-service.js';
import type { BucketRow } from '../storage/metadata/metadata-store.js';
import type { S3Operation } from './endpoint.js';
import type { S3Response } from './render.js';
import { MAX_SINGLE_PUT_BYTES } from './body.js';
import { MAX_PART_SIZE } from '../objects/multipart-service.js';

// What a handler receives. Handlers return an S3Response; they never touch the ServerResponse.

export interface S3Services {
  objects: ObjectService;
  multipart: MultipartService;
  bucketConfig: BucketConfigService;
  objectLock: ObjectLockService;
}

/** How large a body may be, declared or not (EntityTooLarge beyond). */
export interface S3Limits {
  /** PutObject. */
  maxObjectSize: number;
  /** UploadPart and UploadPartCopy. */
  maxPartSize: number;
}

/** S3's own limits: 5 GiB for a single PUT and for a part. */
export const S3_LIMITS: S3Limits = { maxObjectSize: MAX_SINGLE_PUT_BYTES, maxPartSize: MAX_PART_SIZE };

export interface S3Context<Op extends S3Operation = S3Operation> {
  requestId: string;
  req: IncomingMessage;
  op: Op;
  auth: Authenticated;
  services: S3Services;
  region: string;
  limits: S3Limits;
  log: Logger;
  /** The operation's bucket in the caller's project, or NoSuchBucket. */
  bucket(): Promise<BucketRow>;
}

export type Handler = (ctx: S3Context) => Promise<S3Response>;

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
