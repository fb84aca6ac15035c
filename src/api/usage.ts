import { createRoute, z } from '@hono/zod-openapi';
import { requireProject, requireRight } from './caller.js';
import type { ApiApp, ApiDeps } from './context.js';
import { errorResponses, json, ProjectIdParam, READ_SECURITY, Text } from './schemas.js';

// GET /projects/{projectId}/usage: requests, bytes in/out and stored bytes per day, and what is stored now.

const DateParam = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2024-05-31');

const UsageQuery = z.object({
  from: DateParam.optional().openapi({ description: 'First day (UTC), inclusive; default: 29 days before `to`.', example: '2024-05-01' }),
  to: DateParam.optional().openapi({ description: 'Last day (UTC), inclusive; default: today. At most 366 days in all.', example: '2024-05-31' }),
  bucket: Text.min(1).optional().openapi({ description: 'Only this bucket.' }),
  token: Text.optional().openapi({ description: 'Only requests made with this token id; empty: only console-session requests.' }),
});

const Counts = z.object({
  bytes: z.number().int().openapi({ description: 'Bytes stored, noncurrent versions (kept by versioning) included.' }),
  objects: z.number().int().openapi({ description: 'Objects stored, noncurrent versions included.' }),
});

const UsageReport = z
  .object({
    current: Counts.openapi({ description: 'Stored now, over the buckets listed.' }),
    buckets: z.array(
      Counts.extend({
        name: z.string(),
        noncurrentVersions: z.number().int().openapi({ description: 'Of `objects`: noncurrent versions.' }),
        noncurrentBytes: z.number().int().openapi({ description: 'Of `bytes`: those of noncurrent versions.' }),
      }),
    ),
    days: z.array(
      z.object({
        date: z.string(),
        requests: z.object({ read: z.number().int(), write: z.number().int(), list: z.number().int(), delete: z.number().int(), other: z.number().int() }),
        bytesIn: z.number().int(),
        bytesOut: z.number().int(),
        storedBytes: z.number().int().nullable().openapi({
          description:
            'Bytes stored at the end of the day (today: now), over the buckets selected: each bucket\'s last figure on or before the day (a day without a change carries the figure before it), 0 before the bucket was created. null when no selected bucket has a figure for the day, after today, and when `token` is given (storage is not per token).',
        }),
        objects: z.number().int().nullable().openapi({ description: 'Objects stored at the end of the day; null when `storedBytes` is.' }),
      }),
    ),
  })
  .openapi('UsageReport');

const getUsage = createRoute({
  operationId: 'getUsage',
  method: 'get',
  path: '/projects/{projectId}/usage',
  tags: ['usage'],
  summary: 'Usage: members, or bearer tokens with billing access',
  security: READ_SECURITY,
  request: { params: ProjectIdParam, query: UsageQuery },
  responses: { 200: json(UsageReport, 'Every day of the range, zeros included'), ...errorResponses(400, 401, 403) },
});

const TokenUsageQuery = UsageQuery.omit({ token: true });

const TokenUsageReport = z
  .object({
    from: z.string(),
    to: z.string(),
    tokens: z.array(
      z.object({
        tokenId: z.string().openapi({ description: "The token's id; '' for console sessions' requests." }),
        name: z.string().nullable().openapi({ description: "The token's name (null for console sessions)." }),
        requests: z.object({ read: z.number().int(), write: z.number().int(), list: z.number().int(), delete: z.number().int(), other: z.number().int() }),
        bytesIn: z.number().int(),
        bytesOut: z.number().int(),
      }),
    ),
  })
  .openapi('TokenUsageReport');

const getTokenUsage = createRoute({
  operationId: 'getTokenUsage',
  method: 'get',
  path: '/projects/{projectId}/usage/tokens',
  tags: ['usage'],
  summary: 'Usage per token (requests, bytes in and out) over a range of days: members, or bearer tokens with billing access',
  description: "Requests made with a token's temporary credentials count as the token's.",
  security: READ_SECURITY,
  request: { params: ProjectIdParam, query: TokenUsageQuery },
  responses: { 200: json(TokenUsageReport, 'One entry per token with any use in the range, by token id'), ...errorResponses(400, 401, 403) },
});

export function registerUsage(app: ApiApp, deps: ApiDeps): void {
  app.openapi(getTokenUsage, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ReadUsage');
    const report = await deps.usage.byToken({ projectId, from: q.from, to: q.to, bucket: q.bucket });
    const names = new Map((await deps.tokens.list(projectId)).map((t) => [t.id, t.name]));
    return c.json({ ...report, tokens: report.tokens.map((t) => ({ ...t, name: t.tokenId === '' ? null : (names.get(t.tokenId) ?? null) })) }, 200);
  });

  app.openapi(getUsage, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ReadUsage');
    return c.json(await deps.usage.report({ projectId, from: q.from, to: q.to, bucket: q.bucket, tokenId: q.token }), 200);
  });
}
