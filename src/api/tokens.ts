import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { clientSnippets } from '../credentials/snippets.js';
import { MAX_EXPIRY_DAYS, MAX_RATE_LIMIT, type IssuedCredentials, type TokenView } from '../credentials/token-service.js';
import { outlives } from '../credentials/token-state.js';
import { MAX_DURATION_SECONDS, MIN_DURATION_SECONDS, type IssuedTemporaryCredentials } from '../credentials/temporary-credentials.js';
import { clientAddress, mayHandOut, requestSource, requireProject, requireRight } from './caller.js';
import type { ApiApp, ApiDeps, ApiEnv, ProjectAccess } from './context.js';
import { compareStrings, decodeCursor, keysetPage } from './cursor.js';
import { ApiProblem } from './problems.js';
import { projectS3Endpoint } from './public-url.js';
import { DomainError } from '../util/domain-error.js';
import { MAX_SCOPE_ENTRIES } from '../auth/scope.js';
import { MAX_ALLOWED_NETWORKS } from '../auth/network.js';
import {
  errorResponses,
  json,
  jsonBody,
  MAX_PAGE,
  NextCursor,
  pageQuery,
  PermissionSchema,
  ProjectIdParam,
  READ_SECURITY,
  Text,
  TokenViewSchema,
  WRITE_SECURITY,
} from './schemas.js';

// API tokens of a project: list, create (secrets returned once), show, disable, enable, revoke,
// rotate (new secrets returned once), confirm a rotation. Nobody hands out more than they have,
// and a token sees and changes only itself and the tokens it could have created.

const TokenParams = ProjectIdParam.extend({
  tokenId: Text.min(1).openapi({ param: { name: 'tokenId', in: 'path' } }),
});

const TokenList = z.object({ items: z.array(TokenViewSchema), nextCursor: NextCursor }).openapi('TokenList');
const TokensQuery = pageQuery(MAX_PAGE);

/** Tokens are listed newest first: by creation time descending, then id. */
type TokenPosition = readonly [number, string];
const newestFirst = (a: TokenPosition, b: TokenPosition) => b[0] - a[0] || compareStrings(a[1], b[1]);
const tokenPosition = (t: TokenView): TokenPosition => [Date.parse(t.createdAt), t.id];

// Limits the services check (in their own words) are documented here with minimum/maxItems
// rather than enforced a second time by the schema.
const CreateTokenBody = z
  .strictObject({
    name: Text.min(1).max(100),
    description: Text.max(1000).optional(),
    permission: PermissionSchema,
    bucketScope: z.array(Text.min(1)).min(1).nullable().openapi({
      maxItems: MAX_SCOPE_ENTRIES,
      description:
        'Bucket names ("photos") and key prefixes in buckets ("photos/2024/": every operation then needs a key under it, and listings show only those keys), or null for every bucket (including ones created later). No entry may include another.',
    }),
    expiresInDays: z.number().int().min(1).max(MAX_EXPIRY_DAYS).optional().openapi({
      description: `1-${MAX_EXPIRY_DAYS}; default 90, or less when a limit is lower. At most the project's maximum, and for a bearer caller at most its own token's remaining days (422 limit-exceeded beyond).`,
    }),
    billing: z.boolean().optional().openapi({ description: 'May read the project usage.' }),
    allowedNetworks: z.array(Text.min(1)).nullable().optional().openapi({
      maxItems: MAX_ALLOWED_NETWORKS,
      description: 'IPv4/IPv6 addresses and CIDR networks the token may be used from (S3 and REST); null or absent: anywhere.',
      example: ['203.0.113.0/24', '2001:db8::/32'],
    }),
    rateLimit: z.number().int().min(1).max(MAX_RATE_LIMIT).nullable().optional().openapi({
      description: `Requests a minute, 1-${MAX_RATE_LIMIT} (S3 answers 503 SlowDown beyond it, the REST API 429, both with Retry-After); null or absent: no limit.`,
    }),
  })
  .openapi('CreateToken');

