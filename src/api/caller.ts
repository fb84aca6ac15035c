import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { authorize, LEVEL_RIGHTS, REQUIRED_RIGHT, type AccessTarget, type Decision, type Right } from '../auth/authorize.js';
import { companionActions, policyActionFor } from '../auth/bucket-access.js';
import type { RequestFacts } from '../auth/bucket-policy.js';
import type { ResolvedBucket } from '../buckets/bucket-config-service.js';
import { requestFacts } from '../s3/admission.js';
import type { ParsedOperationName, S3Operation } from '../s3/endpoint.js';
import { S3Error } from '../s3/errors.js';
import { outside } from '../auth/scope.js';
import { networkWithin } from '../auth/network.js';
import type { PermissionLevel, Principal } from '../auth/principal.js';
import type { ProjectRole, UserRow } from '../storage/metadata/metadata-store.js';
import { UserService } from '../users/user-service.js';
import type { ApiDeps, ApiEnv, Caller, ProjectAccess } from './context.js';
import { tokenActor, userActor, type RequestSource } from '../audit/actor.js';
import { ApiProblem } from './problems.js';

// Resolves the caller of each request (bearer token, else session cookie), enforces the CSRF
// header on state-changing session requests, and answers "may this caller do X in project P".
// Every bucket, object and token decision goes through authorize(), for sessions too.

export const SESSION_COOKIE = 'skep_session';
export const CSRF_HEADER = 'X-CSRF-Token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The permission a console user acts with in a project (also the console token's level). */
export const ROLE_PERMISSION: Record<ProjectRole, PermissionLevel> = { owner: 'admin-rw', member: 'object-rw' };

/** The client's address, as callerMiddleware resolved it (through --trusted-proxy rules). */
export function clientAddress(c: Context<ApiEnv>): string | undefined {
  return c.get('source');
}

/** The caller as the audit log names it, and where it called from. */
export function requestSource(c: Context<ApiEnv>, access: ProjectAccess): RequestSource {
  return { actor: access.actor, source: clientAddress(c) };
}

export function callerMiddleware(deps: ApiDeps, openRoute: (c: Context<ApiEnv>) => boolean): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    c.set('caller', null);
    const incoming = c.env?.incoming;
    c.set('source', incoming ? (deps.clientAddress ? deps.clientAddress(incoming) : incoming.socket?.remoteAddress) : undefined);
    // Routes open to anyone (signing in, the API document, problem types) look at no credentials:
    // a stale or foreign one sent along, as a client that sends one everywhere does, changes nothing.
    if (openRoute(c)) return next();
    const authorization = c.req.header('authorization');
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) throw new ApiProblem('unauthenticated', 'The Authorization header takes a bearer token: "Bearer skep_v1_...".');
      const principal = await deps.tokens.authenticateBearer(m[1], clientAddress(c));
      // The token's network condition and request-rate limit hold for the REST API as for S3.
      await deps.guard?.check(principal, clientAddress(c));
      c.set('caller', { kind: 'bearer', principal });
      return next();
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie !== undefined) {
      const found = await deps.users.authenticateSession(cookie);
      if (found) {
        if (!SAFE_METHODS.has(c.req.method) && !UserService.csrfMatches(found.session, c.req.header(CSRF_HEADER))) {
          throw new ApiProblem('csrf', `State-changing requests need the session's CSRF token in the ${CSRF_HEADER} header.`);
        }
        c.set('caller', { kind: 'session', user: found.user, session: found.session });
      }
    }
    return next();
  };
}

export function requireCaller(c: Context<ApiEnv>): Caller {
  const caller = c.get('caller');
  if (!caller) throw new ApiProblem('unauthenticated', 'Sign in, or send a bearer token in the Authorization header.');
  return caller;
}

/** A console user with the owner role in the project (project settings and members). */
export async function requireOwner(c: Context<ApiEnv>, deps: ApiDeps, projectId: string): Promise<ProjectAccess> {
  const access = await requireProject(c, deps, projectId);
  if (access.role !== 'owner') throw new ApiProblem('forbidden', 'Only owners of the project (signed in to the console) change its settings and members.');
  return access;
}

export function requireSession(c: Context<ApiEnv>): Extract<Caller, { kind: 'session' }> {
  const caller = requireCaller(c);
  if (caller.kind !== 'session') throw new ApiProblem('forbidden', 'This needs a signed-in console user, not a bearer token.');
  return caller;
}

export function sessionPrincipal(user: UserRow, projectId: string, role: ProjectRole): Principal {
  return {
    accessKeyId: `console:${user.email}`,
    projectId,
    tokenId: '',
    permission: ROLE_PERMISSION[role],
    bucketScope: null,
    // Every member may read the project's usage.
    billing: true,
  };
}

/**
 * The caller's access to a project: a bearer token of that project, or a member's session.
 * Anyone else gets 403, whether or not the project exists (ids are not probed).
 */
export async function requireProject(c: Context<ApiEnv>, deps: ApiDeps, projectId: string): Promise<ProjectAccess> {
  const caller = requireCaller(c);
  let access: ProjectAccess;
  if (caller.kind === 'bearer') {
    if (caller.principal.projectId !== projectId) throw new ApiProblem('forbidden', 'This token belongs to another project.');
    access = { projectId, caller, principal: caller.principal, role: null, actor: tokenActor(caller.principal.tokenId) };
  } else {
    const role = await deps.users.roleIn(caller.user.id, projectId);
    if (!role) throw new ApiProblem('forbidden', 'You are not a member of this project.');
    access = { projectId, caller, principal: sessionPrincipal(caller.user, projectId, role), role, actor: userActor(caller.user.email) };
  }
  c.set('access', access);
  return access;
}

