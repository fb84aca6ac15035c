import type { StoredChecksum, ChecksumAlgorithm, ChecksumType } from '../../checksums/types.js';
import type { PermissionLevel } from '../../auth/principal.js';

// The MetadataStore holds every fact about projects, buckets, objects, multipart uploads and
// credentials. Implementations: SQLite (embedded default) and, later, PostgreSQL. Blob bytes live
// in the BlobStore; rows here reference them by opaque ref.

export interface ProjectRow {
  id: string;
  name: string;
  createdAt: Date;
  /** The longest expiry, in days, a token of this project may have; null: the global maximum. */
  maxTokenDays: number | null;
}

export interface BucketRow {
  id: string;
  projectId: string;
  name: string;
  region: string;
  createdAt: Date;
  /**
   * Every setting of the bucket, when it was read with them (getBucketWithSettings, the per-request
   * read): object writes consult versioning, Object Lock and default encryption here, so a PUT
   * needs no second round trip.
   */
  settings?: Partial<Record<BucketSettingName, string>>;
  /**
   * The bucket's and its project's storage quotas, when read for a request (with its settings)
   * and either has one: its writes are charged against them in their commit, and its deletes'
   * counts reach the shared counters before the answer.
   */
  quotas?: StorageQuotas | null;
}

/**
 * The configuration documents a bucket may have, each stored as JSON by the service that owns it
 * (a bucket without an entry has S3's default for it).
 */
export const BUCKET_SETTING_NAMES = [
  'cors',
  'policy',
  'public-access-block',
  'ownership-controls',
  'acl',
  'versioning',
  'object-lock',
  'lifecycle',
  'encryption',
  'tagging',
  'quota',
] as const;
export type BucketSettingName = (typeof BUCKET_SETTING_NAMES)[number];

/** One blob that holds a contiguous piece of an object's bytes (one per multipart part). */
export interface BlobPart {
  ref: string;
  size: number;
}

/** Headers S3 stores with an object and returns on GET/HEAD. Lower-case names. */
export interface StoredHeaders {
  'content-type'?: string;
  'content-encoding'?: string;
  'content-disposition'?: string;
  'content-language'?: string;
  'cache-control'?: string;
  expires?: string;
  /** Where a website endpoint would redirect a read of the object; kept and returned, as S3 does. */
  'x-amz-website-redirect-location'?: string;
}

/** How a write treats the versions already stored under its key (the bucket's versioning state). */
export type VersioningMode = 'unversioned' | 'enabled' | 'suspended';

export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

/** Object Lock retention of one version. */
export interface Retention {
  mode: RetentionMode;
  until: Date;
}

/** How an object's bytes are encrypted at rest (the keys themselves are never stored in clear). */
export type StoredEncryption =
  /** SSE-S3: a per-object data key, sealed under the master key. */
  | { kind: 'SSE-S3'; wrappedKey: string }
  /** SSE-C: the customer's key is never stored, only a salted HMAC of it to check later requests. */
  | { kind: 'SSE-C'; keySalt: string; keyHmac: string };

export interface ObjectRow {
  bucketId: string;
  key: string;
  size: number;
  /** Quoted ETag exactly as returned in the ETag header, e.g. "\"9b2cf535f27731c974343645a3985328\"" or "\"...-3\"". */
  etag: string;
  lastModified: Date;
  headers: StoredHeaders;
  /** x-amz-meta-* values, names lower-case without the prefix. */
  userMetadata: Record<string, string>;
  checksum: StoredChecksum | null;
  /** The bytes, in order. A single-PUT object has one blob; a multipart object one per part. */
  blobs: BlobPart[];
  /** Number of parts for multipart objects, null for single PUT. */
  partsCount: number | null;
  tags: Record<string, string>;
  storageClass: string;
  /** The version's ID; 'null' (the default when absent) for the null version. Reads always set it. */
  versionId?: string;
  /** Reads always set it; null: stored in clear. */
  encryption?: StoredEncryption | null;
  /** Object Lock: reads always set both. */
  retention?: Retention | null;
  legalHold?: LegalHold;
  /** The object's canned ACL (x-amz-acl, PutObjectAcl); null or absent: private. */
  acl?: string | null;
}

/**
 * A version's legal hold: on (true), off (false: one was placed and taken off), or null when none
 * was ever placed, which S3 tells apart (GetObjectLegalHold is then NoSuchObjectLockConfiguration,
 * and HEAD/GET carry no x-amz-object-lock-legal-hold).
 */
export type LegalHold = boolean | null;

/** One version of a key: the current object, a noncurrent version or a delete marker. */
export interface ObjectVersionRow extends ObjectRow {
  versionId: string;
  encryption: StoredEncryption | null;
  retention: Retention | null;
  legalHold: LegalHold;
  isLatest: boolean;
  /** A delete marker has no bytes: size 0, no blobs, etag ''. */
  isDeleteMarker: boolean;
  /** When it stopped being current; null for the current version. */
  noncurrentSince: Date | null;
}