const TemporaryBody = z
  .strictObject({
    name: Text.optional().openapi({ description: 'A session name: 2-64 letters, digits and + = , . @ _ - (default "session").' }),
    durationSeconds: z.number().int().optional().openapi({
      minimum: MIN_DURATION_SECONDS,
      maximum: MAX_DURATION_SECONDS,
      description: `${MIN_DURATION_SECONDS}-${MAX_DURATION_SECONDS} (15 minutes to 12 hours), at most the token's remaining life (and a bearer caller's); default 3600 (or the shorter remaining life if less).`,
    }),
    permission: PermissionSchema.optional().openapi({ description: "A level no wider than the token's; default: the token's." }),
    bucketScope: z.array(Text.min(1)).min(1).nullable().optional().openapi({
      maxItems: MAX_SCOPE_ENTRIES,
      description: "Entries within the token's scope (buckets, bucket/prefix); default: the token's scope.",
    }),
  })
  .openapi('CreateTemporaryCredentials');

const TemporaryView = z
  .object({
    id: z.string(),
    tokenId: z.string(),
    name: z.string(),
    accessKeyId: z.string(),
    permission: PermissionSchema,
    bucketScope: z.array(z.string()).nullable(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string(),
    expiresAt: z.string().openapi({ format: 'date-time', description: "Their expiry, or the token's if sooner." }),
    revokedAt: z.string().nullable().openapi({ format: 'date-time' }),
    status: z.enum(['active', 'expired', 'revoked']).openapi({ description: 'revoked also when their token was disabled or revoked.' }),
  })
  .openapi('TemporaryCredentials');

const IssuedTemporary = z
  .object({
    credential: TemporaryView,
    credentials: z
      .object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string(), expiration: z.string().openapi({ format: 'date-time' }) })
      .openapi({ description: 'Shown only in this reply. Every request sends the session token (x-amz-security-token), as SDKs do.' }),
    endpoint: z.string(),
    region: z.string(),
    snippets: z.object({ awsCli: z.string(), rclone: z.string(), boto3: z.string(), jsSdk: z.string() }),
  })
  .openapi('IssuedTemporaryCredentials');

const TemporaryParams = TokenParams.extend({
  credentialId: Text.min(1).openapi({ param: { name: 'credentialId', in: 'path' } }),
});

const RotateBody = z.strictObject({ graceDays: z.number().int().min(0).max(30).optional() }).openapi('RotateToken');

const Issued = z
  .object({
    token: TokenViewSchema,
    credentials: z.object({ bearerToken: z.string(), accessKeyId: z.string(), secretAccessKey: z.string() }).openapi({
      description: 'Shown only in this reply; skep keeps no readable copy of the bearer token.',
    }),
    endpoint: z.string().openapi({ description: 'The S3 endpoint URL.' }),
    region: z.string(),
    snippets: z.object({ awsCli: z.string(), rclone: z.string(), boto3: z.string(), jsSdk: z.string() }),
  })
  .openapi('IssuedToken');

const base = { tags: ['tokens'] };

const listTokens = createRoute({
  operationId: 'listTokens',
  ...base,
  method: 'get',
  path: '/projects/{projectId}/tokens',
  summary: 'List tokens (never a secret)',
  description: 'A bearer token lists itself and the tokens with no more power than it has (level, buckets, billing, networks, rate); console users list every token.',
  security: READ_SECURITY,
  request: { params: ProjectIdParam, query: TokensQuery },
  responses: { 200: json(TokenList, 'Tokens, newest first, one page at a time'), ...errorResponses(400, 401, 403) },
});

const createToken = createRoute({
  operationId: 'createToken',
  ...base,
  method: 'post',
  path: '/projects/{projectId}/tokens',
  summary: 'Create a token; its secrets are in this reply only',
  security: WRITE_SECURITY,
  request: { params: ProjectIdParam, body: jsonBody(CreateTokenBody) },
  responses: { 201: json(Issued, 'Created'), ...errorResponses(400, 401, 403, 422) },
});

const getToken = createRoute({
  operationId: 'getToken',
  ...base,
  method: 'get',
  path: '/projects/{projectId}/tokens/{tokenId}',
  summary: 'One token',
  security: READ_SECURITY,
  request: { params: TokenParams },
  responses: { 200: json(TokenViewSchema, 'The token'), ...errorResponses(401, 403, 404) },
});

