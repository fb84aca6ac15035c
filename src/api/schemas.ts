import { z } from '@hono/zod-openapi';
import { PERMISSION_LEVELS } from '../auth/principal.js';

// Schemas shared by several API modules. Each validates requests (or documents replies) and is
// turned into the OpenAPI document, so the contract cannot drift from the code.

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: '/api/v1/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    field: z.string().optional().openapi({ description: 'The request field at fault (validation problems).' }),
  })
  .openapi('Problem');

/**
 * Text a request gives (names, emails, filters, path parameters): anything but NUL (U+0000),
 * which PostgreSQL text cannot hold and no name or filter needs. Every request string is one,
 * but for passwords (only ever hashed).
 */
export const Text = z.string().refine((s) => !s.includes('\u0000'), 'may not contain the NUL character (U+0000).');

const problemContent = { 'application/problem+json': { schema: ProblemSchema } };

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'validation: bad JSON, unknown body field or query parameter, wrong type or value (`field` names it)',
  401: 'unauthenticated: no session, or the bearer token is unknown, expired, disabled or revoked',
  403: 'forbidden: the caller may not do this (permission level, bucket scope, role); csrf: a session request that changes state without its X-CSRF-Token',
  404: 'not-found',
  409: 'conflict',
  413: 'body-too-large: a JSON body over 1 MiB',
  422: 'limit-exceeded: the request asks for more than a limit allows (`detail` names it, `field` the input)',
  429: "rate-limited: a bearer token's request rate (whatever route it is sent to) or sign-in attempts; wait the Retry-After seconds",
  500: 'internal: the server failed to handle the request',
  503: 'unavailable: the metadata database or the blob store did not answer; try again',
  507: 'storage-full: the server has no room left; nothing was written',
};

interface ErrorResponse {
  description: string;
  content: typeof problemContent;
  headers?: Record<string, { description: string; schema: { type: 'integer'; minimum: number } | { type: 'string' } }>;
}

/**
 * Problem responses for the given statuses. 400 is always listed (every route rejects unknown
 * query parameters); those every route of a kind can answer are added by commonProblems.
 */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, ErrorResponse> = {};
  for (const s of [...new Set([400, ...statuses])].sort((a, b) => a - b)) {
    out[s] = { description: ERROR_DESCRIPTIONS[s], content: problemContent };
    if (s === 429) out[s].headers = { 'Retry-After': { description: 'Seconds until another attempt may succeed.', schema: { type: 'integer', minimum: 1 } } };
    if (s === 401) out[s].headers = { 'WWW-Authenticate': { description: 'Bearer realm="skep": the scheme to authenticate with.', schema: { type: 'string' } } };
  }
  return out;
}

interface RouteShape {
  method: string;
  request?: { body?: { content?: Record<string, unknown> } };
}

/**
 * The problems a route can answer whatever it does: 500 internal; 429 rate-limited (a bearer
 * token's rate limit holds whichever route it is sent to); 413 body-too-large with a JSON body;
 * 503 unavailable (a storage engine did not answer); 507 storage-full when it writes.
 */
export function commonProblems(route: RouteShape) {
  const statuses = [429, 500, 503];
  if (route.request?.body?.content?.['application/json']) statuses.push(413);
  if (route.method.toLowerCase() !== 'get') statuses.push(507);
  return errorResponses(...statuses);
}

export const MAX_PAGE = 1000;

/** `limit` and `cursor` of a list route. */
export function pageQuery(defaultLimit: number) {
  return z.object({
    cursor: Text.optional().openapi({ description: "The previous page's nextCursor (opaque)." }),
    limit: PageLimit.optional().openapi({ type: 'integer', minimum: 1, maximum: MAX_PAGE, description: `1-${MAX_PAGE} (default ${defaultLimit})` }),
  });
}

/**
 * A page size written in decimal digits only: Number() would also read `0x10`, `1e2` and ` 1`,
 * spellings no client means as a page size. Documented as the integer it becomes. Any number past
 * the maximum reads as one past it, so the error names the maximum, not JavaScript's largest integer.
 */
const PageLimit = z
  .string()
  .regex(/^[0-9]+$/, 'must be a whole number written in digits.')
  .transform((digits) => Math.min(Number(digits), MAX_PAGE + 1))
  .pipe(z.number().int().min(1).max(MAX_PAGE));

export const NextCursor = z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last page.' });

/** Any signed-in caller; state changes by sessions need the CSRF header. */
type Security = Record<string, string[]>[];
export const READ_SECURITY: Security = [{ bearer: [] }, { session: [] }];
export const WRITE_SECURITY: Security = [{ bearer: [] }, { session: [], csrf: [] }];
export const SESSION_READ_SECURITY: Security = [{ session: [] }];
export const SESSION_WRITE_SECURITY: Security = [{ session: [], csrf: [] }];

export const PermissionSchema = z.enum(PERMISSION_LEVELS).openapi('Permission');
export const RoleSchema = z.enum(['owner', 'member']).openapi('Role');

export const ProjectIdParam = z.object({
  projectId: Text.min(1).openapi({ param: { name: 'projectId', in: 'path' }, example: '0b5e7c9e-5a4f-4c7a-9d8e-2f1c3b4a5d6e' }),
});

export const BucketParams = ProjectIdParam.extend({
  bucket: Text.min(1).openapi({ param: { name: 'bucket', in: 'path' }, example: 'photos' }),
});

export const ProjectSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    maxTokenDays: z.number().int().nullable(),
    role: RoleSchema.optional().openapi({ description: "The signed-in user's role (sessions only)." }),
    s3Endpoint: z.string().optional().openapi({ description: "The project's S3 endpoint: its own host (<project-id>.<project domain>) when the server has a project domain, else the server's." }),
  })
  .openapi('Project');

export const MembershipSchema = z.object({ id: z.string(), name: z.string(), role: RoleSchema }).openapi('Membership');

export const TokenViewSchema = z
  .object({
    id: z.string(),
    projectId: z.string(),
    name: z.string(),
    description: z.string(),
    permission: PermissionSchema,
    permissionLabel: z.string(),
    bucketScope: z.array(z.string()).nullable().openapi({ description: 'Bucket names and bucket/prefix entries; null: every bucket, including ones created later.' }),
    billing: z.boolean(),
    allowedNetworks: z.array(z.string()).nullable().openapi({ description: 'Addresses and CIDR networks (IPv4, IPv6) the token may be used from; null: anywhere.' }),
    rateLimit: z.number().int().nullable().openapi({ description: 'Requests a minute (S3 and REST together); null: no limit.' }),
    accessKeyId: z.string(),
    status: z.enum(['active', 'expiring-soon', 'expired', 'disabled', 'revoked']),
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string(),
    expiresAt: z.string().nullable().openapi({ format: 'date-time' }),
    lastUsedAt: z.string().nullable().openapi({ format: 'date-time' }),
    disabledAt: z.string().nullable().openapi({ format: 'date-time' }),
    revokedAt: z.string().nullable().openapi({ format: 'date-time' }),
    rotationPending: z.boolean(),
    rotationDeadline: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('TokenView');

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** A required JSON request body validated by a strict object. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});