/** A version as a listing returns it, with its place among its key's versions (newest highest). */
export interface ListedVersion extends ObjectVersionRow {
  seq: number;
}

export interface ListVersionsQuery {
  prefix: string;
  /** Versions of keys after this one, or with versionIdMarker, after that version of this key. */
  keyMarker?: string;
  versionIdMarker?: string;
  /**
   * The marker version's seq (ListedVersion.seq), when the caller has it: the listing then resumes
   * right after that place even if the version has been deleted since.
   */
  versionSeqMarker?: number;
  /** Start at this key inclusive (to skip a common prefix); ignored when keyMarker is tighter. */
  from?: string;
  limit: number;
}

/**
 * Decides, inside the write that would remove it, whether a version may go (Object Lock).
 * The store calls it on the row it is about to delete, and deletes only that state of the row.
 */
export type RemovalGuard = (version: ObjectVersionRow) => boolean;

/** What a listing shows of an object; of its checksum, the algorithm and type (not the value). */
export type ObjectSummary = Pick<ObjectRow, 'key' | 'size' | 'etag' | 'lastModified' | 'storageClass'> & { checksum: ChecksumSummary | null };
export type ChecksumSummary = Readonly<Pick<StoredChecksum, 'algorithm' | 'type'>>;

export interface ListObjectsQuery {
  /** Only keys starting with this prefix ('' for all). */
  prefix: string;
  /** Start strictly after this key (byte order), or at the beginning when undefined. */
  after?: string;
  /** Start at this key inclusive (used to skip past a common prefix). Ignored when `after` is set and greater. */
  from?: string;
  limit: number;
}

/** A delimiter listing's read (MetadataStore.listDelimited). */
export interface DelimitedListQuery {
  /** Only keys starting with this (the listing's prefix, or a scoped token's prefix within it). */
  range: string;
  /** The listing's prefix: a common prefix ends at the first delimiter after it. */
  prefix: string;
  delimiter: string;
  /** Start strictly after this key. */
  after?: string;
  /** Start at this key inclusive (past a common prefix). The tighter of `after` and `from` wins. */
  from?: string;
  /** Entries (keys and common prefixes together) to return at most. */
  limit: number;
}

/** An entry of a delimiter listing: an object, or a common prefix (a string). */
export type DelimitedEntry = ObjectSummary | string;

/** Common prefixes in a row of a versions listing, and the key its versions resume at (if any). */
export interface VersionPrefixes {
  commonPrefixes: string[];
  resume?: string;
}

export interface UploadRow {
  uploadId: string;
  bucketId: string;
  key: string;
  initiated: Date;
  headers: StoredHeaders;
  userMetadata: Record<string, string>;
  tags: Record<string, string>;
  storageClass: string;
  checksumAlgorithm: ChecksumAlgorithm | null;
  checksumType: ChecksumType | null;
  /** What the completed object gets (absent: none). */
  encryption?: StoredEncryption | null;
  /**
   * The Object Lock state CreateMultipartUpload's headers asked for, its retention resolved then
   * (null: none). `defaultRetention`: none was asked for, so the bucket's default at completion
   * applies instead (the resolved one is for older nodes, which read only that). Null: no headers.
   */
  objectLock?: { retention: Retention | null; legalHold: LegalHold; defaultRetention?: boolean } | null;
  /** The canned ACL the completed object gets (x-amz-acl at create); null or absent: private. */
  acl?: string | null;
  /** Present once the upload is completed: its row is kept a while with what the completion committed. */
  completion?: UploadCompletion;
}

/**
 * What a completed upload committed, kept with its row (for a day) so that a retried
 * CompleteMultipartUpload can be answered as the first one was, whatever became of the object since.
 */