type Action = 'disable' | 'enable' | 'revoke' | 'confirm-rotation';
const ACTION_SUMMARY: Record<Action, string> = {
  disable: 'Disable a token (it stops working until enabled)',
  enable: 'Enable a disabled token',
  revoke: 'Revoke a token for good (kept for the audit trail)',
  'confirm-rotation': 'End a pending rotation: the previous secrets stop working now',
};

const ACTION_OPERATION: Record<Action, string> = {
  disable: 'disableToken',
  enable: 'enableToken',
  revoke: 'revokeToken',
  'confirm-rotation': 'confirmTokenRotation',
};

function actionRoute(action: Action) {
  return createRoute({
    operationId: ACTION_OPERATION[action],
    ...base,
    method: 'post',
    path: `/projects/{projectId}/tokens/{tokenId}/${action}`,
    summary: ACTION_SUMMARY[action],
    security: WRITE_SECURITY,
    request: { params: TokenParams },
    description:
      'A bearer token acts on itself, and on tokens with no more power than it has (403 otherwise) that end no later than it does (422 limit-exceeded otherwise): the tokens it could have created.',
    responses: { 200: json(TokenViewSchema, 'The token after the change'), ...errorResponses(401, 403, 404, 409, 422) },
  });
}

const rotateToken = createRoute({
  operationId: 'rotateToken',
  ...base,
  method: 'post',
  path: '/projects/{projectId}/tokens/{tokenId}/rotate',
  summary: 'New secrets (in this reply only); the old ones keep working for graceDays (default 7), never past the token\'s expiry',
  description:
    "A token with a rotation pending (its previous secret still works) answers 409: confirm that rotation first. A bearer caller receives the new secrets, so it may not rotate a token that outlives it (422 limit-exceeded), as it may not create one.",
  security: WRITE_SECURITY,
  request: { params: TokenParams, body: { required: false, content: { 'application/json': { schema: RotateBody } } } },
  responses: { 200: json(Issued, 'Rotated'), ...errorResponses(400, 401, 403, 404, 409, 422) },
});

const createTemporary = createRoute({
  operationId: 'createTemporaryCredentials',
  ...base,
  method: 'post',
  path: '/projects/{projectId}/tokens/{tokenId}/temporary-credentials',
  summary: 'Temporary credentials from a token: access key, secret and session token, in this reply only',
  description:
    "They act for the token (its network condition and rate limit apply), with a level and scope no wider than its, for 15 minutes to 12 hours and never past the token's expiry; disabling or revoking the token ends them at once. A token may make its own; managing others' needs the token-management right, and a bearer caller's never outlive its own token (422 limit-exceeded naming durationSeconds; the default is capped). 400 names the field at fault (a duration past the token's remaining life, a wider scope).",
  security: WRITE_SECURITY,
  request: { params: TokenParams, body: { required: false, content: { 'application/json': { schema: TemporaryBody } } } },
  responses: { 201: json(IssuedTemporary, 'Issued'), ...errorResponses(400, 401, 403, 404, 409, 422) },
});

const listTemporary = createRoute({
  operationId: 'listTemporaryCredentials',
  ...base,
  method: 'get',
  path: '/projects/{projectId}/tokens/{tokenId}/temporary-credentials',
  summary: "A token's temporary credentials, newest first (never a secret)",
  security: READ_SECURITY,
  request: { params: TokenParams },
  responses: { 200: json(z.object({ items: z.array(TemporaryView) }).openapi('TemporaryCredentialsList'), 'Newest first'), ...errorResponses(401, 403, 404) },
});

const revokeTemporary = createRoute({
  operationId: 'revokeTemporaryCredentials',
  ...base,
  method: 'post',
  path: '/projects/{projectId}/tokens/{tokenId}/temporary-credentials/{credentialId}/revoke',
  summary: 'End one set of temporary credentials now (the token keeps working)',
  security: WRITE_SECURITY,
  request: { params: TemporaryParams },
  responses: { 200: json(TemporaryView, 'After the change'), ...errorResponses(401, 403, 404) },
});

