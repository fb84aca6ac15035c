import { S3Error } from '../errors.js';
import { header, type S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { onlyChildren, parseXml, xmlText } from '../xml.js';

// GetBucketVersioning and PutBucketVersioning (Enabled, Suspended; MFA delete refused).

export async function GetBucketVersioning(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const { versioning } = await ctx.services.protection.get(bucket);
  // A bucket that never had versioning enabled answers an empty configuration, as S3 does.
  return { xml: { root: 'VersioningConfiguration', value: versioning === 'Unversioned' ? {} : { Status: versioning } } };
}

export async function PutBucketVersioning(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  // A misspelt <Status> read as absent would change nothing and answer 200.
  const doc = onlyChildren(parseXml(body, 'VersioningConfiguration'), ['Status', 'MfaDelete']);
  const status = xmlText(doc.Status);
  const mfa = xmlText(doc.MfaDelete);
  if (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled') throw new S3Error('MalformedXML', 'MfaDelete must be Enabled or Disabled.');
  if (mfa === 'Enabled' || header(ctx.req, 'x-amz-mfa') !== undefined) {
    throw new S3Error('NotImplemented', 'MFA delete is not supported by skep: there is no MFA device to authenticate with. Leave MfaDelete unset or Disabled.');
  }
  if (status === undefined) return {}; // nothing to change
  if (status !== 'Enabled' && status !== 'Suspended') throw new S3Error('MalformedXML', 'Status must be Enabled or Suspended.');
  await ctx.services.protection.setVersioning(bucket, status, ctx.by);
  return {};
}