export interface UploadCompletion {
  completedAt: Date;
  /** The object as committed: its quoted ETag, version ID ('null' unversioned), size and checksum. */
  etag: string;
  versionId: string;
  size: number;
  checksum: StoredChecksum | null;
  /** The part list the completion named, in order, with the parts' quoted ETags. */
  parts: CompletedPart[];
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

export interface PartRow {
  uploadId: string;
  partNumber: number;
  size: number;
  /** Quoted ETag. */
  etag: string;
  lastModified: Date;
  blob: BlobPart;
  checksum: StoredChecksum | null;
}

export interface ListUploadsQuery {
  prefix: string;
  /** Uploads with key > keyMarker, or key == keyMarker and uploadId > uploadIdMarker. */
  keyMarker?: string;
  uploadIdMarker?: string;
  /** Uploads with key >= from (a seek past a common prefix); with the markers, the tighter bound holds. */
  from?: string;
  limit: number;
}

export type PutCondition =
  | { kind: 'none' }
  /** If-None-Match: * — fail if the key exists. */
  | { kind: 'ifNoneMatch' }
  /** If-Match: "etag" — fail unless the key exists with this etag. */
  | { kind: 'ifMatch'; etag: string };

export type PutOutcome =
  | { ok: true; replaced: BlobPart[] }
  /**
   * locked: the write would remove a version Object Lock protects (the null version, when
   * versioning is suspended). versioned: an unversioned write found a versioned current row (the
   * bucket's versioning changed meanwhile): read the bucket again and retry with its mode.
   */
  | { ok: false; reason: 'exists' | 'missing' | 'etag-mismatch' | 'locked' | 'versioned' }
  /** quota: committing the write would take its bucket or project past a quota (nothing was written). */
  | { ok: false; reason: 'quota'; breach: QuotaBreach };

export type RemovalOutcome =
  | { ok: true; release: BlobPart[] }
  /** locked: the guard refused; changed: the current version is not the one `onlyIf` expected. */
  | { ok: false; reason: 'locked' | 'changed' };

/** Totals of one bucket. `objects` and `bytes` are the current versions'. */
export interface BucketStats {
  objects: number;
  bytes: number;
  /** Versions that are not current (delete markers excluded) and their bytes. */
  noncurrentVersions: number;
  noncurrentBytes: number;
  deleteMarkers: number;
}

/**
 * What a bucket stores, as quotas and usage count it: its current objects and the noncurrent
 * versions versioning keeps (they take space alike); delete markers hold nothing.
 */
export function storedTotals(s: BucketStats): StorageUsed {
  return { bytes: s.bytes + s.noncurrentBytes, objects: s.objects + s.noncurrentVersions };
}

/** An API token and its credentials. Secrets appear only as a hash or a ciphertext. */
export interface TokenRow {
  id: string;
  projectId: string;
  name: string;
  description: string;
  permission: PermissionLevel;
  /** Bucket names, or null for all buckets (including ones created later). */
  bucketScope: string[] | null;
  billing: boolean;
  createdAt: Date;
  createdBy: string;
  /** null only for the bootstrap credential. */
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  disabledAt: Date | null;
  revokedAt: Date | null;
  accessKeyId: string;
  /** The secret access key, encrypted (AES-256-GCM) under the master key. */
  secretCiphertext: string;
  /** Non-secret lookup prefix of the bearer token, and the SHA-256 of the whole token. */
  bearerPrefix: string;
  bearerHash: string;
  /** While a rotation is pending: the previous secret and bearer, valid until rotationDeadline. */
  previousSecretCiphertext: string | null;
  previousBearerPrefix: string | null;
  previousBearerHash: string | null;
  rotationDeadline: Date | null;
  /** Addresses and CIDR networks (IPv4, IPv6) the token may be used from; null: anywhere. */
  allowedNetworks: string[] | null;
  /** Requests per minute; null: no limit. */
  rateLimit: number | null;
}

/** Short-lived credentials made from a token. The secret is encrypted; the session token only hashed. */
export interface TemporaryCredentialRow {
  id: string;
  /** The token they act for. */
  tokenId: string;
  projectId: string;
  name: string;
  accessKeyId: string;
  secretCiphertext: string;
  /** SHA-256 (hex) of the session token. */
  sessionTokenHash: string;
  permission: PermissionLevel;
  /** Scope entries (bucket or bucket/prefix), or null for every bucket. */
  bucketScope: string[] | null;
  createdAt: Date;
  createdBy: string;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** The per-request read of temporary credentials: the row, its token, and the project's maximum token lifetime. */
export interface TemporaryCredentialRecord {
  credential: TemporaryCredentialRow;
  token: TokenRow;
  maxTokenDays: number | null;
}

/** A storage quota: the most bytes and objects allowed; null: no limit on that one. */
export interface StorageQuota {
  maxBytes: number | null;
  maxObjects: number | null;
}

/** What is stored: bytes and objects. */
export interface StorageUsed {
  bytes: number;
  objects: number;
}

/** The quotas that apply to one bucket's writes: its own and its project's. */
export interface StorageQuotas {
  bucket: StorageQuota | null;
  project: StorageQuota | null;
}

/** The quotas a write is held to in the transaction that commits it (see putObject). */
export interface QuotaCharge extends StorageQuotas {
  projectId: string;
}

/** A quota a write would pass: which one and which limit, what was stored before it and what it adds. */
export interface QuotaBreach {
  scope: 'bucket' | 'project';
  limit: 'bytes' | 'objects';
  quota: StorageQuota;
  used: StorageUsed;
  added: StorageUsed;
}

/**
 * The limit of `quota` that adding `added` to `used` would pass (objects first), or null when it
 * fits. Each limit stops only a write that adds to what it limits: over a lowered quota, a
 * smaller overwrite or a metadata-only self-copy still passes.
 */
export function exceededLimit(quota: StorageQuota, used: StorageUsed, added: StorageUsed): 'bytes' | 'objects' | null {
  if (quota.maxObjects !== null && added.objects > 0 && used.objects + added.objects > quota.maxObjects) return 'objects';
  if (quota.maxBytes !== null && added.bytes > 0 && used.bytes + added.bytes > quota.maxBytes) return 'bytes';
  return null;
}

/** What a committed object of `size` adds to its bucket, replacing the object made of `replaced` (none: a new key). */
export function storageAdded(size: number, replaced: readonly BlobPart[]): StorageUsed {
  return { bytes: size - replaced.reduce((n, b) => n + b.size, 0), objects: replaced.length > 0 ? 0 : 1 };
}

/** What removing a version made of `blobs` takes from its bucket (none: a delete marker, which holds nothing). */
export function storageRemoved(blobs: readonly BlobPart[]): StorageUsed {
  return blobs.length > 0 ? { bytes: -blobs.reduce((n, b) => n + b.size, 0), objects: -1 } : { bytes: 0, objects: 0 };
}

/** Counters of one token over a range of days (usage per token). */
export interface TokenUsage extends UsageCounters {
  /** '' for console sessions. */
  tokenId: string;
}

export interface CredentialRecord {
  token: TokenRow;
  /** The project's maximum token lifetime in days, or null for none. */
  maxTokenDays: number | null;
}

export type TokenPatch = Partial<Omit<TokenRow, 'id' | 'projectId' | 'accessKeyId' | 'createdAt' | 'createdBy'>>;

export type { AuditAction } from '../../audit/actions.js';
import type { AuditAction } from '../../audit/actions.js';

/** One audit event. Never holds a secret. */
export interface AuditRow {
  id: string;
  at: Date;
  action: AuditAction;
  /** Who acted, in one format (src/audit/actor.ts): token:<id>, user:<email>, cli:<user>, bootstrap, anonymous. */
  actor: string;
  tokenId: string | null;
  projectId: string | null;
  /** The bucket a bucket or object event is about. */
  bucket: string | null;
  /** The client address, when the event came from a request. */
  source: string | null;
  detail: string | null;
}

export interface AuditQuery {
  projectId?: string;
  tokenId?: string;
  actor?: string;
  bucket?: string;
  /** Any of these actions. */
  actions?: readonly AuditAction[];
  /** Events at or after this time. */
  since?: Date;
  /** Events before this time. */
  until?: Date;
  /** Events strictly before this time (for paging back). */
  before?: Date;
  /** With `before`: also events at exactly `before` whose id is lower (a keyset cursor of (at, id)). */
  beforeId?: string;
  limit: number;
}

/** A console user. The password is kept only as an argon2id hash. */
export interface UserRow {
  id: string;
  /** Lower-case. Unique. */
  email: string;
  passwordHash: string;
  createdAt: Date;
}

export type ProjectRole = 'owner' | 'member';

export interface MembershipRow {
  projectId: string;
  userId: string;
  role: ProjectRole;
}

/** A member of a project, with the user's email. */
export interface ProjectMemberRow extends MembershipRow {
  email: string;
}

/** A console session. `id` is the SHA-256 (hex) of the cookie value, never the value itself. */
export interface SessionRow {
  id: string;
  userId: string;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface UsageCounters {
  requestsRead: number;
  requestsWrite: number;
  requestsList: number;
  requestsDelete: number;
  requestsOther: number;
  bytesIn: number;
  bytesOut: number;
}

/** Counters to add to one (day, project, bucket, token) row. */
export interface UsageIncrement extends UsageCounters {
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  projectId: string;
  /** '' when the request named no bucket. */
  bucket: string;
  /** '' for console sessions. */
  tokenId: string;
}

export interface UsageQuery {
  projectId: string;
  /** Inclusive 'YYYY-MM-DD' bounds. */
  from: string;
  to: string;
  bucket?: string;
  tokenId?: string;
}

/** Counters of one day, summed over the rows the query selects. */
export interface UsageDay extends UsageCounters {
  day: string;
}

/** What one bucket stored on one day: the last snapshot taken that day (UTC). */
export interface StorageSnapshot {
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  projectId: string;
  /** The bucket's name (names, not ids, as in the usage counters). */
  bucket: string;
  bytes: number;
  objects: number;
}

export interface StorageQuery {
  projectId: string;
  /** Inclusive 'YYYY-MM-DD' bounds. */
  from: string;
  to: string;
  bucket?: string;
}

/**
 * A blob ledger record (see BlobLedgerTable in schema.ts): 'pending' while a write streams (or
 * after its writer crashed), 'released' once no row refers to it, 'collecting' while the
 * collector deletes it, 'collected' (a tombstone) afterwards.
 */
export type BlobLedgerState = 'pending' | 'released' | 'collecting' | 'collected';

export interface BlobLedgerEntry {
  ref: string;
  state: BlobLedgerState;
  at: Date;
  nodeId: string;
}

/** Which blobs rows referred to at one moment (see MetadataStore.snapshotBlobReferences). */
export interface BlobReferenceSnapshot {
  /** Which of `refs` (a batch: up to a few thousand) a row referred to. */
  referenced(refs: readonly string[]): Promise<Set<string>>;
  /** Lets go of the snapshot (its connection and scratch file). */
  close(): Promise<void>;
}

/** Options every store takes when it opens. */
export interface StoreOptions {
  /** This process's name in ledger records and pins (default: the host name and PID). */
  nodeId?: string;
  /** Told of each failed statement that is not a conflict (a taken key, a lost race): the backend's own failures. */
  onError?: (err: unknown) => void;
  /**
   * Keep the blob ledger in the write transactions (default: on). Off only for the embedded
   * default (SQLite and a local folder), where the folder's own temp files and a sweep of it
   * cover crashes and the two extra writes per upload would be pure cost.
   */
  blobLedger?: boolean;
}

/**
 * Every implementation passes the same contract tests (test/metadata-store.contract.ts).
 * Methods are async so PostgreSQL fits behind the same interface.
 */
export interface MetadataStore {
  // projects
  createProject(row: ProjectRow): Promise<void>;
  getProject(id: string): Promise<ProjectRow | null>;
  listProjects(): Promise<ProjectRow[]>;
  updateProject(id: string, patch: { name?: string; maxTokenDays?: number | null }): Promise<boolean>;

