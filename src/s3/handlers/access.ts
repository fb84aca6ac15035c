import type { IncomingMessage } from 'node:http';
import { S3Error } from '../errors.js';
import { header, type S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { onlyChildren, parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { aclsEnabled, OBJECT_OWNERSHIP, type CannedAcl, type ObjectOwnership, type PublicAccessBlock } from '../../auth/bucket-access.js';
import { parseCannedAcl } from '../../buckets/bucket-config-service.js';
import { requireCurrentVersion } from './object.js';

// Bucket policy, policy status, public access block, ownership controls, and bucket and object
// ACLs (canned ACLs, with grant headers and AccessControlPolicy documents mapped onto them).

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

// ---- policy ----

export async function GetBucketPolicy(ctx: S3Context): Promise<S3Response> {
  const text = ctx.services.bucketConfig.getPolicy(await ctx.resolved());
  return { headers: { 'Content-Type': 'application/json' }, body: text };
}

export async function PutBucketPolicy(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  await ctx.services.bucketConfig.putPolicy(resolved, body.toString('utf8'), ctx.by);
  return { status: 204 };
}

export async function DeleteBucketPolicy(ctx: S3Context): Promise<S3Response> {
  await ctx.services.bucketConfig.deletePolicy(await ctx.resolved(), ctx.by);
  return { status: 204 };
}

export async function GetBucketPolicyStatus(ctx: S3Context): Promise<S3Response> {
  const isPublic = ctx.services.bucketConfig.policyIsPublic(await ctx.resolved());
  return { xml: { root: 'PolicyStatus', value: { IsPublic: isPublic ? 'true' : 'false' } } };
}

// ---- public access block ----

const BLOCK_FIELDS: [keyof PublicAccessBlock, string][] = [
  ['blockPublicAcls', 'BlockPublicAcls'],
  ['ignorePublicAcls', 'IgnorePublicAcls'],
  ['blockPublicPolicy', 'BlockPublicPolicy'],
  ['restrictPublicBuckets', 'RestrictPublicBuckets'],
];

export async function GetPublicAccessBlock(ctx: S3Context): Promise<S3Response> {
  const block = ctx.services.bucketConfig.getPublicAccessBlock(await ctx.resolved());
  const value = Object.fromEntries(BLOCK_FIELDS.map(([k, name]) => [name, block[k] ? 'true' : 'false']));
  return { xml: { root: 'PublicAccessBlockConfiguration', value } };
}

export async function PutPublicAccessBlock(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  // A misspelt setting read as absent would be false: the block lifted.
  const doc = onlyChildren(parseXml(body, 'PublicAccessBlockConfiguration'), BLOCK_FIELDS.map(([, name]) => name));
  const block = {} as PublicAccessBlock;
  for (const [k, name] of BLOCK_FIELDS) {
    const text = xmlText(doc[name])?.trim().toLowerCase();
    if (text !== undefined && text !== 'true' && text !== 'false') throw new S3Error('MalformedXML');
    block[k] = text === 'true';
  }
  await ctx.services.bucketConfig.putPublicAccessBlock(resolved, block, ctx.by);
  return {};
}

export async function DeletePublicAccessBlock(ctx: S3Context): Promise<S3Response> {
  await ctx.services.bucketConfig.deletePublicAccessBlock(await ctx.resolved(), ctx.by);
  return { status: 204 };
}

// ---- ownership controls ----

export async function GetBucketOwnershipControls(ctx: S3Context): Promise<S3Response> {
  const ownership = ctx.services.bucketConfig.getOwnership(await ctx.resolved());
  return { xml: { root: 'OwnershipControls', value: { Rule: { ObjectOwnership: ownership } } } };
}

export async function PutBucketOwnershipControls(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  const doc = onlyChildren(parseXml(body, 'OwnershipControls'), ['Rule']);
  const rule = doc.Rule === undefined ? undefined : onlyChildren(xmlNode(doc.Rule)!, ['ObjectOwnership']);
  const ownership = xmlText(rule?.ObjectOwnership)?.trim();
  if (!ownership || !(OBJECT_OWNERSHIP as readonly string[]).includes(ownership)) throw new S3Error('MalformedXML');
  await ctx.services.bucketConfig.putOwnership(resolved, ownership as ObjectOwnership, ctx.by);
  return {};
}

export async function DeleteBucketOwnershipControls(ctx: S3Context): Promise<S3Response> {
  await ctx.services.bucketConfig.deleteOwnership(await ctx.resolved(), ctx.by);
  return { status: 204 };
}

// ---- ACLs ----

function ownerOf(ctx: S3Context) {
  return { ID: ctx.projectId, DisplayName: ctx.projectId };
}

/** An AccessControlPolicy document for a canned ACL: the owning project's FULL_CONTROL, plus the groups it grants. */
export function aclDocument(ctx: S3Context, acl: CannedAcl): S3Response {
  const owner = ownerOf(ctx);
  const group = (uri: string, permission: string) => ({ Grantee: { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: uri }, Permission: permission });
  const grants: unknown[] = [{ Grantee: { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ...owner }, Permission: 'FULL_CONTROL' }];
  if (acl === 'public-read' || acl === 'public-read-write') grants.push(group(ALL_USERS, 'READ'));
  if (acl === 'public-read-write') grants.push(group(ALL_USERS, 'WRITE'));
  if (acl === 'authenticated-read') grants.push(group(AUTHENTICATED_USERS, 'READ'));
  return { xml: { root: 'AccessControlPolicy', value: { Owner: owner, AccessControlList: { Grant: grants } } } };
}

type Grant = { kind: 'owner' | 'all-users' | 'authenticated-users'; permission: string };

/** Names a grantee: the project itself, one of the two groups skep knows, or a 400 as S3 answers unknown users. */
function grantee(ctx: S3Context, by: { id?: string; uri?: string; email?: string }): Grant['kind'] {
  if (by.email !== undefined) throw new S3Error('UnresolvableGrantByEmailAddress', undefined, { EmailAddress: by.email });
  if (by.uri !== undefined) {
    if (by.uri === ALL_USERS) return 'all-users';
    if (by.uri === AUTHENTICATED_USERS) return 'authenticated-users';
    throw new S3Error('InvalidArgument', 'Invalid group uri', { ArgumentName: 'uri', ArgumentValue: by.uri });
  }
  if (by.id === ctx.projectId) return 'owner';
  throw new S3Error('InvalidArgument', 'Invalid id', { ArgumentName: 'CanonicalUser/ID', ArgumentValue: by.id ?? '' });
}

/** The permissions an ACL grant may name, and how many grants one ACL may hold (S3's limit). */
const PERMISSIONS = new Set(['FULL_CONTROL', 'WRITE', 'WRITE_ACP', 'READ', 'READ_ACP']);
const MAX_GRANTS = 100;

const GRANT_HEADERS: [string, string][] = [
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
];

function grantsFromHeaders(ctx: S3Context, req: IncomingMessage): Grant[] | null {
  const grants: Grant[] = [];
  let any = false;
  for (const [name, permission] of GRANT_HEADERS) {
    const value = header(req, name);
    if (value === undefined) continue;
    any = true;
    for (const part of value.split(',')) {
      const m = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(part);
      if (!m) throw new S3Error('InvalidArgument', undefined, { ArgumentName: name, ArgumentValue: value });
      const kind = m[1].toLowerCase();
      grants.push({ kind: grantee(ctx, kind === 'id' ? { id: m[2] } : kind === 'uri' ? { uri: m[2] } : { email: m[2] }), permission });
    }
  }
  return any ? grants : null;
}

/**
 * The grants an AccessControlPolicy document writes, grantees as named; MalformedACLError for a
 * body that is not one (malformed, or an element repeated where one belongs).
 */
function grantsOfDocument(body: Buffer): { id?: string; uri?: string; email?: string; permission: string }[] {
  try {
    const doc = parseXml(body, 'AccessControlPolicy');
    // Both are required: a document without its list would otherwise reset the ACL to private.
    if (doc.Owner === undefined || doc.AccessControlList === undefined) throw new S3Error('MalformedACLError');
    const grants = xmlList(xmlNode(doc.AccessControlList)?.Grant);
    if (grants.length > MAX_GRANTS) throw new S3Error('MalformedACLError');
    return grants.map((raw) => {
      const g = xmlNode(raw)!;
      const who = xmlNode(g.Grantee);
      const permission = xmlText(g.Permission)?.trim();
      if (!who || !permission || !PERMISSIONS.has(permission)) throw new S3Error('MalformedACLError');
      return { id: xmlText(who.ID)?.trim(), uri: xmlText(who.URI)?.trim(), email: xmlText(who.EmailAddress)?.trim(), permission };
    });
  } catch {
    throw new S3Error('MalformedACLError');
  }
}

function grantsFromXml(ctx: S3Context, body: Buffer): Grant[] {
  return grantsOfDocument(body).map(({ permission, ...by }) => ({ kind: grantee(ctx, by), permission }));
}

/** Grants as the canned ACL that says the same; other combinations have no canned form. */
function cannedFromGrants(grants: Grant[]): CannedAcl {
  const others = new Set(grants.filter((g) => g.kind !== 'owner').map((g) => `${g.kind}:${g.permission}`));
  const key = [...others].sort().join(' ');
  switch (key) {
    case '': return 'private';
    case 'all-users:READ': return 'public-read';
    case 'all-users:READ all-users:WRITE': return 'public-read-write';
    case 'authenticated-users:READ': return 'authenticated-read';
  }
  throw new S3Error('InvalidArgument', 'skep keeps ACLs as canned ACLs (private, public-read, public-read-write, authenticated-read); these grants match none of them.');
}

/** The ACL x-amz-acl or the x-amz-grant-* headers ask for (PutBucketAcl, PutObjectAcl, CreateBucket); null when neither is sent. */
export function aclFromHeaders(ctx: S3Context): CannedAcl | null {
  const canned = header(ctx.req, 'x-amz-acl');
  const grants = grantsFromHeaders(ctx, ctx.req);
  if (canned !== undefined && grants) throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  if (canned !== undefined) return parseCannedAcl(canned);
  return grants ? cannedFromGrants(grants) : null;
}

/** The ACL a PutBucketAcl / PutObjectAcl request asks for: x-amz-acl, x-amz-grant-* headers, or a document. */
async function requestedAcl(ctx: S3Context): Promise<CannedAcl> {
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  const fromHeaders = aclFromHeaders(ctx);
  // Headers and a document at once: S3 takes neither.
  if (fromHeaders && body.length > 0) throw new S3Error('UnexpectedContent');
  if (fromHeaders) return fromHeaders;
  if (body.length === 0) throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  return cannedFromGrants(grantsFromXml(ctx, body));
}

/**
 * x-amz-acl or the x-amz-grant-* headers on an object write (PutObject, CopyObject,
 * CreateMultipartUpload), checked against the bucket; null when neither is sent.
 */
export async function objectAclFromHeader(ctx: S3Context): Promise<CannedAcl | null> {
  const acl = aclFromHeaders(ctx);
  if (acl === null) return null;
  ctx.services.bucketConfig.checkAcl(await ctx.resolved(), acl, header(ctx.req, 'x-amz-acl'));
  return acl === 'private' ? null : acl;
}

export async function GetBucketAcl(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  return aclDocument(ctx, resolved.access.acl);
}

export async function PutBucketAcl(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  await ctx.services.bucketConfig.putBucketAcl(resolved, await requestedAcl(ctx), ctx.by, header(ctx.req, 'x-amz-acl'));
  return {};
}

export async function GetObjectAcl(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  await requireCurrentVersion(ctx, resolved.row);
  const acl = await ctx.services.bucketConfig.getObjectAcl(resolved, ctx.op.key!);
  // With ACLs disabled (BucketOwnerEnforced) a stored ACL grants nothing: S3 shows the owner's full control only.
  return aclDocument(ctx, aclsEnabled(resolved.access) ? acl : 'private');
}

export async function PutObjectAcl(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  await requireCurrentVersion(ctx, resolved.row);
  await ctx.services.bucketConfig.putObjectAcl(resolved, ctx.op.key!, await requestedAcl(ctx), header(ctx.req, 'x-amz-acl'));
  return {};
}
