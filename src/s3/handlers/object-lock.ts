import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { onlyChildren, parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { governanceBypass } from '../actor.js';
import { versionIdOf } from './object.js';
import { RETENTION_MODES, type ObjectLockConfig } from '../../objects/object-lock.js';
import type { Retention, RetentionMode } from '../../storage/metadata/metadata-store.js';
import { parseIsoTimestamp } from '../../util/iso-time.js';

// Object Lock: the bucket's configuration (default retention), and each version's retention and
// legal hold.

const BODY_LIMIT = 64 * 1024;

function modeOf(text: string | undefined): RetentionMode {
  if (text === undefined || !(RETENTION_MODES as readonly string[]).includes(text)) throw new S3Error('MalformedXML', 'Mode must be GOVERNANCE or COMPLIANCE.');
  return text as RetentionMode;
}

function integerOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new S3Error('MalformedXML', 'Days and Years are integers.');
  return Number(text.trim());
}

export async function GetObjectLockConfiguration(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const { objectLock } = await ctx.services.protection.get(bucket);
  if (!objectLock) throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { BucketName: bucket.name });
  const d = objectLock.defaultRetention;
  const rule = d ? { Rule: { DefaultRetention: { Mode: d.mode, ...(d.days !== undefined ? { Days: d.days } : { Years: d.years }) } } } : {};
  return { xml: { root: 'ObjectLockConfiguration', value: { ObjectLockEnabled: 'Enabled', ...rule } } };
}

export async function PutObjectLockConfiguration(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  // A misspelt <Rule> read as absent would leave the bucket without the default retention asked for.
  const doc = onlyChildren(parseXml(await readSmallBody(ctx.req, ctx.auth.payload, BODY_LIMIT), 'ObjectLockConfiguration'), ['ObjectLockEnabled', 'Rule']);
  if (xmlText(doc.ObjectLockEnabled) !== 'Enabled') throw new S3Error('MalformedXML', 'ObjectLockEnabled must be Enabled.');
  const rules = xmlList(doc.Rule);
  if (rules.length > 1) throw new S3Error('MalformedXML', 'An Object Lock configuration has at most one Rule.');
  let defaultRetention: ObjectLockConfig['defaultRetention'] = null;
  const rule = xmlNode(rules[0]);
  if (rule) {
    onlyChildren(rule, ['DefaultRetention']);
    const d = rule.DefaultRetention === undefined ? undefined : onlyChildren(xmlNode(rule.DefaultRetention)!, ['Mode', 'Days', 'Years']);
    if (!d) throw new S3Error('MalformedXML', 'A Rule needs a DefaultRetention.');
    const days = integerOf(xmlText(d.Days));
    const years = integerOf(xmlText(d.Years));
    if ((days === undefined) === (years === undefined)) throw new S3Error('MalformedXML', 'A DefaultRetention takes either Days or Years.');
    defaultRetention = { mode: modeOf(xmlText(d.Mode)), ...(days !== undefined ? { days } : { years }) };
  }
  await ctx.services.protection.setObjectLock(bucket, { enabled: true, defaultRetention }, ctx.by);
  return {};
}

export async function GetObjectRetention(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const r = await ctx.services.objectLock.getRetention(bucket, ctx.op.key!, versionIdOf(ctx));
  return { xml: { root: 'Retention', value: { Mode: r.mode, RetainUntilDate: r.until.toISOString() } } };
}

export async function PutObjectRetention(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  const bypass = governanceBypass(ctx);
  const doc = parseXml(await readSmallBody(ctx.req, ctx.auth.payload, BODY_LIMIT), 'Retention');
  const mode = xmlText(doc.Mode);
  const until = xmlText(doc.RetainUntilDate);
  let retention: Retention | null = null;
  if (mode !== undefined || until !== undefined) {
    if (until === undefined) throw new S3Error('MalformedXML', 'A Retention needs both Mode and RetainUntilDate.');
    const date = parseIsoTimestamp(until);
    if (!date) throw new S3Error('MalformedXML', 'RetainUntilDate is not an ISO 8601 date.');
    retention = { mode: modeOf(mode), until: date };
  }
  await ctx.services.objectLock.putRetention(bucket, ctx.op.key!, versionId, retention, bypass);
  return {};
}

export async function GetObjectLegalHold(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const on = await ctx.services.objectLock.getLegalHold(bucket, ctx.op.key!, versionIdOf(ctx));
  return { xml: { root: 'LegalHold', value: { Status: on ? 'ON' : 'OFF' } } };
}

export async function PutObjectLegalHold(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const versionId = versionIdOf(ctx);
  const doc = parseXml(await readSmallBody(ctx.req, ctx.auth.payload, BODY_LIMIT), 'LegalHold');
  const status = xmlText(doc.Status);
  if (status !== 'ON' && status !== 'OFF') throw new S3Error('MalformedXML', 'Status must be ON or OFF.');
  await ctx.services.objectLock.putLegalHold(bucket, ctx.op.key!, versionId, status === 'ON');
  return {};
}