  // buckets (names are unique within a project)
  /** Creates the bucket with its initial settings (e.g. Object Lock) in one transaction. */
  createBucket(row: BucketRow, settings?: Partial<Record<BucketSettingName, string>>): Promise<'created' | 'exists'>;
  getBucket(projectId: string, name: string): Promise<BucketRow | null>;
  listBuckets(projectId: string): Promise<BucketRow[]>;
  /**
   * Deletes the bucket (its settings and completed uploads with it) if it has no objects, versions
   * and multipart uploads in progress; 'gone' when it no longer exists (e.g. a concurrent delete took it).
   */
  deleteBucket(bucketId: string): Promise<'deleted' | 'not-empty' | 'gone'>;

  // bucket settings (configuration documents as JSON text)
  /** Every setting the bucket has, by name. */
  getBucketSettings(bucketId: string): Promise<Partial<Record<BucketSettingName, string>>>;
  /** Sets (or with null removes) one setting; false when the bucket does not exist. */
  putBucketSetting(bucketId: string, name: BucketSettingName, value: string | null, at: Date): Promise<boolean>;
  /** Buckets (of every project) that have this setting, with its value, by bucket id after `afterId`. */
  bucketsWithSetting(name: BucketSettingName, afterId: string | null, limit: number): Promise<{ bucket: BucketRow; value: string }[]>;
  /**
   * The bucket, every setting it has and its project's storage quota, in one query (the
   * per-request bucket read).
   */
  getBucketWithSettings(
    projectId: string,
    name: string,
  ): Promise<{ bucket: BucketRow; settings: Partial<Record<BucketSettingName, string>>; projectQuota?: StorageQuota | null } | null>;

