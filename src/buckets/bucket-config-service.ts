import { S3Error } from '../s3/errors.js';
import type { BucketRow, BucketSettingName, MetadataStore } from '../storage/metadata/metadata-store.js';
import {
  aclsEnabled,
  CANNED_ACLS,
  DEFAULT_BUCKET_ACCESS,
  DEFAULT_PUBLIC_ACCESS_BLOCK,
  effectiveBlock,
  isPublicAclForBlock,
  type BucketAccess,
  type CannedAcl,
  type ObjectOwnership,
  type PublicAccessBlock,
} from '../auth/bucket-access.js';
import { isPublicPolicy, parseBucketPolicy, PolicyError, type BucketPolicy } from '../auth/bucket-policy.js';
import { corsRulesProblem, type CorsRule } from './cors.js';
import type { BucketService } from './bucket-service.js';
import type { RequestSource } from '../audit/actor.js';
import { quotasOf, type BucketQuotas } from '../quotas/quota-service.js';
import { validateBucketTags } from '../objects/tags.js';
import { hasNul } from '../util/nul.js';

// A bucket's configuration documents (CORS rules, policy, public access block, ownership
// controls, canned ACL) and objects' canned ACLs: validation, the rules between them (a public
// policy or ACL needs the public access block lifted; ACLs need Object Ownership other than
// BucketOwnerEnforced), and storage as JSON in bucket_settings through one write method.

/** A bucket as a request sees it: the row, what governs access to it, its CORS rules and quotas. */
export interface ResolvedBucket {
  row: BucketRow;
  access: BucketAccess;
  cors: CorsRule[] | null;
  /** The bucket's and its project's storage quotas; null when it has neither. */
  quota: BucketQuotas | null;
}

/** Stored in place of a deleted public access block or ownership controls (absent means S3's default). */
const DELETED = { deleted: true };

const ACCESS_SETTINGS: BucketSettingName[] = ['public-access-block', 'ownership-controls', 'policy', 'acl', 'cors'];
const NO_SETTINGS = Object.freeze({ access: DEFAULT_BUCKET_ACCESS, cors: null });

function parseJson<T>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

function isDeleted(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>).deleted === true;
}

/** The access settings a bucket's stored documents describe (S3's defaults where none is stored). */
export function accessFromSettings(bucketName: string, settings: Partial<Record<BucketSettingName, string>>): { access: BucketAccess; cors: CorsRule[] | null } {
  // Most buckets have none of these documents: no parsing, no allocation on the request path.
  if (!ACCESS_SETTINGS.some((name) => settings[name] !== undefined)) return NO_SETTINGS;
  const pab = parseJson<PublicAccessBlock | typeof DELETED>(settings['public-access-block']);
  const ownership = parseJson<ObjectOwnership | typeof DELETED>(settings['ownership-controls']);
  const policyText = parseJson<string>(settings.policy);
  return {
    access: {
      // A stored policy is read as stored: a condition key skep no longer accepts fails closed instead of failing the bucket.
      policy: policyText === undefined ? null : parseBucketPolicy(policyText, bucketName, { stored: true }),
      acl: parseJson<CannedAcl>(settings.acl) ?? 'private',
      publicAccessBlock: pab === undefined ? DEFAULT_PUBLIC_ACCESS_BLOCK : isDeleted(pab) ? null : (pab as PublicAccessBlock),
      ownership: ownership === undefined ? 'BucketOwnerEnforced' : isDeleted(ownership) ? null : (ownership as ObjectOwnership),
    },
    cors: parseJson<CorsRule[]>(settings.cors) ?? null,
  };
}

export function parseCannedAcl(value: string): CannedAcl {
  // bucket-owner-full-control and bucket-owner-read mean private here: the project owns every object.
  if (value === 'bucket-owner-full-control' || value === 'bucket-owner-read') return 'private';
  if (!(CANNED_ACLS as readonly string[]).includes(value)) {
    throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: value });
  }
  return value as CannedAcl;
}

export class BucketConfigService {
  constructor(
    private readonly meta: MetadataStore,
    /** Writes (and audits) each setting. */
    private readonly buckets: BucketService,
  ) {}

  /** The bucket with its access settings and CORS rules, in one query; null when it does not exist. */
  async resolve(projectId: string, name: string): Promise<ResolvedBucket | null> {
    if (hasNul(name)) return null;
    const found = await this.meta.getBucketWithSettings(projectId, name);
    if (!found) return null;
    const quota = quotasOf(found.settings.quota, found.projectQuota);
    // The row carries its settings: object writes read versioning, Object Lock and encryption there.
    return {
      row: { ...found.bucket, settings: found.settings, quotas: quota },
      ...accessFromSettings(found.bucket.name, found.settings),
      quota,
    };
  }

