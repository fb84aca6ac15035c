import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { S3Error, type S3ErrorCode } from '../s3/errors.js';
import { clientAborted } from '../s3/failure-log.js';
import { SignInRateLimited } from '../users/user-service.js';
import { DomainError, type DomainErrorKind } from '../util/domain-error.js';
import { storageFullCode } from '../storage/storage-full.js';
import { backendUnavailable } from '../storage/backend-unavailable.js';
import { RateLimited } from '../credentials/credential-guard.js';

// The one place that turns failures into application/problem+json (RFC 9457) replies:
// { type: /api/v1/problems/<slug>, title, status, detail, field? }. Each type is described at its
// own URL (GET /api/v1/problems/<slug>), from the table below.

export const PROBLEM_BASE = '/api/v1/problems';

interface ProblemTypeInfo {
  status: number;
  title: string;
  /** What the problem means and what to do about it (served at the type's URL). */
  description: string;
}

/** Every problem type the API can answer with. */
export const PROBLEM_TYPES = {
  validation: {
    status: 400,
    title: 'The request is not valid',
    description:
      'A path parameter, query parameter or body field is missing, has the wrong type or is out of range; the body is not JSON ' +
      '(or not sent as application/json); or the request names a body field or query parameter the route does not take. ' +
      '`field` names the offending one ("body" for the body as a whole). Fix the request; repeating it unchanged fails again.',
  },
  unauthenticated: {
    status: 401,
    title: 'Sign in or send a valid bearer token',
    description:
      'The route needs a caller: send "Authorization: Bearer skep_v1_..." with a token that is not expired, disabled or revoked, ' +
      'or the console session cookie from POST /api/v1/session. Sign-in with a wrong email or password answers this too.',
  },
  forbidden: {
    status: 403,
    title: 'Not allowed',
    description:
      "The caller is known but may not do this: the token's permission level or bucket scope does not allow it, the user has no " +
      'role in the project (or not the needed one), the route is for console sessions only, or the request would hand out more ' +
      'power than the caller has.',
  },
  csrf: {
    status: 403,
    title: 'CSRF token missing or wrong',
    description:
      'A state-changing request (any method but GET, HEAD and OPTIONS) made with the session cookie must send the csrfToken of ' +
      'that session (from POST or GET /api/v1/session) in the X-CSRF-Token header.',
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    description: 'No such route, bucket, object or token (in this project).',
  },
  'method-not-allowed': {
    status: 405,
    title: 'Method not allowed',
    description:
      'A route has this path, but not with this method. The Allow header lists the methods the path takes; use one of them.',
  },
  conflict: {
    status: 409,
    title: 'Conflict',
    description:
      'The request does not fit the current state: the name is taken, the bucket is not empty, the token is revoked or has no ' +
      'rotation pending. Reload the state and decide again.',
  },
  'limit-exceeded': {
    status: 422,
    title: 'Beyond a limit',
    description:
      'The request is well formed but asks for more than a limit allows: a token may last no longer than its project allows ' +
      '(maxTokenDays) and, when a token creates it, no longer than that token itself. `detail` names the limit and `field` the input; ' +
      'ask for less, or have someone with a longer-lived credential do it.',
  },
  'body-too-large': {
    status: 413,
    title: 'Request body too large',
    description:
      'A JSON request body is at most 1 MiB; a larger one is refused as it arrives, unread. Object uploads ' +
      '(PUT .../objects/content) are not JSON and have no such limit. Send less.',
  },
  'storage-full': {
    status: 507,
    title: 'Storage full',
    description:
      "The server's storage has no room left for this request; nothing was written. Free space (delete objects, or ask the operator " +
      'to add capacity) and try again.',
  },
  'rate-limited': {
    status: 429,
    title: 'Too many requests',
    description:
      'Too many attempts in a short time (for sign-in: failed attempts for an email from one address, or from one address over ' +
      "many emails), or more requests a minute than the token's rate limit allows. The Retry-After header says how many seconds to wait.",
  },
  'quota-exceeded': {
    status: 403,
    title: 'Quota exceeded',
    description:
      "The write would take the bucket or the project past its storage quota (bytes or objects); nothing was written. Delete " +
      'objects, or have an owner raise the quota, and try again.',
  },
  unavailable: {
    status: 503,
    title: 'Service unavailable',
    description:
      'A storage engine behind the server (the metadata database or the blob store) did not answer in time or refused the ' +
      'connection; the request may not have been carried out. Try again in a moment.',
  },
  internal: {
    status: 500,
    title: 'Internal error',
    description: 'The server failed to handle the request. It is logged on the server; try again later.',
  },
} as const satisfies Record<string, ProblemTypeInfo>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export const PROBLEM_SLUGS = Object.keys(PROBLEM_TYPES) as ProblemSlug[];

