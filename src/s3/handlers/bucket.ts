import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { parseXml, xmlText } from '../xml.js';
import { inScope } from '../../auth/authorize.js';
import { header } from '../context.js';
import { isPublicAclForBlock, OBJECT_OWNERSHIP, type CannedAcl, type ObjectOwnership } from '../../auth/bucket-access.js';
import { aclFromHeaders } from './access.js';
import { tagSetFrom } from './tagging.js';
import { validateBucketTags } from '../../objects/tags.js';
import type { BucketRow } from '../../storage/metadata/metadata-store.js';
import { decodeContinuationToken, encodeContinuationToken } from '../continuation-token.js';

// Service- and bucket-level operations.

export function owner(ctx: S3Context): { ID: string; DisplayName: string } {
  return { ID: ctx.projectId, DisplayName: ctx.projectId };
}

/** S3's largest ListBuckets page, and its page size once a request names any paging parameter. */
const MAX_BUCKETS = 10_000;

/**
 * max-buckets: an integer from 1 to 10000, refused with S3's two messages (not an integer at all,
 * or out of range); undefined when absent or empty.
 */
function maxBucketsOf(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!(Math.abs(n) <= 2 ** 31 - 1)) {
    throw new S3Error('InvalidArgument', 'Provided max-buckets not an integer or within integer range', { ArgumentName: 'max-buckets', ArgumentValue: text });
  }
  if (n < 1 || n > MAX_BUCKETS) {
    throw new S3Error('InvalidArgument', `Argument max-buckets must be an integer between 1 and ${MAX_BUCKETS}`, { ArgumentName: 'max-buckets', ArgumentValue: String(n) });
  }
  return n;
}

/** The project's buckets in name order, filtered by prefix and bucket-region, a page at a time. */
export async function ListBuckets(ctx: S3Context): Promise<S3Response> {
  const principal = ctx.auth.principal;
  if (!principal) throw new S3Error('AccessDenied');
  const { query } = ctx.op;
  const maxBuckets = maxBucketsOf(query.get('max-buckets'));
  const prefix = query.get('prefix');
  const region = query.get('bucket-region');
  const token = query.get('continuation-token');
  // An empty token starts at the first bucket (S3 lets it be empty here, unlike ListObjectsV2's).
  const after = token ? decodeContinuationToken(token) : undefined;
  // Unpaged requests get every bucket; naming any paging parameter pages by 10000 (S3's rule).
  const paged = maxBuckets !== undefined || prefix !== undefined || region !== undefined || token !== undefined;
  const limit = maxBuckets ?? (paged ? MAX_BUCKETS : Infinity);
  const buckets = await ctx.services.objects.listBuckets(ctx.projectId);
  const page: BucketRow[] = [];
  let more = false;
  // Names come in byte order (both metadata engines), the order a token resumes in.
  for (const b of buckets) {
    if (after !== undefined && b.name <= after) continue;
    if ((prefix && !b.name.startsWith(prefix)) || (region !== undefined && b.region !== region)) continue;
    // A scoped token sees only its buckets; the rest are not revealed.
    if (!inScope(principal, b.name)) continue;
    if (page.length === limit) {
      more = true;
      break;
    }
    page.push(b);
  }
  return {
    xml: {
      root: 'ListAllMyBucketsResult',
      value: {
        Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: b.createdAt.toISOString(), BucketRegion: b.region })) },
        Owner: owner(ctx),
        ...(more ? { ContinuationToken: encodeContinuationToken(page[page.length - 1].name) } : {}),
        ...(prefix !== undefined ? { Prefix: prefix } : {}),
      },
    },
  };
}

