import type { ParsedOperationName } from '../s3/endpoint.js';
import { evaluatePolicy, isPublicPolicy, resourceArn, type BucketPolicy, type PolicyCaller, type PolicyOutcome, type RequestFacts } from './bucket-policy.js';

// What a bucket says about who may reach it beyond its project's tokens: its policy, its canned
// ACL (and an object's), its public access block and its object ownership setting. Data only; the
// authorizer (authorize.ts) decides with it.

export const CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read'] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

export const OBJECT_OWNERSHIP = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'] as const;
export type ObjectOwnership = (typeof OBJECT_OWNERSHIP)[number];

export interface PublicAccessBlock {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

/** A new bucket blocks all public access, as AWS does since April 2023. */
export const DEFAULT_PUBLIC_ACCESS_BLOCK: PublicAccessBlock = { blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true };
const NO_BLOCK: PublicAccessBlock = { blockPublicAcls: false, ignorePublicAcls: false, blockPublicPolicy: false, restrictPublicBuckets: false };

export interface BucketAccess {
  policy: BucketPolicy | null;
  acl: CannedAcl;
  /** null: the configuration was deleted (nothing is blocked). */
  publicAccessBlock: PublicAccessBlock | null;
  /** null: the ownership controls were deleted (ACLs apply, as ObjectWriter). */
  ownership: ObjectOwnership | null;
  /** The object's canned ACL, for object requests that needed it (anonymous ones). */
  objectAcl?: CannedAcl | null;
}

/** A bucket with no settings stored: private, no policy, everything public blocked, ACLs disabled. */
export const DEFAULT_BUCKET_ACCESS: BucketAccess = { policy: null, acl: 'private', publicAccessBlock: DEFAULT_PUBLIC_ACCESS_BLOCK, ownership: 'BucketOwnerEnforced' };

export function effectiveBlock(access: BucketAccess): PublicAccessBlock {
  return access.publicAccessBlock ?? NO_BLOCK;
}

/** Whether ACLs take part in access decisions at all (Object Ownership is not BucketOwnerEnforced). */
export function aclsEnabled(access: BucketAccess): boolean {
  return access.ownership !== 'BucketOwnerEnforced';
}

/** Whether the ACL lets anyone at all (the AllUsers group) read: what opens anonymous access. */
export function grantsAllUsers(acl: CannedAcl | null | undefined): boolean {
  return acl === 'public-read' || acl === 'public-read-write';
}

/**
 * Whether Block Public Access counts the ACL as public, so BlockPublicAcls refuses it: AWS counts
 * any grant to AllUsers or to AuthenticatedUsers (every AWS account), authenticated-read included.
 */
export function isPublicAclForBlock(acl: CannedAcl | null | undefined): boolean {
  return grantsAllUsers(acl) || acl === 'authenticated-read';
}

/** The IAM action a bucket policy names for each S3 operation (null: none a policy can grant). */
export const POLICY_ACTION: Record<ParsedOperationName, string | null> = {
  ListBuckets: 's3:ListAllMyBuckets',
  CreateBucket: 's3:CreateBucket',
  DeleteBucket: 's3:DeleteBucket',
  HeadBucket: 's3:ListBucket',
  GetBucketLocation: 's3:GetBucketLocation',
  GetBucketVersioning: 's3:GetBucketVersioning',
  PutBucketVersioning: 's3:PutBucketVersioning',
  GetBucketLifecycleConfiguration: 's3:GetLifecycleConfiguration',
  PutBucketLifecycleConfiguration: 's3:PutLifecycleConfiguration',
  DeleteBucketLifecycle: 's3:PutLifecycleConfiguration',
  GetBucketEncryption: 's3:GetEncryptionConfiguration',
  PutBucketEncryption: 's3:PutEncryptionConfiguration',
  DeleteBucketEncryption: 's3:PutEncryptionConfiguration',
  GetBucketTagging: 's3:GetBucketTagging',
  PutBucketTagging: 's3:PutBucketTagging',
  DeleteBucketTagging: 's3:PutBucketTagging',
  GetObjectLockConfiguration: 's3:GetBucketObjectLockConfiguration',
  PutObjectLockConfiguration: 's3:PutBucketObjectLockConfiguration',
  GetBucketRequestPayment: 's3:GetBucketRequestPayment',
  GetBucketAccelerateConfiguration: 's3:GetAccelerateConfiguration',
  GetBucketLogging: 's3:GetBucketLogging',
  GetObjectRetention: 's3:GetObjectRetention',
  PutObjectRetention: 's3:PutObjectRetention',
  GetObjectLegalHold: 's3:GetObjectLegalHold',
  GetObjectAttributes: 's3:GetObjectAttributes',
  PutObjectLegalHold: 's3:PutObjectLegalHold',
  GetBucketAcl: 's3:GetBucketAcl',
  PutBucketAcl: 's3:PutBucketAcl',
  GetBucketCors: 's3:GetBucketCORS',
  PutBucketCors: 's3:PutBucketCORS',
  DeleteBucketCors: 's3:PutBucketCORS',
  GetBucketPolicy: 's3:GetBucketPolicy',
  PutBucketPolicy: 's3:PutBucketPolicy',
  DeleteBucketPolicy: 's3:DeleteBucketPolicy',
  GetBucketPolicyStatus: 's3:GetBucketPolicyStatus',
  GetPublicAccessBlock: 's3:GetBucketPublicAccessBlock',
  PutPublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  DeletePublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  GetBucketOwnershipControls: 's3:GetBucketOwnershipControls',
  PutBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  DeleteBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  DeleteObjects: 's3:DeleteObject',
  PutObject: 's3:PutObject',
  PostObject: 's3:PutObject',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  DeleteObject: 's3:DeleteObject',
  CopyObject: 's3:PutObject',
  GetObjectAcl: 's3:GetObjectAcl',
  PutObjectAcl: 's3:PutObjectAcl',
  GetObjectTagging: 's3:GetObjectTagging',
  PutObjectTagging: 's3:PutObjectTagging',
  DeleteObjectTagging: 's3:DeleteObjectTagging',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  UnsupportedBucketRead: null,
  UnsupportedBucketWrite: null,
  UnsupportedObjectRead: null,
  UnsupportedObjectWrite: null,
};

/**
 * The action of an operation that names a version (?versionId=, or a DeleteObjects entry's
 * VersionId): S3 names these apart, so a policy that allows s3:GetObject opens the current
 * version only, and a Deny of s3:DeleteObjectVersion protects old versions.
 */
const VERSION_ACTION: Partial<Record<ParsedOperationName, string>> = {
  GetObject: 's3:GetObjectVersion',
  HeadObject: 's3:GetObjectVersion',
  DeleteObject: 's3:DeleteObjectVersion',
  DeleteObjects: 's3:DeleteObjectVersion',
  GetObjectTagging: 's3:GetObjectVersionTagging',
  PutObjectTagging: 's3:PutObjectVersionTagging',
  DeleteObjectTagging: 's3:DeleteObjectVersionTagging',
  GetObjectAcl: 's3:GetObjectVersionAcl',
  PutObjectAcl: 's3:PutObjectVersionAcl',
  GetObjectAttributes: 's3:GetObjectVersionAttributes',
};

/** The IAM action a policy names for `op`, on the version `versionId` names when one is given. */
export function policyActionFor(op: ParsedOperationName, versionId: string | null | undefined): string | null {
  return (versionId != null ? VERSION_ACTION[op] : undefined) ?? POLICY_ACTION[op];
}

/** Operations x-amz-bypass-governance-retention applies to. */
const BYPASS_OPERATIONS = new Set<ParsedOperationName>(['DeleteObject', 'DeleteObjects', 'PutObjectRetention']);

/** Operations that make an object and may give it an ACL or tags as they do. */
const OBJECT_WRITES = new Set<ParsedOperationName>(['PutObject', 'CopyObject', 'CreateMultipartUpload', 'PostObject']);

/** What a request asks for beyond its operation, each of which S3 authorizes as an action of its own. */
export interface RequestExtras {
  /** x-amz-bypass-governance-retention: true. */
  bypassGovernance?: boolean;
  /** An ACL for the object it writes (x-amz-acl, x-amz-grant-*, a form's acl field). */
  setsAcl?: boolean;
  /** Tags for the object it writes (x-amz-tagging, a form's tagging field). */
  setsTags?: boolean;
}

/** Actions a request needs besides its operation's own (each judged as that one is); most need none. */
export function companionActions(op: ParsedOperationName, versionId: string | null | undefined, extras: RequestExtras = {}): string[] {
  const out: string[] = [];
  // GetObjectAttributes reads the object, so AWS asks for s3:GetObject(Version) as well.
  if (op === 'GetObjectAttributes') out.push(policyActionFor('GetObject', versionId)!);
  if (extras.bypassGovernance && BYPASS_OPERATIONS.has(op)) out.push('s3:BypassGovernanceRetention');
  // S3: an upload that sets the object's ACL or tags needs s3:PutObjectAcl / s3:PutObjectTagging
  // too, or a caller allowed only s3:PutObject could make its upload public.
  if (extras.setsAcl && OBJECT_WRITES.has(op)) out.push('s3:PutObjectAcl');
  if (extras.setsTags && OBJECT_WRITES.has(op)) out.push('s3:PutObjectTagging');
  return out;
}

/** Actions a bucket's canned ACL opens to everyone (READ: list; WRITE: create, overwrite, delete). */
const BUCKET_READ = new Set(['s3:ListBucket', 's3:ListBucketVersions', 's3:ListBucketMultipartUploads']);
const BUCKET_WRITE = new Set(['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']);
/** An object ACL's READ: the object, also by its version ID (the caller checks it names the version the ACL is on). */
const OBJECT_READ = new Set(['s3:GetObject', 's3:GetObjectVersion']);

/** Whether the object's own ACL could open `action` (so an anonymous request needs it read). */
export function objectAclMatters(action: string | null): boolean {
  return action !== null && OBJECT_READ.has(action);
}

/**
 * Managing the policy itself: a project's own tokens are never denied these by the policy (it
 * cannot lock out its own admins), and S3 answers anyone outside the owner account 405.
 */
const POLICY_MANAGEMENT = new Set(['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']);

export function isPolicyManagement(action: string | null): boolean {
  return action !== null && POLICY_MANAGEMENT.has(action);
}

/** What an upload may set on the object it makes (each its own action: see companionActions). */
const NEW_OBJECT_SETTINGS = new Set(['s3:PutObjectAcl', 's3:PutObjectTagging']);

function aclGrants(access: BucketAccess, action: string, requested: string | null): boolean {
  if (!aclsEnabled(access) || effectiveBlock(access).ignorePublicAcls) return false;
  if (grantsAllUsers(access.acl) && BUCKET_READ.has(action)) return true;
  // A bucket's WRITE lets anyone make objects there, and the writer owns what it makes: its ACL
  // and tags as it uploads them come with it (not a later PutObjectAcl on an object that exists).
  const newObject = requested === 's3:PutObject' && NEW_OBJECT_SETTINGS.has(action);
  if (access.acl === 'public-read-write' && (BUCKET_WRITE.has(action) || newObject)) return true;
  return grantsAllUsers(access.objectAcl) && OBJECT_READ.has(action);
}

/** What the bucket's policy says (None without one). */
export function policyOutcome(access: BucketAccess, caller: PolicyCaller, action: string, bucket: string, key: string | null, facts: RequestFacts): PolicyOutcome {
  if (!access.policy) return 'None';
  return evaluatePolicy(access.policy, caller, action, resourceArn(bucket, key), facts);
}

/**
 * An anonymous caller: the policy (unless public policies are restricted), then the ACLs.
 * `requested` is the request's own action when `action` is one it needs besides (see companionActions).
 */
export function anonymousAllowed(access: BucketAccess, action: string | null, bucket: string, key: string | null, facts: RequestFacts, requested: string | null = action): boolean {
  if (action === null) return false;
  const outcome = policyOutcome(access, { anonymous: true }, action, bucket, key, facts);
  if (outcome === 'Deny') return false;
  // RestrictPublicBuckets on a bucket whose policy is public shuts out everyone outside the
  // owner: what the policy allows and what the ACLs grant alike.
  if (effectiveBlock(access).restrictPublicBuckets && access.policy !== null && isPublicPolicy(access.policy)) return false;
  if (outcome === 'Allow') return true;
  return aclGrants(access, action, requested);
}

/** A token the level and scope already allow: only an explicit Deny in the policy takes it away. */
export function tokenDenied(access: BucketAccess, caller: PolicyCaller, action: string | null, bucket: string, key: string | null, facts: RequestFacts): boolean {
  if (action === null || POLICY_MANAGEMENT.has(action)) return false;
  return policyOutcome(access, caller, action, bucket, key, facts) === 'Deny';
}
