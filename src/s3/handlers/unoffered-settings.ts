import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';

// Bucket settings skep does not offer (requester pays, transfer acceleration, server access
// logging), read as S3 reports them for a bucket that never set them: tools that read every
// setting of a bucket (s3cmd info, Terraform, inventory scripts) then see the truth rather than
// an error. Setting them stays NotImplemented. The bucket is read so that a missing one is
// NoSuchBucket, as for any other bucket operation.

export async function GetBucketRequestPayment(ctx: S3Context): Promise<S3Response> {
  await ctx.bucket();
  return { xml: { root: 'RequestPaymentConfiguration', value: { Payer: 'BucketOwner' } } };
}

/** No Status element: acceleration was never enabled nor suspended. */
export async function GetBucketAccelerateConfiguration(ctx: S3Context): Promise<S3Response> {
  await ctx.bucket();
  return { xml: { root: 'AccelerateConfiguration', value: {} } };
}

/** No LoggingEnabled element: access logging is off. */
export async function GetBucketLogging(ctx: S3Context): Promise<S3Response> {
  await ctx.bucket();
  return { xml: { root: 'BucketLoggingStatus', value: {} } };
}
