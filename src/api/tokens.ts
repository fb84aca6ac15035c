import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { clientSnippets } from '../credentials/snippets.js';
import { MAX_EXPIRY_DAYS, type IssuedCredentials, type TokenView } from '../credentials/token-service.js';
import { clientAddress, mayHandOut, requestSource, requireProject, requireRight } from './caller.js';
import type { ApiApp, ApiDeps, ApiEnv, ProjectAccess } from './context.js';
import { compareStrings, decodeCursor, keysetPage } from './cursor.js';
import { ApiProblem } from './problems.js';
import { projectS3Endpoint } from './public-url.js';
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
  TokenViewSchema,
  WRITE_SECURITY,
} from './schemas.js';

// API tokens of a project: list, create (secrets returned once), show, disable, enable, revoke,
// rotate (new secrets returned once), confirm a rotation. Nobody hands out more than they have.

const TokenParams = ProjectIdParam.extend({
  tokenId: z.string().min(1).openapi({ param: { name: 'tokenId', in: 'path' } }),
});

const TokenList = z.object({ items: z.array(TokenViewSchema), nextCursor: NextCursor }).openapi('TokenList');
const TokensQuery = pageQuery(MAX_PAGE);

/** Tokens are listed newest first: by creation time descending, then id. */
type TokenPosition = readonly [number, string];
const newestFirst = (a: TokenPosition, b: TokenPosition) => b[0] - a[0] || compareStrings(a[1], b[1]);
const tokenPosition = (t: TokenView): TokenPosition => [Date.parse(t.createdAt), t.id];

const CreateTokenBody = z
  .strictObject({
    name: z.string().min(1).max(100),
    description: z.string().max(1000).optional(),
    permission: PermissionSchema,
    bucketScope: z.array(z.string().min(1)).min(1).nullable().openapi({ description: 'Bucket names, or null for every bucket (including ones created later).' }),
    expiresInDays: z.number().int().min(1).max(MAX_EXPIRY_DAYS).optional().openapi({
      description: `1-${MAX_EXPIRY_DAYS}; default 90, or less when a limit is lower. At most the project's maximum, and for a bearer caller at most its own token's remaining days (422 limit-exceeded beyond).`,
    }),
    billing: z.boolean().optional().openapi({ description: 'May read the project usage.' }),
  })
  .openapi('CreateToken');

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
  ...base,
  method: 'get',
  path: '/projects/{projectId}/tokens',
  summary: 'List tokens (never a secret)',
  security: READ_SECURITY,
  request: { params: ProjectIdParam, query: TokensQuery },
  responses: { 200: json(TokenList, 'Tokens, newest first, one page at a time'), ...errorResponses(400, 401, 403) },
});

const createToken = createRoute({
  ...base,
  method: 'post',
  path: '/projects/{projectId}/tokens',
  summary: 'Create a token; its secrets are in this reply only',
  security: WRITE_SECURITY,
  request: { params: ProjectIdParam, body: jsonBody(CreateTokenBody) },
  responses: { 201: json(Issued, 'Created'), ...errorResponses(400, 401, 403, 422) },
});

const getToken = createRoute({
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

function actionRoute(action: Action) {
  return createRoute({
    ...base,
    method: 'post',
    path: `/projects/{projectId}/tokens/{tokenId}/${action}`,
    summary: ACTION_SUMMARY[action],
    security: WRITE_SECURITY,
    request: { params: TokenParams },
    responses: { 200: json(TokenViewSchema, 'The token after the change'), ...errorResponses(401, 403, 404, 409) },
  });
}

const rotateToken = createRoute({
  ...base,
  method: 'post',
  path: '/projects/{projectId}/tokens/{tokenId}/rotate',
  summary: 'New secrets (in this reply only); the old ones keep working for graceDays (default 7), never past the token\'s expiry',
  description: 'A token with a rotation pending (its previous secret still works) answers 409: confirm that rotation first.',
  security: WRITE_SECURITY,
  request: { params: TokenParams, body: { required: false, content: { 'application/json': { schema: RotateBody } } } },
  responses: { 200: json(Issued, 'Rotated'), ...errorResponses(400, 401, 403, 404, 409) },
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

export function registerTokens(app: ApiApp, deps: ApiDeps): void {
  app.openapi(listTokens, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['number', 'string'] as const);
    await manageable(c, deps, projectId);
    c.header('Cache-Control', 'no-store');
    return c.json(keysetPage(await deps.tokens.list(projectId), tokenPosition, newestFirst, after, q.limit ?? MAX_PAGE), 200);
  });

  app.openapi(createToken, async (c) => {
    const { projectId } = c.req.valid('param');
    const body = c.req.valid('json');
    const { access } = await manageable(c, deps, projectId);
    const why = mayHandOut(access, { permission: body.permission, bucketScope: body.bucketScope, billing: body.billing ?? false });
    if (why) throw new ApiProblem('forbidden', `You may not create this token: ${why}.`);
    // A token never outlives the token that creates it.
    const parentTokenId = access.caller.kind === 'bearer' ? access.principal.tokenId : undefined;
    const issued = await deps.tokens.create({ projectId, ...body, createdBy: access.actor, parentTokenId }, clientAddress(c));
    c.header('Cache-Control', 'no-store');
    return c.json(issuedReply(c, deps, issued), 201);
  });

  app.openapi(getToken, async (c) => {
    const { projectId, tokenId } = c.req.valid('param');
    const { token } = await manageable(c, deps, projectId, tokenId);
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
      return c.json(await actions[action](tokenId, requestSource(c, access), projectId), 200);
    });
  }

  app.openapi(rotateToken, async (c) => {
    const { projectId, tokenId } = c.req.valid('param');
    const { graceDays } = c.req.valid('json');
    const { access, token } = await manageable(c, deps, projectId, tokenId);
    guard(access, token!, 'rotate');
    const issued = await deps.tokens.rotate(tokenId, requestSource(c, access), graceDays, projectId);
    c.header('Cache-Control', 'no-store');
    return c.json(issuedReply(c, deps, issued), 200);
  });
}