  // objects
  /** The current version of `key` (never a delete marker), or null. */
  getObject(bucketId: string, key: string): Promise<ObjectRow | null>;
  /**
   * Writes `row` as the current version of its key, atomically under `cond` (which applies to the
   * current version). unversioned: replaces the current (null) version. enabled: the current
   * version becomes noncurrent. suspended: `row` is the null version; a null version stored
   * before is replaced (unless `guard` refuses), another current version becomes noncurrent.
   * On success returns the blobs of what was replaced. With `quota`, the write adds what it stores
   * to its bucket's counters in the same transaction and is refused ('quota') when that would take
   * the bucket or its project past a quota: concurrent writes, on any node, are counted in turn.
   */
  putObject(row: ObjectRow, cond: PutCondition, versioning?: VersioningMode, guard?: RemovalGuard, quota?: QuotaCharge): Promise<PutOutcome>;
  /**
   * Unversioned delete: returns the deleted object's blobs, or null when it did not exist. With
   * `quota` (the bucket has one), the removal takes what it frees from the bucket's counters in
   * its own transaction, as putObject charges a write, and so for putDeleteMarker and
   * deleteObjectVersion: a recount of the counters is then ordered with it by the counter row.
   */
  deleteObject(bucketId: string, key: string, quota?: QuotaCharge): Promise<BlobPart[] | null>;
  /**
   * A delete without a version ID in a versioned bucket: `marker` (a delete marker) becomes the
   * current version; the current object becomes noncurrent, or under suspended versioning, a null
   * version is removed (unless `guard` refuses). With `onlyIf`, only when it accepts the current
   * version (null: none) as it stands when the marker commits.
   */
  putDeleteMarker(
    marker: { bucketId: string; key: string; versionId: string; lastModified: Date },
    versioning: 'enabled' | 'suspended',
    guard: RemovalGuard,
    onlyIf?: (current: ObjectVersionRow | null) => boolean,
    quota?: QuotaCharge,
  ): Promise<RemovalOutcome>;
  /** One version (current, noncurrent or a delete marker) by ID, or null. */
  getObjectVersion(bucketId: string, key: string, versionId: string): Promise<ObjectVersionRow | null>;
  /** The newest version of `key`: the current object, or a delete marker; null when it has none. */
  getLatestVersion(bucketId: string, key: string): Promise<ObjectVersionRow | null>;
  /**
   * Removes one version for good (if `guard` allows). When it was the newest, the next newest
   * becomes current. `deleted` is null when there was no such version.
   */
  deleteObjectVersion(
    bucketId: string,
    key: string,
    versionId: string,
    guard: RemovalGuard,
    quota?: QuotaCharge,
  ): Promise<{ ok: true; deleted: ObjectVersionRow | null; release: BlobPart[] } | { ok: false; reason: 'locked' }>;
  /** Every version and delete marker, by key (UTF-8 bytes), newest first within a key; O(limit). */
  listObjectVersions(bucketId: string, q: ListVersionsQuery): Promise<ListedVersion[]>;
  /**
   * From the position, up to `limit` common prefixes of a versions listing in a row, each walked
   * past in the same statement, and the key where versions resume (delimited-walk.ts); null when
   * this listing must be paged with listObjectVersions alone.
   */
  listVersionPrefixes(bucketId: string, q: DelimitedListQuery): Promise<VersionPrefixes | null>;
  /** Sets the tag set of the current version, or of `versionId`; the version's ID ('null' for the null version), or null when there is no such object. */
  setObjectTags(bucketId: string, key: string, tags: Record<string, string>, versionId?: string): Promise<string | null>;
  /**
   * Sets the Object Lock state of one version (the current one when versionId is undefined) if it
   * still is `expected`: 'missing' (no such object version), 'changed' (it is not), or 'ok'.
   */
  setObjectLock(
    bucketId: string,
    key: string,
    versionId: string | undefined,
    expected: { retention: Retention | null; legalHold: LegalHold },
    next: { retention: Retention | null; legalHold: LegalHold },
  ): Promise<'ok' | 'missing' | 'changed'>;
  /** The object's canned ACL (null: private), or undefined when there is no such object. */
  getObjectAcl(bucketId: string, key: string): Promise<string | null | undefined>;
  /** Sets the object's canned ACL; false when the object does not exist. */
  setObjectAcl(bucketId: string, key: string, acl: string | null): Promise<boolean>;
  /** Ordered by the UTF-8 bytes of the key; costs O(limit). */
  listObjects(bucketId: string, q: ListObjectsQuery): Promise<ObjectSummary[]>;
  /**
   * A delimiter listing's entries in key order, each common prefix walked past in the same
   * statement (delimited-walk.ts); null when this listing must be paged with listObjects instead.
   */
  listDelimited(bucketId: string, q: DelimitedListQuery): Promise<DelimitedEntry[] | null>;
  /** Object counts and byte totals of a bucket. */
  bucketStats(bucketId: string): Promise<BucketStats>;

