import type { TestServer } from './server.js';
import type { ProjectRole } from '../../src/storage/metadata/metadata-store.js';
import type { IssuedCredentials, TokenView } from '../../src/credentials/token-service.js';

// A small client for the REST API tests: JSON in and out, bearer or session credentials.

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One page of a listing route. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A signed-in console user: the cookie to send back and the CSRF token for state changes. */
export interface Session {
  cookie: string;
  csrf: string;
  userId: string;
  email: string;
}

export type As = { bearer: string } | { session: Session; csrf?: boolean | string } | undefined;

export interface CallOptions {
  as?: As;
  /** JSON body (serialized), or a raw string/Buffer/stream. */
  json?: unknown;
  raw?: RequestInit['body'];
  headers?: Record<string, string>;
}

export async function call<T = any>(server: Pick<TestServer, 'url'>, method: string, path: string, o: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.as && 'bearer' in o.as) headers.authorization = `Bearer ${o.as.bearer}`;
  if (o.as && 'session' in o.as) {
    headers.cookie = `skep_session=${o.as.session.cookie}`;
    const csrf = o.as.csrf ?? true;
    if (csrf === true) headers['x-csrf-token'] = o.as.session.csrf;
    else if (typeof csrf === 'string') headers['x-csrf-token'] = csrf;
  }
  let body: RequestInit['body'] = o.raw;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body, ...(body && typeof body === 'object' && 'pipe' in body ? { duplex: 'half' } : {}) } as RequestInit);
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text && /json/.test(res.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

let users = 0;

/** Creates a user (optionally a member of a project) and signs in. */
export async function userSession(server: TestServer, o: { projectId?: string; role?: ProjectRole; email?: string } = {}): Promise<Session> {
  const email = o.email ?? `user${++users}-${process.pid}@example.com`;
  const password = `password-${users}-correct-horse`;
  const user = await server.services.users.createUser({ email, password, createdBy: 'test' });
  if (o.projectId) await server.services.users.addMember(o.projectId, user.id, o.role ?? 'member');
  return signIn(server, email, password);
}

export async function signIn(server: Pick<TestServer, 'url'>, email: string, password: string): Promise<Session> {
  const r = await call(server, 'POST', '/session', { json: { email, password } });
  if (r.status !== 200) throw new Error(`sign-in failed: ${r.status} ${r.text}`);
  const cookie = /skep_session=([^;]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1];
  if (!cookie) throw new Error('no session cookie');
  return { cookie, csrf: r.body.csrfToken, userId: r.body.user.id, email };
}

/** The bootstrap admin's session (owner of the default project). */
export function adminSession(server: TestServer): Promise<Session> {
  const admin = server.bootstrap.admin;
  if (!admin) throw new Error('no bootstrap admin');
  return signIn(server, admin.email, admin.password);
}

export function rootBearer(server: TestServer): As {
  return { bearer: server.bootstrap.issued!.bearerToken };
}

let tokens = 0;

export async function bearerToken(
  server: TestServer,
  o: { permission: string; bucketScope?: string[] | null; billing?: boolean; projectId?: string; expiresInDays?: number },
): Promise<{ as: As; token: TokenView; credentials: IssuedCredentials }> {
  const r = await server.tokens.create({
    projectId: o.projectId ?? server.bootstrap.projectId,
    name: `api-test-${++tokens}`,
    permission: o.permission,
    bucketScope: o.bucketScope ?? null,
    billing: o.billing ?? false,
    expiresInDays: o.expiresInDays,
    createdBy: 'test',
  });
  return { as: { bearer: r.credentials.bearerToken }, token: r.token, credentials: r.credentials };
}

/** A 4xx/5xx problem+json reply with this slug (and field, when given). */
export function isProblem(r: Reply, status: number, slug: string, field?: string): boolean {
  const ok =
    r.status === status &&
    (r.headers.get('content-type') ?? '').startsWith('application/problem+json') &&
    r.body?.type === `/api/v1/problems/${slug}` &&
    r.body?.status === status &&
    typeof r.body?.title === 'string' &&
    typeof r.body?.detail === 'string';
  return ok && (field === undefined || r.body?.field === field);
}

export function problemText(r: Reply): string {
  return `${r.status} ${r.text}`;
}