export function isProblemSlug(s: string): s is ProblemSlug {
  return Object.hasOwn(PROBLEM_TYPES, s);
}

export function problemType(slug: ProblemSlug): string {
  return `${PROBLEM_BASE}/${slug}`;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
}

/** A failure the API raises itself (services raise DomainError or S3Error). */
export class ApiProblem extends Error {
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    readonly field?: string,
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

export function problem(slug: ProblemSlug, detail: string, field?: string): Problem {
  const t = PROBLEM_TYPES[slug];
  return { type: problemType(slug), title: t.title, status: t.status, detail, ...(field !== undefined ? { field } : {}) };
}

/**
 * The headers of a problem reply. A 401 names the scheme that would authenticate, as RFC 9110
 * §15.5.2 requires: Bearer (RFC 6750 §3), which, unlike Basic, makes no browser prompt for
 * credentials over the console.
 */
function replyHeaders(p: Problem, extra: Record<string, string>): Record<string, string> {
  const challenge: Record<string, string> = p.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="skep"' } : {};
  return { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...challenge, ...extra };
}

export function problemResponse(p: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(p), { status: p.status, headers: replyHeaders(p, headers) });
}

const DOMAIN_SLUG: Record<DomainErrorKind, ProblemSlug> = {
  'invalid-argument': 'validation',
  'not-found': 'not-found',
  conflict: 'conflict',
  forbidden: 'forbidden',
  unauthenticated: 'unauthenticated',
  'rate-limited': 'rate-limited',
  'limit-exceeded': 'limit-exceeded',
  'storage-full': 'storage-full',
};

/** S3 error codes that carry a field, for the API's `field`. */
const S3_FIELD: Partial<Record<S3ErrorCode, string>> = {
  InvalidBucketName: 'name',
  BucketAlreadyOwnedByYou: 'name',
  BucketAlreadyExists: 'name',
  KeyTooLongError: 'key',
  InvalidURI: 'key',
  EntityTooLarge: 'body',
  IncompleteBody: 'body',
  BadDigest: 'body',
};

function fromS3(err: S3Error): Problem {
  const field = S3_FIELD[err.code];
  switch (err.code) {
    case 'NoSuchBucket':
    case 'NoSuchKey':
    case 'NoSuchUpload':
    case 'NoSuchVersion':
    case 'NoSuchTagSet':
    case 'NoSuchLifecycleConfiguration':
    case 'NoSuchObjectLockConfiguration':
    case 'ObjectLockConfigurationNotFoundError':
    case 'ServerSideEncryptionConfigurationNotFoundError':
    case 'MethodNotAllowed':
      return problem('not-found', err.message);
    case 'NotImplemented':
      return problem('validation', err.message, field);
    case 'InvalidBucketState':
    case 'BucketNotEmpty':
    case 'BucketAlreadyOwnedByYou':
    case 'BucketAlreadyExists':
    case 'ConditionalRequestConflict':
    case 'PreconditionFailed':
      return problem('conflict', err.message, field);
    case 'AccessDenied':
      return problem('forbidden', err.message);
    case 'InvalidAccessKeyId':
    case 'ExpiredToken':
    case 'SignatureDoesNotMatch':
      return problem('unauthenticated', err.message);
    case 'SlowDown':
      return problem('rate-limited', err.message);
    case 'QuotaExceeded':
      return problem('quota-exceeded', err.message);
    default:
      if (err.status >= 500) return problem('internal', 'The server failed to handle the request.');
      return problem('validation', err.message, field);
  }
}