  // multipart uploads
  createUpload(row: UploadRow): Promise<void>;
  /** The upload, in progress or completed (then with its `completion`). */
  getUpload(uploadId: string): Promise<UploadRow | null>;
  /** Insert or replace a part; { ok: false } if the upload is gone or completed. */
  putPart(row: PartRow): Promise<{ ok: true; replaced: BlobPart | null } | { ok: false }>;
  /** Parts with partNumber > afterPart, ascending. */
  listParts(uploadId: string, afterPart: number, limit: number): Promise<PartRow[]>;
  /** Uploads in progress, ordered by key bytes, then initiated time, then upload id. */
  listUploads(bucketId: string, q: ListUploadsQuery): Promise<UploadRow[]>;
  /**
   * In one transaction: put `object` (under `cond`), delete all the upload's parts and mark the
   * upload completed (at object.lastModified) with the object's ETag, version, size and checksum
   * and `parts`, the part list the completion named. Returns the blobs to release: those of the
   * replaced object and of parts not used by `object`. { ok: false, reason: 'no-such-upload' }
   * when the upload was completed or aborted meanwhile; 'invalid-part' when a blob of `object` is
   * no longer one of the upload's parts (a part re-uploaded meanwhile). `quota` as for
   * putObject: a refusal keeps the upload.
   */
  completeUpload(
    uploadId: string,
    object: ObjectRow,
    cond: PutCondition,
    versioning?: VersioningMode,
    guard?: RemovalGuard,
    parts?: CompletedPart[],
    quota?: QuotaCharge,
  ): Promise<{ ok: true; release: BlobPart[] } | { ok: false; reason: 'no-such-upload' } | { ok: false; reason: 'invalid-part' } | Exclude<PutOutcome, { ok: true }>>;
  /** Delete an upload in progress and its parts; returns the parts' blobs, or null if there was no such upload in progress. */
  abortUpload(uploadId: string): Promise<BlobPart[] | null>;
  /** Removes the rows of uploads completed before `before`; returns how many. */
  deleteCompletedUploads(before: Date): Promise<number>;