  /** Every configuration document is written (null removes it) and audited through BucketService.putSetting. */
  private writeSetting(bucket: BucketRow, name: BucketSettingName, value: unknown, by: RequestSource, change?: string): Promise<void> {
    return this.buckets.putSetting(bucket, name, value === null ? null : JSON.stringify(value), by, change);
  }

  /** Settings a CreateBucket asked for (only what differs from S3's defaults is stored). */
  async initialize(bucket: BucketRow, s: { ownership: ObjectOwnership; acl: CannedAcl; tags?: Record<string, string> }, by: RequestSource): Promise<void> {
    if (s.ownership !== 'BucketOwnerEnforced') await this.writeSetting(bucket, 'ownership-controls', s.ownership, by, s.ownership);
    if (s.acl !== 'private') await this.writeSetting(bucket, 'acl', s.acl, by, s.acl);
    if (s.tags && Object.keys(s.tags).length > 0) await this.putTags(bucket, s.tags, by);
  }

  // ---- tags ----

  /** The bucket's tags, as the row read them; NoSuchTagSet when it has none. */
  getTags(bucket: BucketRow): Record<string, string> {
    const stored = parseJson<Record<string, string>>(bucket.settings?.tagging);
    if (!stored) throw new S3Error('NoSuchTagSet', undefined, { BucketName: bucket.name });
    return stored;
  }

  /** Replaces the bucket's tags (S3's rules for them in objects/tags.ts); an empty set leaves none, as DeleteBucketTagging does. */
  async putTags(bucket: BucketRow, tags: Record<string, string>, by: RequestSource): Promise<void> {
    validateBucketTags(tags);
    const n = Object.keys(tags).length;
    if (n === 0) return this.deleteTags(bucket, by);
    await this.writeSetting(bucket, 'tagging', tags, by, `${n} tag${n === 1 ? '' : 's'}`);
  }

  deleteTags(bucket: BucketRow, by: RequestSource): Promise<void> {
    return this.writeSetting(bucket, 'tagging', null, by);
  }

  // ---- CORS ----