/**
 * Requires a right, decided by authorize(). Console members manage tokens (the new token is
 * bounded by their own rights; see mayHandOut); everything else follows the principal's level.
 */
export function requireRight(access: ProjectAccess, right: Right, bucket: string | null = null, target?: AccessTarget): void {
  if (right === 'ManageTokens' && access.role !== null) return;
  const decision = authorize(access.principal, right, bucket, target);
  if (!decision.allow) throw new ApiProblem('forbidden', `Not allowed: ${decision.reason}.`);
}

/** The S3 operation a REST route performs, and on what: the bucket's policy decides it as it would over S3. */
export interface S3Equivalent extends AccessTarget {
  op: ParsedOperationName;
  /** A listing's delimiter and page size, for the policy's s3:delimiter and s3:max-keys conditions. */
  delimiter?: string;
  maxKeys?: number;
  /** The version the route names: the policy is asked the version action, as over S3. */
  versionId?: string;
  /** The route bypasses GOVERNANCE retention: the policy must not deny s3:BypassGovernanceRetention. */
  bypassGovernance?: boolean;
}

/** The request facts S3 would build for the same operation (address, TLS, headers, time, listing). */
function policyFacts(c: Context<ApiEnv>, deps: ApiDeps, access: ProjectAccess, bucket: string, s3: S3Equivalent): RequestFacts {
  const incoming = c.env?.incoming;
  if (!incoming) return { 'aws:sourceip': clientAddress(c), 'aws:principaltype': 'User', 'aws:userid': access.principal.tokenId || undefined };
  const query = new Map<string, string>();
  if (s3.listPrefix !== undefined) query.set('prefix', s3.listPrefix);
  if (s3.delimiter !== undefined) query.set('delimiter', s3.delimiter);
  if (s3.maxKeys !== undefined) query.set('max-keys', String(s3.maxKeys));
  const op = { op: s3.op, bucket, key: s3.key, query, project: null } as S3Operation;
  return requestFacts(incoming, op, access.principal, deps.clock(), clientAddress(c));
}

/**
 * Requires the rights the S3 operations a route performs need in a bucket, and resolves the
 * bucket: level and scope first (a token learns nothing of buckets outside them), then the
 * bucket's policy, whose Deny takes a right away over the REST API as over S3. A route that shows
 * what several S3 reads would (a bucket's settings) names each. NoSuchBucket (404) when it does
 * not exist.
 */
export async function requireBucketAccess(c: Context<ApiEnv>, deps: ApiDeps, access: ProjectAccess, bucket: string, ...ops: S3Equivalent[]): Promise<ResolvedBucket> {
  for (const s3 of ops) requireRight(access, REQUIRED_RIGHT[s3.op], bucket, targetOf(s3));
  const resolved = await deps.bucketConfig.resolve(access.projectId, bucket);
  if (!resolved) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
  if (!resolved.access.policy) return resolved;
  for (const s3 of ops) {
    const decision = bucketDecision(c, deps, access, resolved, s3);
    if (!decision.allow) throw new ApiProblem('forbidden', `Not allowed: ${decision.reason}.`);
  }
  return resolved;
}

function targetOf(s3: S3Equivalent): AccessTarget {
  return s3.listPrefix === undefined ? { key: s3.key } : { key: s3.key, listPrefix: s3.listPrefix };
}

/** authorize() for one S3 operation in a resolved bucket, its policy included, as S3 would decide it. */
export function bucketDecision(c: Context<ApiEnv>, deps: ApiDeps, access: ProjectAccess, resolved: ResolvedBucket, s3: S3Equivalent): Decision {
  const bucket = resolved.row.name;
  const target = targetOf(s3);
  const facts = policyFacts(c, deps, access, bucket, s3);
  const action = policyActionFor(s3.op, s3.versionId);
  const alsoActions = companionActions(s3.op, s3.versionId, { bypassGovernance: s3.bypassGovernance === true });
  return authorize(access.principal, REQUIRED_RIGHT[s3.op], bucket, { ...target, action, alsoActions, access: resolved.access, facts });
}

/**
 * Whether the caller may create (or rotate, disable, revoke) a token with these powers: no caller
 * hands out more than it has (rights of the level, buckets, billing).
 */
export function mayHandOut(
  access: ProjectAccess,
  token: { permission: PermissionLevel; bucketScope: string[] | null; billing: boolean; allowedNetworks?: readonly string[] | null; rateLimit?: number | null },
): string | null {
  const mine = access.principal;
  for (const right of LEVEL_RIGHTS[token.permission]) {
    if (!LEVEL_RIGHTS[mine.permission].has(right)) return `a ${mine.permission} caller cannot hand out ${token.permission} (it lacks ${right})`;
  }
  if (mine.bucketScope !== null) {
    if (token.bucketScope === null) return 'a bucket-scoped caller cannot hand out access to all buckets';
    const wider = outside(token.bucketScope, mine.bucketScope);
    if (wider.length) return `outside the caller's scope: ${wider.join(', ')}`;
  }
  if (token.billing && !mine.billing) return 'a caller without billing access cannot hand it out';
  // A caller bound to networks or a rate cannot make a token that escapes them.
  if (mine.allowedNetworks) {
    if (!token.allowedNetworks) return "a caller limited to networks cannot hand out a token usable from anywhere (name allowedNetworks within the caller's)";
    const wider = token.allowedNetworks.filter((n) => !networkWithin(n, mine.allowedNetworks!));
    if (wider.length) return `network(s) outside the caller's: ${wider.join(', ')}`;
  }
  if (mine.rateLimit && (!token.rateLimit || token.rateLimit > mine.rateLimit)) {
    return `a caller limited to ${mine.rateLimit} requests a minute cannot hand out a higher limit (set rateLimit to at most that)`;
  }
  return null;
}
