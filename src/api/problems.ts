import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { S3Error, type S3ErrorCode } from '../s3/errors.js';
import { DomainError, type DomainErrorKind } from '../util/domain-error.js';

// The one place that turns failures into application/problem+json (RFC 9457) replies:
// { type: /api/v1/problems/<slug>, title, status, detail, field? }.

export type ProblemSlug = 'validation' | 'unauthenticated' | 'forbidden' | 'not-found' | 'conflict' | 'rate-limited' | 'internal';

export const PROBLEM_STATUS: Record<ProblemSlug, number> = {
  validation: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'rate-limited': 429,
  internal: 500,
};

const TITLES: Record<ProblemSlug, string> = {
  validation: 'The request is not valid',
  unauthenticated: 'Sign in or send a valid bearer token',
  forbidden: 'Not allowed',
  'not-found': 'Not found',
  conflict: 'Conflict',
  'rate-limited': 'Too many requests',
  internal: 'Internal error',
};

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
  return { type: `/api/v1/problems/${slug}`, title: TITLES[slug], status: PROBLEM_STATUS[slug], detail, ...(field !== undefined ? { field } : {}) };
}

export function problemResponse(p: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(p), {
    status: p.status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  });
}

const DOMAIN_SLUG: Record<DomainErrorKind, ProblemSlug> = {
  'invalid-argument': 'validation',
  'not-found': 'not-found',
  conflict: 'conflict',
  forbidden: 'forbidden',
  unauthenticated: 'unauthenticated',
  'rate-limited': 'rate-limited',
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
      return problem('not-found', err.message);
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
    default:
      if (err.status >= 500) return problem('internal', 'The server failed to handle the request.');
      return problem('validation', err.message, field);
  }
}

/** Maps any thrown value to a problem; unknown failures are logged and hidden. */
export function toProblem(err: unknown, log: Logger): Problem {
  if (err instanceof ApiProblem) return problem(err.slug, err.message, err.field);
  if (err instanceof DomainError) return problem(DOMAIN_SLUG[err.kind], err.message, err.kind === 'invalid-argument' ? err.field : undefined);
  if (err instanceof S3Error) {
    const p = fromS3(err);
    if (p.status >= 500) log.error({ err }, 'api: storage failure');
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
  log.error({ err }, 'api: internal error');
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

export function sendProblem(c: Context, p: Problem): Response {
  return c.newResponse(JSON.stringify(p), p.status as 400, { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' });
}