export async function CreateBucket(ctx: S3Context): Promise<S3Response> {
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  let region = ctx.region;
  let tags: Record<string, string> = {};
  if (body.length > 0) {
    const conf = parseXml(body, 'CreateBucketConfiguration');
    // Tags given at creation (CreateBucketConfiguration.Tags), held to PutBucketTagging's rules.
    if (conf.Tags !== undefined) {
      tags = tagSetFrom({ TagSet: conf.Tags });
      validateBucketTags(tags);
    }
    const constraint = xmlText(conf.LocationConstraint);
    // Any region a client may have been configured with is accepted as naming this server's region.
    if (constraint && constraint !== ctx.region && constraint !== 'us-east-1' && constraint !== 'auto' && constraint !== 'EU') {
      throw new S3Error('IllegalLocationConstraintException', `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`);
    }
    if (constraint) region = ctx.region;
  }
  const settings = { ...bucketCreationSettings(ctx), tags };
  const lockHeader = ctx.req.headers['x-amz-bucket-object-lock-enabled'];
  const objectLock = typeof lockHeader === 'string' && lockHeader.trim().toLowerCase() === 'true';
  for (let attempt = 1; !(await createOrReset(ctx, region, settings, objectLock)); attempt++) {
    // Each miss is a delete and a create of the name in between: S3 answers a create that keeps
    // meeting them OperationAborted, which clients retry.
    if (attempt === CREATE_ATTEMPTS) throw new S3Error('OperationAborted');
  }
  return { headers: { Location: `/${ctx.op.bucket}` } };
}

/** How often CreateBucket creates again when the bucket it found is deleted before it answers for it. */
const CREATE_ATTEMPTS = 3;

/**
 * Creates the bucket, or on us-east-1 answers a re-create of your own bucket by resetting its ACL
 * (S3's legacy rule there: 200 OK). False when that bucket was deleted meanwhile: its name is free
 * again, so the caller creates it again (S3's CreateBucket never answers NoSuchBucket).
 */
async function createOrReset(ctx: S3Context, region: string, settings: CreationSettings, objectLock: boolean): Promise<boolean> {
  try {
    const row = await ctx.services.buckets.create(ctx.projectId, ctx.op.bucket!, region, ctx.by, { objectLock });
    // A delete that took the new bucket before its settings were written came after this create,
    // which succeeded.
    await unlessDeleted(() => ctx.services.bucketConfig.initialize(row, settings, ctx.by));
    return true;
  } catch (err) {
    if (!(err instanceof S3Error && err.code === 'BucketAlreadyOwnedByYou' && ctx.region === 'us-east-1')) throw err;
  }
  // Read again: on a second attempt the bucket found before is gone, and this may be another.
  return unlessDeleted(async () => ctx.services.bucketConfig.putBucketAcl(await ctx.resolvedAgain(), 'private', ctx.by));
}

/** Runs `work` on the request's bucket: false when it finds the bucket deleted (NoSuchBucket). */
async function unlessDeleted(work: () => Promise<void>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (err) {
    if (err instanceof S3Error && err.code === 'NoSuchBucket') return false;
    throw err;
  }
}

interface CreationSettings {
  ownership: ObjectOwnership;
  acl: CannedAcl;
  tags?: Record<string, string>;
}

/** x-amz-object-ownership, and x-amz-acl or x-amz-grant-* on CreateBucket, checked before anything is created. */
function bucketCreationSettings(ctx: S3Context): Omit<CreationSettings, 'tags'> {
  const ownershipText = header(ctx.req, 'x-amz-object-ownership');
  if (ownershipText !== undefined && !(OBJECT_OWNERSHIP as readonly string[]).includes(ownershipText)) {
    throw new S3Error('InvalidArgument', 'Invalid x-amz-object-ownership header', { ArgumentName: 'x-amz-object-ownership', ArgumentValue: ownershipText });
  }
  const ownership = (ownershipText ?? 'BucketOwnerEnforced') as ObjectOwnership;
  const acl = aclFromHeaders(ctx) ?? 'private';
  if (acl !== 'private' && ownership === 'BucketOwnerEnforced') throw new S3Error('InvalidBucketAclWithObjectOwnership');
  // A new bucket blocks public access, so a public ACL cannot be given at creation.
  if (isPublicAclForBlock(acl)) throw new S3Error('InvalidBucketAclWithBlockPublicAccessError');
  return { ownership, acl };
}

export async function DeleteBucket(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  await ctx.services.buckets.delete(bucket, ctx.by);
  return { status: 204 };
}

export async function HeadBucket(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  return { headers: { 'x-amz-bucket-region': bucket.region } };
}

export async function GetBucketLocation(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  // us-east-1 is reported as an empty constraint, as AWS does.
  const value = bucket.region === 'us-east-1' ? '' : bucket.region;
  return { xml: { root: 'LocationConstraint', value: { '#text': value } } };
}

