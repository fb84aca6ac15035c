import { createRoute, z } from '@hono/zod-openapi';
import { requireProject, requireRight } from './caller.js';
import type { ApiApp, ApiDeps } from './context.js';
import { ApiProblem } from './problems.js';
import { errorResponses, json, NextCursor, pageQuery, ProjectIdParam, READ_SECURITY } from './schemas.js';

// GET /projects/{projectId}/audit: the project's audit log, newest first, paged by a cursor.

const DEFAULT_LIMIT = 100;
const AuditQuery = pageQuery(DEFAULT_LIMIT);

const AuditRowSchema = z
  .object({
    id: z.string(),
    at: z.string().openapi({ format: 'date-time' }),
    action: z.string().openapi({ example: 'token.created' }),
    actor: z.string(),
    tokenId: z.string().nullable(),
    projectId: z.string().nullable(),
    source: z.string().nullable(),
    detail: z.string().nullable(),
  })
  .openapi('AuditRow');

const AuditPage = z.object({ items: z.array(AuditRowSchema), nextCursor: NextCursor }).openapi('AuditPage');

const getAudit = createRoute({
  method: 'get',
  path: '/projects/{projectId}/audit',
  tags: ['audit'],
  summary: 'Audit log: project owners, or admin-rw bearer tokens',
  security: READ_SECURITY,
  request: { params: ProjectIdParam, query: AuditQuery },
  responses: { 200: json(AuditPage, 'Newest first'), ...errorResponses(400, 401, 403) },
});

/** The cursor is the (time, id) of the last row returned, opaque to clients. */
function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.getTime()}:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { before: Date; beforeId: string } {
  const m = /^(\d{1,15}):(.+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new ApiProblem('validation', 'The cursor is not one this API returned.', 'cursor');
  return { before: new Date(Number(m[1])), beforeId: m[2] };
}

export function registerAudit(app: ApiApp, deps: ApiDeps): void {
  app.openapi(getAudit, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ReadAudit');
    const limit = q.limit ?? DEFAULT_LIMIT;
    const position = q.cursor === undefined ? {} : decodeCursor(q.cursor);
    // One extra row tells whether another page follows.
    const rows = await deps.meta.listAudit({ projectId, limit: limit + 1, ...position });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return c.json(
      {
        items: page.map((r) => ({ ...r, at: r.at.toISOString() })),
        nextCursor: rows.length > limit && last ? encodeCursor(last.at, last.id) : null,
      },
      200,
    );
  });
}
