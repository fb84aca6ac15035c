import { createRoute, z } from '@hono/zod-openapi';
import type { ApiApp } from './context.js';
import { ApiProblem, isProblemSlug, PROBLEM_SLUGS, PROBLEM_TYPES, problemType } from './problems.js';
import { errorResponses, json, Text } from './schemas.js';

// GET /problems/{slug}: what each problem `type` the API answers with means, so that every type
// URI resolves. Served from the problem table in problems.ts.

const ProblemTypeSchema = z
  .object({
    type: z.string().openapi({ example: '/api/v1/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    description: z.string(),
  })
  .openapi('ProblemType');

const SlugParam = z.object({
  slug: Text.min(1).openapi({ param: { name: 'slug', in: 'path' }, example: 'validation', description: `One of: ${PROBLEM_SLUGS.join(', ')}.` }),
});

const getProblemType = createRoute({
  operationId: 'getProblemType',
  method: 'get',
  path: '/problems/{slug}',
  tags: ['meta'],
  summary: 'The meaning of a problem type (the `type` of an error reply)',
  security: [],
  request: { params: SlugParam },
  responses: { 200: json(ProblemTypeSchema, 'The problem type'), ...errorResponses(404) },
});

export function registerProblemTypes(app: ApiApp): void {
  app.openapi(getProblemType, (c) => {
    const { slug } = c.req.valid('param');
    if (!isProblemSlug(slug)) throw new ApiProblem('not-found', `No problem type "${slug}".`);
    const t = PROBLEM_TYPES[slug];
    c.header('Cache-Control', 'public, max-age=86400');
    return c.json({ type: problemType(slug), title: t.title, status: t.status, description: t.description }, 200);
  });
}