  getCors(b: ResolvedBucket): CorsRule[] {
    if (!b.cors) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: b.row.name });
    return b.cors;
  }

  async putCors(b: ResolvedBucket, rules: CorsRule[], by: RequestSource): Promise<void> {
    const problem = corsRulesProblem(rules);
    if (problem) throw new S3Error(rules.length === 0 ? 'MalformedXML' : 'InvalidRequest', problem);
    await this.writeSetting(b.row, 'cors', rules, by, `${rules.length} rule${rules.length === 1 ? '' : 's'}`);
  }

  deleteCors(b: ResolvedBucket, by: RequestSource): Promise<void> {
    return this.writeSetting(b.row, 'cors', null, by);
  }

  // ---- policy ----

  getPolicy(b: ResolvedBucket): string {
    if (!b.access.policy) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: b.row.name });
    return b.access.policy.text;
  }

  async putPolicy(b: ResolvedBucket, text: string, by: RequestSource): Promise<void> {
    let policy;
    try {
      policy = parseBucketPolicy(text, b.row.name);
    } catch (err) {
      if (err instanceof PolicyError) throw new S3Error('MalformedPolicy', err.message);
      throw err;
    }
    await this.requireKnownPrincipals(policy);
    if (effectiveBlock(b.access).blockPublicPolicy && isPublicPolicy(policy)) {
      throw new S3Error('AccessDenied', 'The bucket\'s public access block (BlockPublicPolicy) refuses a public policy.');
    }
    await this.writeSetting(b.row, 'policy', text, by, isPublicPolicy(policy) ? 'public' : 'not public');
  }

  /**
   * Every project and token a policy names must exist, as AWS refuses a principal that does not
   * ("Invalid principal in policy"): a Deny naming a mistyped key would deny no one.
   */
  private async requireKnownPrincipals(policy: BucketPolicy): Promise<void> {
    const invalid = (name: string) => new S3Error('MalformedPolicy', `Invalid principal in policy: ${name}`);
    // Names beside "*" too: a bad one is as bad there.
    for (const { principal } of policy.statements) {
      for (const id of principal.projectIds ?? []) {
        if (hasNul(id) || !(await this.meta.getProject(id))) throw invalid(id);
      }
      for (const key of principal.keys ?? []) {
        if (hasNul(key) || !((await this.meta.getTokenByAccessKeyId(key)) ?? (await this.meta.getToken(key)))) throw invalid(key);
      }
    }
  }

  deletePolicy(b: ResolvedBucket, by: RequestSource): Promise<void> {
    return this.writeSetting(b.row, 'policy', null, by);
  }

  /** GetBucketPolicyStatus: whether the policy grants anything to everyone. */
  policyIsPublic(b: ResolvedBucket): boolean {
    if (!b.access.policy) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: b.row.name });
    return isPublicPolicy(b.access.policy);
  }

  // ---- public access block ----

  getPublicAccessBlock(b: ResolvedBucket): PublicAccessBlock {
    if (!b.access.publicAccessBlock) throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: b.row.name });
    return b.access.publicAccessBlock;
  }

  putPublicAccessBlock(b: ResolvedBucket, block: PublicAccessBlock, by: RequestSource): Promise<void> {
    // Named as in S3's XML (BlockPublicAcls, ...).
    const on = Object.entries(block).filter(([, v]) => v === true).map(([k]) => k[0].toUpperCase() + k.slice(1));
    return this.writeSetting(b.row, 'public-access-block', block, by, on.length ? on.join(', ') : 'nothing blocked');
  }

  deletePublicAccessBlock(b: ResolvedBucket, by: RequestSource): Promise<void> {
    return this.writeSetting(b.row, 'public-access-block', DELETED, by, 'removed');
  }

  // ---- ownership controls ----

  getOwnership(b: ResolvedBucket): ObjectOwnership {
    if (!b.access.ownership) throw new S3Error('OwnershipControlsNotFoundError', undefined, { BucketName: b.row.name });
    return b.access.ownership;
  }

  async putOwnership(b: ResolvedBucket, ownership: ObjectOwnership, by: RequestSource): Promise<void> {
    // Enforcing bucket ownership disables ACLs; S3 refuses while the bucket ACL grants anything.
    if (ownership === 'BucketOwnerEnforced' && b.access.acl !== 'private') {
      throw new S3Error('InvalidBucketAclWithObjectOwnership', 'Bucket ACL must be private (only the owner has FULL_CONTROL) to enforce bucket ownership.');
    }
    await this.writeSetting(b.row, 'ownership-controls', ownership, by, ownership);
  }

  deleteOwnership(b: ResolvedBucket, by: RequestSource): Promise<void> {
    return this.writeSetting(b.row, 'ownership-controls', DELETED, by, 'removed');
  }

  // ---- ACLs ----

  /**
   * Whether `acl` may be set on the bucket or one of its objects now; throws as S3 does if not.
   * `named` is the x-amz-acl as sent: with ACLs disabled only bucket-owner-full-control (or private) passes, as on S3.
   */
  checkAcl(b: ResolvedBucket, acl: CannedAcl, named?: string): void {
    if (named === 'bucket-owner-read' && !aclsEnabled(b.access)) throw new S3Error('AccessControlListNotSupported');
    if (acl === 'private') return;
    if (!aclsEnabled(b.access)) throw new S3Error('AccessControlListNotSupported');
    if (isPublicAclForBlock(acl) && effectiveBlock(b.access).blockPublicAcls) {
      throw new S3Error('AccessDenied', 'The bucket\'s public access block (BlockPublicAcls) refuses a public ACL.');
    }
  }

  async putBucketAcl(b: ResolvedBucket, acl: CannedAcl, by: RequestSource, named?: string): Promise<void> {
    this.checkAcl(b, acl, named);
    await this.writeSetting(b.row, 'acl', acl === 'private' ? null : acl, by, acl);
  }

  async putObjectAcl(b: ResolvedBucket, key: string, acl: CannedAcl, named?: string): Promise<void> {
    this.checkAcl(b, acl, named);
    if (!(await this.meta.setObjectAcl(b.row.id, key, acl === 'private' ? null : acl))) throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  /**
   * The object's canned ACL, or null when the object is private or missing (for access decisions).
   * The ACL is the current version's, so it speaks for no other: a versionId naming an older
   * version gets null (private).
   */
  async peekObjectAcl(b: ResolvedBucket, key: string, versionId?: string): Promise<CannedAcl | null> {
    if (versionId === undefined) return ((await this.meta.getObjectAcl(b.row.id, key)) ?? null) as CannedAcl | null;
    const current = await this.meta.getObject(b.row.id, key);
    if (!current || (current.versionId ?? 'null') !== versionId) return null;
    return (current.acl ?? null) as CannedAcl | null;
  }

  /** Whether the key has a current object (for telling a missing key from a private one). */
  async objectExists(b: ResolvedBucket, key: string): Promise<boolean> {
    return (await this.meta.getObjectAcl(b.row.id, key)) !== undefined;
  }

  /** The object's canned ACL, or NoSuchKey. */
  async getObjectAcl(b: ResolvedBucket, key: string): Promise<CannedAcl> {
    const acl = await this.meta.getObjectAcl(b.row.id, key);
    if (acl === undefined) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return (acl ?? 'private') as CannedAcl;
  }
}