  // tokens
  createToken(row: TokenRow): Promise<void>;
  getToken(id: string): Promise<TokenRow | null>;
  getTokenByAccessKeyId(accessKeyId: string): Promise<TokenRow | null>;
  /**
   * The per-request credential read, in one query: the token an access key ID or a bearer prefix
   * (current or previous) names, with its project's maximum token lifetime.
   */
  findCredential(by: { accessKeyId: string } | { bearerPrefix: string }): Promise<CredentialRecord | null>;
  /** Newest first. */
  listTokens(projectId: string): Promise<TokenRow[]>;
  updateToken(id: string, patch: TokenPatch): Promise<boolean>;
  /**
   * Disables the token at `at` and, in the same transaction, revokes for good its temporary
   * credentials still in force (enabling the token again does not bring them back); returns those
   * credentials, or null when there is no such token.
   */
  disableToken(id: string, at: Date): Promise<TemporaryCredentialRow[] | null>;
  /** Records last-used times in one batch. */
  touchTokens(uses: { id: string; at: Date }[]): Promise<void>;

  // temporary credentials
  createTemporaryCredential(row: TemporaryCredentialRow): Promise<void>;
  /** The per-request read, in one query: the credentials, their token and the project's maximum token lifetime. */
  findTemporaryCredential(accessKeyId: string): Promise<TemporaryCredentialRecord | null>;
  getTemporaryCredential(id: string): Promise<TemporaryCredentialRow | null>;
  /** A token's temporary credentials, newest first. */
  listTemporaryCredentials(tokenId: string): Promise<TemporaryCredentialRow[]>;
  /** Sets revokedAt (once); false when there is no such row. */
  revokeTemporaryCredential(id: string, at: Date): Promise<boolean>;
  /** Deletes rows that expired before `before`; returns how many. */
  deleteExpiredTemporaryCredentials(before: Date): Promise<number>;

  // quotas and the storage counters they are checked against
  getProjectQuota(projectId: string): Promise<StorageQuota | null>;
  /** Sets (null removes) the project's quota; false when there is no such project. */
  setProjectQuota(projectId: string, quota: StorageQuota | null): Promise<boolean>;
  /**
   * Adds each delta to its bucket's counters (a missing row starts at zero), in one transaction;
   * a delta made (`at`) before the bucket's last recount is skipped, as the recount holds it.
   */
  addStorageCounters(deltas: { bucketId: string; bytes: number; objects: number; at: Date }[]): Promise<void>;
  /**
   * Replaces a bucket's counters with a recount of its versions (bucketStats: current and
   * noncurrent, delete markers aside), noting when; returns the recount.
   */
  recountStorage(bucketId: string): Promise<StorageUsed>;
  /** The counters of one bucket (zero when it has none). */
  bucketStorage(bucketId: string): Promise<StorageUsed>;
  /** The counters of every bucket of the project, summed. */
  projectStorage(projectId: string): Promise<StorageUsed>;

  // audit log
  appendAudit(row: AuditRow): Promise<void>;
  /** Newest first. */
  listAudit(q: AuditQuery): Promise<AuditRow[]>;
  /** Deletes events older than `before` (the retention period); returns how many. */
  pruneAudit(before: Date): Promise<number>;

  // users, memberships and sessions (console sign-in)
  /** 'exists' when the (lower-case) email is taken. */
  createUser(row: UserRow): Promise<'created' | 'exists'>;
  getUser(id: string): Promise<UserRow | null>;
  getUserByEmail(email: string): Promise<UserRow | null>;
  countUsers(): Promise<number>;
  /** Adds the user to the project, or changes the role of a member. */
  setMembership(row: MembershipRow): Promise<void>;
  getMembership(projectId: string, userId: string): Promise<MembershipRow | null>;
  /** The user's memberships, oldest project first. */
  listMemberships(userId: string): Promise<MembershipRow[]>;
  /** A project's members with their emails, by email. */
  listProjectMembers(projectId: string): Promise<ProjectMemberRow[]>;
  /** Removes the user from the project; false when not a member. */
  deleteMembership(projectId: string, userId: string): Promise<boolean>;
  /** Sets the password hash; false when there is no such user. */
  updateUserPassword(userId: string, passwordHash: string): Promise<boolean>;
  /** Ends the user's sessions (all but `exceptSessionId`); returns how many. */
  deleteUserSessions(userId: string, exceptSessionId?: string): Promise<number>;
  createSession(row: SessionRow): Promise<void>;
  getSession(id: string): Promise<SessionRow | null>;
  deleteSession(id: string): Promise<void>;
  /** Removes sessions that expired at or before `now`; returns how many. */
  deleteExpiredSessions(now: Date): Promise<number>;

  // usage counters
  /** Adds each increment to its (day, project, bucket, token) row, in one transaction. */
  addUsage(increments: UsageIncrement[]): Promise<void>;
  /** One entry per day that has counters in the selection, ascending. */
  usageByDay(q: UsageQuery): Promise<UsageDay[]>;
  /** One entry per token with counters in the selection (the project and days of `q`), by token id. */
  usageByToken(q: Omit<UsageQuery, 'tokenId'>): Promise<TokenUsage[]>;
  /** Sets (replaces) each bucket's stored bytes and objects for its day, in one transaction. */
  putStorageSnapshots(rows: StorageSnapshot[]): Promise<void>;
  /**
   * The snapshots of the days in [from, to] and, for each bucket, its latest one before `from`
   * (to carry forward into the range); ordered by day, then bucket.
   */
  storageSnapshots(q: StorageQuery): Promise<StorageSnapshot[]>;