function issuedReply(c: Context<ApiEnv>, deps: ApiDeps, r: { token: TokenView; credentials: IssuedCredentials }) {
  // With a project domain, the token's clients use its project's own host.
  const endpoint = projectS3Endpoint(c, deps, r.token.projectId);
  return {
    token: r.token,
    credentials: r.credentials,
    endpoint,
    region: deps.region,
    snippets: clientSnippets({ endpoint, region: deps.region, accessKeyId: r.credentials.accessKeyId, secretAccessKey: r.credentials.secretAccessKey }),
  };
}

function temporaryReply(c: Context<ApiEnv>, deps: ApiDeps, projectId: string, r: IssuedTemporaryCredentials) {
  const endpoint = projectS3Endpoint(c, deps, projectId);
  return {
    credential: r.credential,
    credentials: r.secrets,
    endpoint,
    region: deps.region,
    snippets: clientSnippets({ endpoint, region: deps.region, ...r.secrets }),
  };
}

/**
 * Temporary credentials of a token: the token itself (a bearer caller acting on its own token), or
 * a caller who may manage it.
 */
async function temporaryAccess(c: Context<ApiEnv>, deps: ApiDeps, projectId: string, tokenId: string): Promise<ProjectAccess> {
  const access = await requireProject(c, deps, projectId);
  if (access.caller.kind === 'bearer' && access.principal.tokenId === tokenId) return access;
  requireRight(access, 'ManageTokens');
  guard(access, await deps.tokens.show(tokenId, projectId), 'make temporary credentials of');
  return access;
}

/**
 * The token making the request, when a token does (a bearer caller): nothing it hands out (a token
 * it creates, the new secret of one it rotates, temporary credentials) outlives it. Console users are
 * not tokens and have no expiry to hold to.
 */
function issuerOf(access: ProjectAccess): string | undefined {
  return access.caller.kind === 'bearer' ? access.principal.tokenId : undefined;
}

/** Token management, and a guard that the caller has every power of the token it acts on. */
async function manageable(c: Context<ApiEnv>, deps: ApiDeps, projectId: string, tokenId?: string): Promise<{ access: ProjectAccess; token?: TokenView }> {
  const access = await requireProject(c, deps, projectId);
  requireRight(access, 'ManageTokens');
  if (tokenId === undefined) return { access };
  const token = await deps.tokens.show(tokenId, projectId);
  return { access, token };
}

function guard(access: ProjectAccess, token: TokenView, verb: string): void {
  // A token may always act on itself (e.g. rotate or revoke its own credentials).
  if (access.principal.tokenId === token.id) return;
  const why = mayHandOut(access, token);
  if (why) throw new ApiProblem('forbidden', `You may not ${verb} this token: ${why}.`);
}

/**
 * Whether the caller sees a token (list, show). A bearer token sees itself and the tokens with no
 * more power than it has, as guard() lets it act on: a scoped token learns nothing of other
 * buckets' tokens. Console users see every token; their role bounds what they change.
 */
function visible(access: ProjectAccess, token: TokenView): boolean {
  return access.caller.kind !== 'bearer' || access.principal.tokenId === token.id || mayHandOut(access, token) === null;
}

/**
 * A bearer token changes only tokens that end no later than it does, as it creates only such
 * tokens (outlives()): 422 limit-exceeded, as for creating one. Console users have no expiry.
 */
async function holdToLifetime(deps: ApiDeps, access: ProjectAccess, token: TokenView, verb: Action | 'rotate'): Promise<void> {
  const issuer = issuerOf(access);
  if (issuer === undefined || issuer === token.id) return;
  const mine = await deps.tokens.show(issuer, access.projectId);
  const at = (iso: string | null) => (iso === null ? null : new Date(iso));
  if (!outlives(at(token.expiresAt), at(mine.expiresAt))) return;
  const why = verb === 'rotate' ? " (it would hold that token's new secret past its own expiry)" : '';
  throw new DomainError(
    'limit-exceeded',
    `A token cannot ${verb} a token that outlives it${why}: the caller's token expires at ${mine.expiresAt}, this one ${token.expiresAt ? `at ${token.expiresAt}` : 'never'}.`,
  );
}

