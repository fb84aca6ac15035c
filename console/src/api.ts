// The console's client for the REST API (docs/rest-api.md), same origin under /api/v1.
// A console session is the `skep_session` cookie; requests that change state carry the session's
// CSRF token in X-CSRF-Token.

import type { PermissionLevel } from '../../src/auth/principal.js';
import type { AuditRow } from '../../src/storage/metadata/metadata-store.js';

export const API_BASE = '/api/v1';
/** The largest `limit` a list route takes. */
const MAX_PAGE = 1000;

export interface User {
  id: string;
  email: string;
}

export interface ProjectSummary {
  id: string;
  name: string;
  role?: string;
}

export interface Session {
  user: User;
  csrfToken: string;
  projects: ProjectSummary[];
}

export interface Project {
  id: string;
  name: string;
  createdAt: string;
  maxTokenDays: number | null;
  role?: string;
  /** The project's own S3 endpoint when the server has a project domain, else the server's. */
  s3Endpoint?: string;
}

export interface Bucket {
  name: string;
  region: string;
  createdAt: string;
  /** Null for a caller that reaches only prefixes of the bucket (bearer tokens; members see whole buckets). */
  objects: number | null;
  bytes: number | null;
}

export type Versioning = 'Disabled' | 'Enabled' | 'Suspended';

export interface DefaultRetention {
  mode: 'GOVERNANCE' | 'COMPLIANCE';
  days?: number;
  years?: number;
}