/** Headers a failure adds to its problem reply: Retry-After (seconds) for rate limits. */
export function problemHeaders(err: unknown): Record<string, string> {
  if (err instanceof SignInRateLimited || err instanceof RateLimited) return { 'Retry-After': String(err.retryAfterSeconds) };
  return {};
}

/**
 * Logs a failure the caller cannot be told about: an error with its stack, unless the client went
 * away before its request was complete (a cancelled upload: ECONNRESET, "aborted"), which is no
 * fault of the server, as the S3 side judges it.
 */
function logFailure(log: Logger, err: unknown, req: IncomingMessage | undefined, what: string): void {
  if (req && clientAborted(req)) log.info({ code: (err as { code?: string } | null)?.code }, 'api: client aborted the request');
  else log.error({ err }, what);
}

/**
 * Maps any thrown value to a problem; unknown failures are logged and hidden. `req` is the Node
 * request, when there is one, to tell a client's abort from a failure.
 */
export function toProblem(err: unknown, log: Logger, req?: IncomingMessage): Problem {
  if (err instanceof ApiProblem) return problem(err.slug, err.message, err.field);
  if (err instanceof DomainError) {
    const withField = err.kind === 'invalid-argument' || err.kind === 'limit-exceeded';
    return problem(DOMAIN_SLUG[err.kind], err.message, withField ? err.field : undefined);
  }
  const full = storageFullCode(err);
  if (full || (err instanceof S3Error && err.code === 'XMinioStorageFull')) {
    log.warn({ code: full ?? 'XMinioStorageFull' }, 'storage full: the request was refused (507 storage-full); free space on the data folder');
    return problem('storage-full', "The server's storage is full; nothing was written. Free space (delete objects) and try again.");
  }
  // A client that went away raises socket errors too (ECONNRESET): that is its abort, below.
  const unreachable = req && clientAborted(req) ? undefined : backendUnavailable(err) ?? (err instanceof S3Error && err.code === 'ServiceUnavailable' ? err.code : undefined);
  if (unreachable) {
    log.warn({ reason: unreachable }, 'api: a storage backend is unavailable (503 unavailable)');
    return problem('unavailable', 'A storage engine behind the server did not answer; try again in a moment.');
  }
  if (err instanceof S3Error) {
    const p = fromS3(err);
    if (p.status >= 500) logFailure(log, err, req, 'api: storage failure');
    return p;
  }
  if (err instanceof HTTPException) {
    // Hono's own validators: malformed JSON (400), wrong or missing Content-Type (415).
    if (err.status === 400 || err.status === 415) {
      const detail = err.status === 415 ? 'Send the body as JSON with Content-Type: application/json.' : 'The body is not valid JSON.';
      return problem('validation', detail, 'body');
    }
    if (err.status === 401) return problem('unauthenticated', err.message);
    if (err.status === 403) return problem('forbidden', err.message);
    if (err.status === 404) return problem('not-found', err.message);
  }
  logFailure(log, err, req, 'api: internal error');
  return problem('internal', 'The server failed to handle the request.');
}

interface Issue {
  code?: string;
  path?: readonly PropertyKey[];
  message: string;
  keys?: readonly string[];
}

/** The zod validation hook: the first issue becomes a 400 `validation` naming its field. */
export function validationProblem(issues: readonly Issue[], target: string): Problem {
  const issue = issues[0];
  if (!issue) return problem('validation', `The ${target} is not valid.`);
  const path = (issue.path ?? []).map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
    const field = [...path, issue.keys[0]].join('.');
    return problem('validation', `Unknown field "${field}".`, field);
  }
  const field = path.length ? path.join('.') : target === 'json' ? 'body' : target;
  return problem('validation', `${field}: ${issue.message}`, field);
}

export function sendProblem(c: Context, p: Problem, headers: Record<string, string> = {}): Response {
  return c.newResponse(JSON.stringify(p), p.status as 400, replyHeaders(p, headers));
}