  /**
   * Every blob ref referenced by an object, an object version or a part, for the orphan sweep: one
   * snapshot, read `pageSize` rows at a time (default 1000).
   */
  referencedBlobRefs(pageSize?: number): Promise<Set<string>>;
  /**
   * The same refs, from one snapshot, for the orphan sweep to ask about a batch at a time. On
   * SQLite they are copied off the store's connection into a scratch file (memory does not grow
   * with the objects: see sqlite-blob-references.ts); elsewhere they are referencedBlobRefs().
   */
  snapshotBlobReferences(signal?: AbortSignal): Promise<BlobReferenceSnapshot>;

  // blob ledger: garbage collection that never lists the blob store (see BlobLedgerTable).
  // With StoreOptions.blobLedger on, the writes above keep it: a commit adopts its new blobs
  // (removing their 'pending' records; it fails if one was collected meanwhile) and records the
  // blobs it replaced as 'released'.
  /** Records blobs about to be written. */
  recordPendingBlobs(refs: string[], at: Date): Promise<void>;
  /** Their writes are still streaming: moves their pending time to `at`. */
  renewPendingBlobs(refs: string[], at: Date): Promise<void>;
  /** Drops the records of blobs that are gone (deleted, or never written). */
  forgetBlobs(refs: string[]): Promise<void>;
  /** The oldest records in `state` set at or before `before`. */
  dueBlobs(state: BlobLedgerState, before: Date, limit: number): Promise<BlobLedgerEntry[]>;
  /** Moves a record from the state it was seen in to `to`; false when someone else moved it first. */
  moveBlob(seen: BlobLedgerEntry, to: BlobLedgerState, at: Date): Promise<boolean>;

  // read pins shared by the nodes on one store: a read that lasts pins its blobs here, so no node
  // collects them meanwhile
  /** Records (or extends) this node's pins of `refs` until `expiresAt`. */
  holdPins(refs: string[], expiresAt: Date): Promise<void>;
  dropPins(refs: string[]): Promise<void>;
  /** Which of `refs` any node pins at `now`. */
  pinnedBlobs(refs: string[], now: Date): Promise<Set<string>>;

  // rate-limiter events, for limits that several nodes share (limits/store-limiter-state.ts)
  /** Times of the key's events at or after `since`, oldest first. */
  limiterEvents(key: string, since: number): Promise<number[]>;
  addLimiterEvent(key: string, at: number): Promise<void>;
  /**
   * Adds the event only while the key has fewer than `max` events at or after `since`; counted and
   * added atomically across every process using the store. Whether it was added.
   */
  addLimiterEventBelow(key: string, max: number, since: number, at: number): Promise<boolean>;
  /** Forgets the key's events (all of them, or those before `before`); with no key, every key's before `before`. */
  clearLimiterEvents(q: { key: string; before?: number } | { before: number }): Promise<void>;

  /**
   * Runs `fn` holding the lock `name`, which every process using this store respects (an advisory
   * lock on PostgreSQL): for start-up work such as bootstrapping that two nodes must not do at once.
   */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;

  // copying a whole database to another (skep migrate; see table-copy.ts)
  /** Tables this code does not know how to copy (a newer schema); empty when it knows them all. */
  unknownTables(): Promise<string[]>;
  /** Every row of the tables a migration copies, a page at a time, parents before children. */
  exportRows(): AsyncIterable<{ table: string; rows: Record<string, unknown>[] }>;
  /** Inserts rows exported from a store of the same schema. */
  importRows(table: string, rows: Record<string, unknown>[]): Promise<void>;

  /**
   * Marks the database as the target of a migration that has not finished (on), or finished
   * (off): `serve` refuses a marked database, whose copy is partial.
   */
  setMigrationMark(on: boolean): Promise<void>;
  /** Whether a migration into this database started and did not finish. */
  hasMigrationMark(): Promise<boolean>;

  /** Throws when the database does not answer (for readiness checks). */
  ping(): Promise<void>;

  // leases of singleton background jobs (one node runs them at a time)
  /**
   * Takes or renews the lease `name` for `holder` until `until`, unless another holder's lease is
   * still valid at `now`. Returns the job's saved state, or null when another node holds it.
   */
  acquireLease(name: string, holder: string, now: Date, until: Date): Promise<{ state: string | null } | null>;
  /** Saves the job's state and extends the lease, only while `holder` holds it; false otherwise. */
  saveLeaseState(name: string, holder: string, state: string | null, until: Date): Promise<boolean>;
  /** Lets the lease go (if `holder` holds it), keeping its state. */
  releaseLease(name: string, holder: string): Promise<void>;

  close(): Promise<void>;
}