export interface LifecycleRule {
  id?: string;
  status: 'Enabled' | 'Disabled';
  filter: { prefix: string; tags: Record<string, string>; sizeGreaterThan?: number; sizeLessThan?: number };
  expiration?: { days?: number; date?: string; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
}

export interface CorsRuleView {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface BucketSettings {
  versioning: Versioning;
  objectLock: { enabled: boolean; defaultRetention: DefaultRetention | null };
  lifecycle: { rules: LifecycleRule[] } | null;
  encryption: { algorithm: 'AES256' } | null;
  cors: CorsRuleView[] | null;
  policy: string | null;
}

export interface ObjectVersion {
  versionId: string;
  isLatest: boolean;
  isDeleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: string;
  encryption: 'SSE-S3' | 'SSE-C' | null;
  retention: { mode: 'GOVERNANCE' | 'COMPLIANCE'; until: string } | null;
  legalHold: boolean;
}

export interface ObjectEntry {
  key: string;
  size: number;
  etag: string;
  lastModified: string;
}

/** One page of a list reply; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ObjectListing {
  items: ObjectEntry[];
  prefixes: string[];
  nextCursor: string | null;
}

export type TokenStatus = 'active' | 'expiring-soon' | 'expired' | 'disabled' | 'revoked';

/** src/credentials/token-service.ts's TokenView, as JSON. Never holds a secret. */
export interface TokenView {
  id: string;
  projectId: string;
  name: string;
  description: string;
  permission: PermissionLevel;
  permissionLabel: string;
  bucketScope: string[] | null;
  billing: boolean;
  allowedNetworks: string[] | null;
  rateLimit: number | null;
  accessKeyId: string;
  status: TokenStatus;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  disabledAt: string | null;
  revokedAt: string | null;
  rotationPending: boolean;
  rotationDeadline: string | null;
}

export interface Snippets {
  awsCli: string;
  rclone: string;
  boto3: string;
  jsSdk: string;
}

/** The reply to create and rotate: the only time the secrets are shown. */
export interface IssuedToken {
  token: TokenView;
  credentials: { bearerToken: string; accessKeyId: string; secretAccessKey: string };
  endpoint: string;
  region: string;
  snippets: Snippets;
}

export interface CreateTokenBody {
  name: string;
  description?: string;
  permission: PermissionLevel;
  bucketScope: string[] | null;
  expiresInDays?: number;
  billing?: boolean;
  allowedNetworks?: string[] | null;
  rateLimit?: number | null;
}

/** src/credentials/temporary-credentials.ts's TemporaryCredentialView, as JSON (never a secret). */
export interface TemporaryCredentials {
  id: string;
  tokenId: string;
  name: string;
  accessKeyId: string;
  permission: PermissionLevel;
  bucketScope: string[] | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
  status: 'active' | 'expired' | 'revoked';
}

/** The reply that carries temporary credentials' secrets, once. */
export interface IssuedTemporary {
  credential: TemporaryCredentials;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
  endpoint: string;
  region: string;
  snippets: Snippets;
}

export interface StorageQuota {
  maxBytes: number | null;
  maxObjects: number | null;
}

export interface QuotaReport {
  quota: StorageQuota | null;
  used: { bytes: number; objects: number };
}

export interface TokenUsage {
  tokenId: string;
  name: string | null;
  requests: RequestCounts;
  bytesIn: number;
  bytesOut: number;
}

export interface RequestCounts {
  read: number;
  write: number;
  list: number;
  delete: number;
  other: number;
}

export interface UsageDay {
  date: string;
  requests: RequestCounts;
  bytesIn: number;
  bytesOut: number;
  /** Stored at the end of the day (today: now); null before the first figure, after today, and in token reports. */
  storedBytes: number | null;
  objects: number | null;
}

export interface UsageReport {
  current: { bytes: number; objects: number };
  /** bytes and objects include the noncurrent versions versioning keeps (counted apart too). */
  buckets: { name: string; bytes: number; objects: number; noncurrentVersions: number; noncurrentBytes: number }[];
  days: UsageDay[];
}

/** src/storage/metadata/metadata-store.ts's AuditRow, as JSON. */
export type AuditEvent = Omit<AuditRow, 'at'> & { at: string };

/** Filters of the audit log (GET /projects/{id}/audit and its export). */
export interface AuditFilter {
  actor?: string;
  action?: string[];
  token?: string;
  bucket?: string;
  /** RFC 3339 times. */
  from?: string;
  to?: string;
}

export interface Member {
  userId: string;
  email: string;
  role: 'owner' | 'member';
}

export interface Presigned {
  url: string;
  method: 'GET' | 'PUT';
  expiresAt: string;
}

/** An RFC 9457 problem from the API, or a failure to reach it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    message: string,
    readonly field?: string,
    /** A 429's Retry-After: seconds until another attempt may succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A message that tells the person what went wrong, whatever was thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'The request was not valid.',
  401: 'Your session has ended. Sign in again.',
  403: 'You do not have permission to do that.',
  404: 'Not found.',
  409: 'That conflicts with the current state. Reload and try again.',
  413: 'That is too large.',
  429: 'Too many requests. Wait a moment and try again.',
  500: 'The server failed. Try again; if it keeps happening, check the server log.',
  502: 'The server could not be reached.',
  503: 'The server is not available right now. Try again shortly.',
};

/** Turns a non-2xx reply into an ApiError, reading problem+json when there is one. */
export async function problemFrom(res: Response): Promise<ApiError> {
  let slug = 'http';
  let message = STATUS_TEXT[res.status] ?? `The server answered ${res.status} ${res.statusText}.`;
  let field: string | undefined;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body = (await res.json()) as { type?: string; title?: string; detail?: string; field?: string };
      if (body.type) slug = body.type.split('/').pop() || slug;
      message = body.detail || body.title || message;
      field = body.field;
    } catch {
      // keep the generic message
    }
  }
  const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
  return new ApiError(res.status, slug, message, field, Number.isInteger(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
}

type Listener = () => void;

export class ApiClient {
  private csrfToken: string | null = null;
  private unauthenticatedListeners = new Set<Listener>();

  setCsrfToken(token: string | null): void {
    this.csrfToken = token;
  }

  /** Called whenever the API answers 401 to a signed-in request (the session ended). */
  onUnauthenticated(fn: Listener): () => void {
    this.unauthenticatedListeners.add(fn);
    return () => this.unauthenticatedListeners.delete(fn);
  }

  headers(method: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', ...extra };
    if (method !== 'GET' && method !== 'HEAD' && this.csrfToken) h['X-CSRF-Token'] = this.csrfToken;
    return h;
  }

  async request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(API_BASE + path, {
        method,
        credentials: 'same-origin',
        headers: this.headers(method, body === undefined ? {} : { 'Content-Type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', 'Could not reach the server. Check that skep is running and your network is up.');
    }
    if (!res.ok) {
      const err = await problemFrom(res);
      if (res.status === 401 && !opts.quiet401) this.unauthenticatedListeners.forEach((fn) => fn());
      throw err;
    }
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** Every item of a paged list: follows nextCursor with the largest page the API allows. */
  async listAll<T>(path: string): Promise<{ items: T[] }> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const qs = new URLSearchParams({ limit: String(MAX_PAGE) });
      if (cursor) qs.set('cursor', cursor);
      const page: Page<T> = await this.request<Page<T>>('GET', `${path}?${qs}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return { items };
  }

  // ---- session ----
  async signIn(email: string, password: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/session', { email, password }, { quiet401: true });
    this.csrfToken = s.csrfToken;
    return s;
  }
  async currentSession(): Promise<Session | null> {
    try {
      const s = await this.request<Session>('GET', '/session', undefined, { quiet401: true });
      this.csrfToken = s.csrfToken;
      return s;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return null;
      throw err;
    }
  }
  async signOut(): Promise<void> {
    try {
      await this.request<void>('DELETE', '/session', undefined, { quiet401: true });
    } finally {
      this.csrfToken = null;
    }
  }

  // ---- projects ----
  listProjects(): Promise<{ items: Project[] }> {
    return this.listAll('/projects');
  }
  createProject(name: string): Promise<Project> {
    return this.request('POST', '/projects', { name });
  }

  // ---- buckets ----
  listBuckets(p: string): Promise<{ items: Bucket[] }> {
    return this.listAll(`/projects/${enc(p)}/buckets`);
  }
  createBucket(p: string, name: string): Promise<Bucket> {
    return this.request('POST', `/projects/${enc(p)}/buckets`, { name });
  }
  deleteBucket(p: string, name: string, force: boolean): Promise<void> {
    return this.request('DELETE', `/projects/${enc(p)}/buckets/${enc(name)}${force ? '?force=true' : ''}`);
  }

  // ---- bucket settings ----
  bucketSettings(p: string, bucket: string): Promise<BucketSettings> {
    return this.request('GET', `/projects/${enc(p)}/buckets/${enc(bucket)}/settings`);
  }
  setVersioning(p: string, bucket: string, status: 'Enabled' | 'Suspended'): Promise<BucketSettings> {
    return this.request('PUT', `/projects/${enc(p)}/buckets/${enc(bucket)}/settings/versioning`, { status });
  }
  setObjectLock(p: string, bucket: string, defaultRetention: DefaultRetention | null): Promise<BucketSettings> {
    return this.request('PUT', `/projects/${enc(p)}/buckets/${enc(bucket)}/settings/object-lock`, { defaultRetention });
  }
  setLifecycle(p: string, bucket: string, rules: LifecycleRule[]): Promise<BucketSettings> {
    if (rules.length === 0) return this.request('DELETE', `/projects/${enc(p)}/buckets/${enc(bucket)}/settings/lifecycle`);
    return this.request('PUT', `/projects/${enc(p)}/buckets/${enc(bucket)}/settings/lifecycle`, { rules });
  }
  setEncryption(p: string, bucket: string, on: boolean): Promise<BucketSettings> {
    const path = `/projects/${enc(p)}/buckets/${enc(bucket)}/settings/encryption`;
    return on ? this.request('PUT', path, { algorithm: 'AES256' }) : this.request('DELETE', path);
  }

  // ---- objects ----
  listObjects(p: string, bucket: string, q: { prefix: string; cursor?: string | null; limit?: number }): Promise<ObjectListing> {
    const qs = new URLSearchParams({ prefix: q.prefix, delimiter: '/', limit: String(q.limit ?? 100) });
    if (q.cursor) qs.set('cursor', q.cursor);
    return this.request('GET', `/projects/${enc(p)}/buckets/${enc(bucket)}/objects?${qs}`);
  }
  objectContentUrl(p: string, bucket: string, key: string, versionId?: string): string {
    const version = versionId === undefined ? '' : `&versionId=${enc(versionId)}`;
    return `${API_BASE}/projects/${enc(p)}/buckets/${enc(bucket)}/objects/content?key=${enc(key)}${version}`;
  }
  deleteObject(p: string, bucket: string, key: string, versionId?: string): Promise<void> {
    const version = versionId === undefined ? '' : `&versionId=${enc(versionId)}`;
    return this.request('DELETE', `/projects/${enc(p)}/buckets/${enc(bucket)}/objects?key=${enc(key)}${version}`);
  }
  /** One key's versions and delete markers, newest first. */
  listVersions(p: string, bucket: string, key: string, cursor?: string | null): Promise<{ items: ObjectVersion[]; nextCursor: string | null }> {
    const qs = new URLSearchParams({ key, limit: '100' });
    if (cursor) qs.set('cursor', cursor);
    return this.request('GET', `/projects/${enc(p)}/buckets/${enc(bucket)}/objects/versions?${qs}`);
  }

  /**
   * Uploads one file with XMLHttpRequest, which (unlike fetch) reports upload progress.
   * Resolves with the stored object's key, size and ETag; abort() through the returned handle.
   */
  uploadObject(
    p: string,
    bucket: string,
    key: string,
    file: File,
    onProgress: (loaded: number, total: number) => void,
  ): { done: Promise<{ key: string; size: number; etag: string }>; abort: () => void } {
    const xhr = new XMLHttpRequest();
    const done = new Promise<{ key: string; size: number; etag: string }>((resolve, reject) => {
      xhr.open('PUT', this.objectContentUrl(p, bucket, key));
      xhr.withCredentials = true;
      for (const [k, v] of Object.entries(this.headers('PUT', { 'Content-Type': file.type || 'application/octet-stream' }))) {
        xhr.setRequestHeader(k, v);
      }
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(file.size, file.size);
          try {
            resolve(JSON.parse(xhr.responseText));
          } catch {
            resolve({ key, size: file.size, etag: '' });
          }
          return;
        }
        const res = new Response(xhr.responseText || null, {
          status: xhr.status,
          headers: { 'content-type': xhr.getResponseHeader('content-type') ?? '' },
        });
        if (xhr.status === 401) this.unauthenticatedListeners.forEach((fn) => fn());
        problemFrom(res).then(reject, reject);
      };
      xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted: the server could not be reached.'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
      xhr.send(file);
    });
    return { done, abort: () => xhr.abort() };
  }

  // ---- tokens ----
  listTokens(p: string): Promise<{ items: TokenView[] }> {
    return this.listAll(`/projects/${enc(p)}/tokens`);
  }
  createToken(p: string, body: CreateTokenBody): Promise<IssuedToken> {
    return this.request('POST', `/projects/${enc(p)}/tokens`, body);
  }
  tokenAction(p: string, id: string, action: 'disable' | 'enable' | 'revoke' | 'confirm-rotation'): Promise<TokenView> {
    return this.request('POST', `/projects/${enc(p)}/tokens/${enc(id)}/${action}`);
  }
  createTemporary(p: string, tokenId: string, body: { name?: string; durationSeconds?: number; permission?: PermissionLevel }): Promise<IssuedTemporary> {
    return this.request('POST', `/projects/${enc(p)}/tokens/${enc(tokenId)}/temporary-credentials`, body);
  }
  listTemporary(p: string, tokenId: string): Promise<{ items: TemporaryCredentials[] }> {
    return this.request('GET', `/projects/${enc(p)}/tokens/${enc(tokenId)}/temporary-credentials`);
  }
  revokeTemporary(p: string, tokenId: string, id: string): Promise<TemporaryCredentials> {
    return this.request('POST', `/projects/${enc(p)}/tokens/${enc(tokenId)}/temporary-credentials/${enc(id)}/revoke`);
  }
  projectQuota(p: string): Promise<QuotaReport> {
    return this.request('GET', `/projects/${enc(p)}/quota`);
  }
  setProjectQuota(p: string, q: StorageQuota): Promise<QuotaReport> {
    return this.request('PUT', `/projects/${enc(p)}/quota`, q);
  }
  bucketQuota(p: string, bucket: string): Promise<QuotaReport> {
    return this.request('GET', `/projects/${enc(p)}/buckets/${enc(bucket)}/quota`);
  }
  setBucketQuota(p: string, bucket: string, q: StorageQuota): Promise<QuotaReport> {
    return this.request('PUT', `/projects/${enc(p)}/buckets/${enc(bucket)}/quota`, q);
  }
  usageByToken(p: string, q: { from: string; to: string }): Promise<{ from: string; to: string; tokens: TokenUsage[] }> {
    return this.request('GET', `/projects/${enc(p)}/usage/tokens?from=${enc(q.from)}&to=${enc(q.to)}`);
  }

  rotateToken(p: string, id: string, graceDays?: number): Promise<IssuedToken> {
    return this.request('POST', `/projects/${enc(p)}/tokens/${enc(id)}/rotate`, graceDays === undefined ? {} : { graceDays });
  }

  /** A folder is an empty object whose key ends in "/" (as S3 consoles make them). */
  createFolder(p: string, bucket: string, prefix: string): Promise<unknown> {
    return this.putEmpty(`/projects/${enc(p)}/buckets/${enc(bucket)}/objects/content?key=${enc(prefix)}`);
  }
  private async putEmpty(path: string): Promise<unknown> {
    const res = await fetch(API_BASE + path, { method: 'PUT', credentials: 'same-origin', headers: this.headers('PUT', { 'Content-Type': 'application/x-directory' }), body: '' });
    if (!res.ok) throw await problemFrom(res);
    return res.json();
  }
  presign(p: string, bucket: string, key: string, expiresIn: number): Promise<Presigned> {
    return this.request('POST', `/projects/${enc(p)}/buckets/${enc(bucket)}/presign`, { key, method: 'GET', expiresIn });
  }

  // ---- audit ----
  audit(p: string, filter: AuditFilter, cursor: string | null, limit = 50): Promise<Page<AuditEvent>> {
    const qs = auditQuery(filter);
    qs.set('limit', String(limit));
    if (cursor) qs.set('cursor', cursor);
    return this.request('GET', `/projects/${enc(p)}/audit?${qs}`);
  }
  auditExportUrl(p: string, filter: AuditFilter, format: 'csv' | 'json'): string {
    const qs = auditQuery(filter);
    qs.set('format', format);
    return `${API_BASE}/projects/${enc(p)}/audit/export?${qs}`;
  }

  // ---- settings ----
  updateProject(p: string, patch: { name?: string; maxTokenDays?: number | null }): Promise<Project> {
    return this.request('PATCH', `/projects/${enc(p)}`, patch);
  }
  listMembers(p: string): Promise<{ items: Member[] }> {
    return this.request('GET', `/projects/${enc(p)}/members`);
  }
  addMember(p: string, email: string, role: Member['role']): Promise<Member> {
    return this.request('POST', `/projects/${enc(p)}/members`, { email, role });
  }
  setMemberRole(p: string, userId: string, role: Member['role']): Promise<Member> {
    return this.request('PATCH', `/projects/${enc(p)}/members/${enc(userId)}`, { role });
  }
  removeMember(p: string, userId: string): Promise<void> {
    return this.request('DELETE', `/projects/${enc(p)}/members/${enc(userId)}`);
  }
  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return this.request('POST', '/session/password', { currentPassword, newPassword });
  }

  // ---- usage ----
  /** The project's usage, or one bucket's when `bucket` is given. */
  usage(p: string, q: { from: string; to: string; bucket?: string }): Promise<UsageReport> {
    const qs = new URLSearchParams({ from: q.from, to: q.to });
    if (q.bucket) qs.set('bucket', q.bucket);
    return this.request('GET', `/projects/${enc(p)}/usage?${qs}`);
  }
}

function auditQuery(f: AuditFilter): URLSearchParams {
  const qs = new URLSearchParams();
  if (f.actor) qs.set('actor', f.actor);
  if (f.action?.length) qs.set('action', f.action.join(','));
  if (f.token) qs.set('token', f.token);
  if (f.bucket) qs.set('bucket', f.bucket);
  if (f.from) qs.set('from', f.from);
  if (f.to) qs.set('to', f.to);
  return qs;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

export const api = new ApiClient();