export function registerTokens(app: ApiApp, deps: ApiDeps): void {
  app.openapi(listTokens, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['number', 'string'] as const);
    const { access } = await manageable(c, deps, projectId);
    const seen = (await deps.tokens.list(projectId)).filter((t) => visible(access, t));
    c.header('Cache-Control', 'no-store');
    return c.json(keysetPage(seen, tokenPosition, newestFirst, after, q.limit ?? MAX_PAGE), 200);
  });

  app.openapi(createToken, async (c) => {
    const { projectId } = c.req.valid('param');
    const body = c.req.valid('json');
    const { access } = await manageable(c, deps, projectId);
    const why = mayHandOut(access, {
      permission: body.permission,
      bucketScope: body.bucketScope,
      billing: body.billing ?? false,
      allowedNetworks: body.allowedNetworks,
      rateLimit: body.rateLimit,
    });
    if (why) throw new ApiProblem('forbidden', `You may not create this token: ${why}.`);
    const issued = await deps.tokens.create({ projectId, ...body, createdBy: access.actor, parentTokenId: issuerOf(access) }, clientAddress(c));
    c.header('Cache-Control', 'no-store');
    return c.json(issuedReply(c, deps, issued), 201);
  });

  app.openapi(getToken, async (c) => {
    const { projectId, tokenId } = c.req.valid('param');
    const { access, token } = await manageable(c, deps, projectId, tokenId);
    // Not why: that would tell what the token may reach.
    if (!visible(access, token!)) throw new ApiProblem('forbidden', 'You may not see this token: a token sees itself and the tokens with no more power than it has.');
    return c.json(token!, 200);
  });

  const actions: Record<Action, (id: string, by: { actor: string; source?: string }, projectId: string) => Promise<TokenView>> = {
    disable: (id, by, p) => deps.tokens.disable(id, by, p),
    enable: (id, by, p) => deps.tokens.enable(id, by, p),
    revoke: (id, by, p) => deps.tokens.revoke(id, by, p),
    'confirm-rotation': (id, by, p) => deps.tokens.confirmRotation(id, by, p),
  };
  for (const action of Object.keys(actions) as Action[]) {
    app.openapi(actionRoute(action), async (c) => {
      const { projectId, tokenId } = c.req.valid('param');
      const { access, token } = await manageable(c, deps, projectId, tokenId);
      guard(access, token!, action);
      await holdToLifetime(deps, access, token!, action);
      return c.json(await actions[action](tokenId, requestSource(c, access), projectId), 200);
    });
  }

  app.openapi(createTemporary, async (c) => {
    const { projectId, tokenId } = c.req.valid('param');
    const body = c.req.valid('json') ?? {};
    const access = await temporaryAccess(c, deps, projectId, tokenId);
    const issued = await deps.temporary.issue({ projectId, tokenId, ...body, issuerTokenId: issuerOf(access), by: requestSource(c, access) });
    c.header('Cache-Control', 'no-store');
    return c.json(temporaryReply(c, deps, projectId, issued), 201);
  });

  app.openapi(listTemporary, async (c) => {
    const { projectId, tokenId } = c.req.valid('param');
    await temporaryAccess(c, deps, projectId, tokenId);
    return c.json({ items: await deps.temporary.list(tokenId, projectId) }, 200);
  });

  app.openapi(revokeTemporary, async (c) => {
    const { projectId, tokenId, credentialId } = c.req.valid('param');
    const access = await temporaryAccess(c, deps, projectId, tokenId);
    return c.json(await deps.temporary.revoke(tokenId, credentialId, requestSource(c, access), projectId), 200);
  });

  app.openapi(rotateToken, async (c) => {
    const { projectId, tokenId } = c.req.valid('param');
    const { graceDays } = c.req.valid('json');
    const { access, token } = await manageable(c, deps, projectId, tokenId);
    guard(access, token!, 'rotate');
    await holdToLifetime(deps, access, token!, 'rotate');
    const issued = await deps.tokens.rotate(tokenId, requestSource(c, access), graceDays, projectId);
    c.header('Cache-Control', 'no-store');
    return c.json(issuedReply(c, deps, issued), 200);
  });
}
