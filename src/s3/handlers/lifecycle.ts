import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { onlyChildren, parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { expirationTime, type LifecycleFilter, type LifecycleRule } from '../../lifecycle/rules.js';

// GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration, DeleteBucketLifecycle: the
// XML grammar in and out; the rules themselves are validated by the service.

const BODY_LIMIT = 1024 * 1024;
type Node = Record<string, unknown>;

function integer(value: unknown, what: string): number | undefined {
  const text = xmlText(value);
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new S3Error('MalformedXML', `${what} must be an integer.`);
  return Number(text.trim());
}

function bool(value: unknown, what: string): boolean | undefined {
  const text = xmlText(value)?.trim();
  if (text === undefined) return undefined;
  if (text !== 'true' && text !== 'false') throw new S3Error('MalformedXML', `${what} must be true or false.`);
  return text === 'true';
}

function tagsOf(list: unknown): Record<string, string> {
  // A Map, not an object literal: "constructor" or "__proto__" is a tag key like any other.
  const tags = new Map<string, string>();
  for (const item of xmlList(list)) {
    const t = onlyChildren(xmlNode(item)!, ['Key', 'Value']);
    const key = xmlText(t.Key);
    const value = xmlText(t.Value);
    if (key === undefined || value === undefined) throw new S3Error('MalformedXML', 'A Tag needs a Key and a Value.');
    if (tags.has(key)) throw new S3Error('InvalidRequest', 'Duplicate Tag Keys are not allowed.');
    tags.set(key, value);
  }
  return Object.fromEntries(tags);
}

/** Filter: one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, or several under And. */
const PREDICATES = ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'];

function filterOf(f: Node): LifecycleFilter {
  onlyChildren(f, [...PREDICATES, 'And']);
  const single = ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan', 'And'].filter((name) => f[name] !== undefined);
  if (single.length > 1) throw new S3Error('MalformedXML', 'A Filter takes one predicate; combine several under And.');
  const and = f.And === undefined ? undefined : onlyChildren(xmlNode(f.And)!, PREDICATES);
  const source = and ?? f;
  const tags = tagsOf(source.Tag);
  if (!and && Object.keys(tags).length > 1) throw new S3Error('MalformedXML', 'A Filter takes one Tag; combine several under And.');
  const filter: LifecycleFilter = {
    prefix: xmlText(source.Prefix) ?? '',
    tags,
    sizeGreaterThan: integer(source.ObjectSizeGreaterThan, 'ObjectSizeGreaterThan'),
    sizeLessThan: integer(source.ObjectSizeLessThan, 'ObjectSizeLessThan'),
  };
  // Marked only where the shape would otherwise be lost: several predicates are written under And anyway.
  if (and && predicates(filter) < 2) filter.and = true;
  return filter;
}

/** How many predicates a filter has (an empty prefix is none). */
function predicates(f: LifecycleFilter): number {
  return (f.prefix ? 1 : 0) + Object.keys(f.tags).length + (f.sizeGreaterThan !== undefined ? 1 : 0) + (f.sizeLessThan !== undefined ? 1 : 0);
}

const RULE_ELEMENTS = ['ID', 'Filter', 'Prefix', 'Status', 'Expiration', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload', 'Transition', 'NoncurrentVersionTransition'];

function ruleOf(r: Node): LifecycleRule {
  onlyChildren(r, RULE_ELEMENTS);
  if (r.Transition !== undefined || r.NoncurrentVersionTransition !== undefined) {
    throw new S3Error('NotImplemented', 'Transition rules are not supported: skep keeps every object in one storage class.');
  }
  const filter = xmlNode(r.Filter);
  const legacy = xmlText(r.Prefix);
  if (filter && legacy !== undefined) throw new S3Error('MalformedXML', 'A rule takes either Filter or Prefix, not both.');
  if (!filter && legacy === undefined) throw new S3Error('MalformedXML', 'A rule needs a Filter (or a Prefix).');
  const status = xmlText(r.Status);
  if (status !== 'Enabled' && status !== 'Disabled') throw new S3Error('MalformedXML', 'A rule Status must be Enabled or Disabled.');
  const rule: LifecycleRule = {
    id: xmlText(r.ID) ?? '',
    status,
    filter: filter ? filterOf(filter) : { prefix: legacy!, tags: {} },
    ...(filter ? {} : { legacyPrefix: true }),
  };
  const exp = xmlNode(r.Expiration);
  if (exp) {
    onlyChildren(exp, ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
    const date = xmlText(exp.Date);
    rule.expiration = {
      days: integer(exp.Days, 'Days'),
      date: date === undefined ? undefined : date.trim(),
      expiredObjectDeleteMarker: bool(exp.ExpiredObjectDeleteMarker, 'ExpiredObjectDeleteMarker'),
    };
    for (const k of Object.keys(rule.expiration) as (keyof NonNullable<LifecycleRule['expiration']>)[]) if (rule.expiration[k] === undefined) delete rule.expiration[k];
  }
  const nve = xmlNode(r.NoncurrentVersionExpiration);
  if (nve) {
    onlyChildren(nve, ['NoncurrentDays', 'NewerNoncurrentVersions']);
    const days = integer(nve.NoncurrentDays, 'NoncurrentDays');
    if (days === undefined) throw new S3Error('MalformedXML', 'NoncurrentVersionExpiration needs NoncurrentDays.');
    const newer = integer(nve.NewerNoncurrentVersions, 'NewerNoncurrentVersions');
    rule.noncurrentVersionExpiration = { noncurrentDays: days, ...(newer !== undefined ? { newerNoncurrentVersions: newer } : {}) };
  }
  const abort = xmlNode(r.AbortIncompleteMultipartUpload);
  if (abort) {
    onlyChildren(abort, ['DaysAfterInitiation']);
    const days = integer(abort.DaysAfterInitiation, 'DaysAfterInitiation');
    if (days === undefined) throw new S3Error('MalformedXML', 'AbortIncompleteMultipartUpload needs DaysAfterInitiation.');
    rule.abortIncompleteMultipartUpload = { daysAfterInitiation: days };
  }
  return rule;
}

/** The Filter as it was written: under <And> when it was sent so, or when it has several predicates. */
function filterXml(f: LifecycleFilter): Node {
  const parts: Node = {};
  const tags = Object.entries(f.tags).map(([Key, Value]) => ({ Key, Value }));
  const count = predicates(f);
  if (f.prefix || count === 0) parts.Prefix = f.prefix;
  if (tags.length) parts.Tag = tags;
  if (f.sizeGreaterThan !== undefined) parts.ObjectSizeGreaterThan = f.sizeGreaterThan;
  if (f.sizeLessThan !== undefined) parts.ObjectSizeLessThan = f.sizeLessThan;
  return f.and || count > 1 ? { And: parts } : parts;
}

function ruleXml(r: LifecycleRule): Node {
  const out: Node = { ID: r.id };
  if (r.legacyPrefix) out.Prefix = r.filter.prefix;
  else out.Filter = filterXml(r.filter);
  out.Status = r.status;
  if (r.expiration) {
    const e = r.expiration;
    out.Expiration = e.days !== undefined ? { Days: e.days } : e.date !== undefined ? { Date: new Date(expirationTime(e.date)).toISOString() } : { ExpiredObjectDeleteMarker: e.expiredObjectDeleteMarker };
  }
  if (r.noncurrentVersionExpiration) {
    const n = r.noncurrentVersionExpiration;
    out.NoncurrentVersionExpiration = { NoncurrentDays: n.noncurrentDays, ...(n.newerNoncurrentVersions !== undefined ? { NewerNoncurrentVersions: n.newerNoncurrentVersions } : {}) };
  }
  if (r.abortIncompleteMultipartUpload) out.AbortIncompleteMultipartUpload = { DaysAfterInitiation: r.abortIncompleteMultipartUpload.daysAfterInitiation };
  return out;
}

export async function GetBucketLifecycleConfiguration(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const { lifecycle } = await ctx.services.protection.get(bucket);
  if (!lifecycle) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: bucket.name });
  return { xml: { root: 'LifecycleConfiguration', value: { Rule: lifecycle.rules.map(ruleXml) } } };
}

export async function PutBucketLifecycleConfiguration(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const doc = onlyChildren(parseXml(await readSmallBody(ctx.req, ctx.auth.payload, BODY_LIMIT), 'LifecycleConfiguration'), ['Rule']);
  const rules = xmlList(doc.Rule).map((r) => ruleOf(xmlNode(r)!));
  await ctx.services.protection.setLifecycle(bucket, rules, ctx.by);
  return {};
}

export async function DeleteBucketLifecycle(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  await ctx.services.protection.setLifecycle(bucket, null, ctx.by);
  return { status: 204 };
}
