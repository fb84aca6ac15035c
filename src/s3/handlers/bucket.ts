import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { parseXml, xmlText } from '../xml.js';
import { inScope } from '../../auth/authorize.js';

// Service- and bucket-level operations.

export function owner(ctx: S3Context): { ID: string; DisplayName: string } {
  return { ID: ctx.auth.principal.projectId, DisplayName: ctx.auth.principal.projectId };
}

export async function ListBuckets(ctx: S3Context): Promise<S3Response> {
  const buckets = await ctx.services.objects.listBuckets(ctx.auth.principal.projectId);
  const prefix = ctx.op.query.get('prefix') ?? '';
  // A scoped token sees only its buckets; the rest are not revealed.
  const visible = buckets.filter((b) => b.name.startsWith(prefix) && inScope(ctx.auth.principal, b.name));
  return {
    xml: {
      root: 'ListAllMyBucketsResult',
      value: {
        Owner: owner(ctx),
        Buckets: { Bucket: visible.map((b) => ({ Name: b.name, CreationDate: b.createdAt.toISOString(), BucketRegion: b.region })) },
        ...(prefix ? { Prefix: prefix } : {}),
      },
    },
  };
}

export async function CreateBucket(ctx: S3Context): Promise<S3Response> {
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  let region = ctx.region;
  if (body.length > 0) {
    const conf = parseXml(body.toString('utf8'), 'CreateBucketConfiguration');
    const constraint = xmlText(conf.LocationConstraint);
    // Any region a client may have been configured with is accepted as naming this server's region.
    if (constraint && constraint !== ctx.region && constraint !== 'us-east-1' && constraint !== 'auto' && constraint !== 'EU') {
      throw new S3Error('IllegalLocationConstraintException', `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`);
    }
    if (constraint) region = ctx.region;
  }
  const lockHeader = ctx.req.headers['x-amz-bucket-object-lock-enabled'];
  const objectLock = typeof lockHeader === 'string' && lockHeader.trim().toLowerCase() === 'true';
  await ctx.services.objects.createBucket(ctx.auth.principal.projectId, ctx.op.bucket!, region, { objectLock });
  return { headers: { Location: `/${ctx.op.bucket}` } };
}

export async function DeleteBucket(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  await ctx.services.objects.deleteBucket(bucket);
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

/** The fixed ACL skep reports: the owning project has full control; nothing else is granted. */
export function ownerAcl(ctx: S3Context): S3Response {
  const o = owner(ctx);
  return {
    xml: {
      root: 'AccessControlPolicy',
      value: {
        Owner: o,
        AccessControlList: {
          Grant: [{
            Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...o },
            Permission: 'FULL_CONTROL',
          }],
        },
      },
    },
  };
}

export async function GetBucketAcl(ctx: S3Context): Promise<S3Response> {
  await ctx.bucket();
  return ownerAcl(ctx);
}
