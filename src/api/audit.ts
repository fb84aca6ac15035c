import { createRoute, z } from '@hono/zod-openapi';
import type { AuditFilter } from '../audit/audit-service.js';
import { auditCsvHeader, auditCsvLine } from '../audit/audit-export.js';
import type { AuditAction, AuditRow } from '../storage/metadata/metadata-store.js';
import { isAuditAction } from '../audit/actions.js';
import { requireProject, requireRight } from './caller.js';
import type { ApiApp, ApiDeps } from './context.js';
import { ApiProblem } from './problems.js';
import { errorResponses, json, NextCursor, pageQuery, ProjectIdParam, READ_SECURITY, Text } from './schemas.js';

// GET /projects/{projectId}/audit: the project's audit log, newest first, paged by a cursor and
// filtered by actor, action, token, bucket and time; GET .../audit/export: all of it as CSV or JSON.

const DEFAULT_LIMIT = 100;

const FilterQuery = z.object({
  actor: Text.min(1).max(300).optional().openapi({ description: 'Only this actor: token:<id>, user:<email>, cli:<user>, bootstrap, anonymous.' }),
  action: Text.min(1).max(1000).optional().openapi({ description: 'Only these actions, comma-separated (token.created,bucket.deleted).', example: 'bucket.created,bucket.deleted' }),
  token: Text.min(1).optional().openapi({ description: 'Only events about this token id.' }),
  bucket: Text.min(1).optional().openapi({ description: 'Only events about this bucket.' }),
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Events at or after this time (RFC 3339).', example: '2026-01-01T00:00:00Z' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Events before this time (RFC 3339).' }),
});

const AuditQuery = FilterQuery.extend(pageQuery(DEFAULT_LIMIT).shape);
const ExportQuery = FilterQuery.extend({
  format: z.enum(['csv', 'json']).default('csv').openapi({ description: 'csv (a header line, then one event a line) or json (an array).' }),
});

const AuditRowSchema = z
  .object({
    id: z.string(),
    at: z.string().openapi({ format: 'date-time' }),
    action: z.string().openapi({ example: 'token.created' }),
    actor: z.string().openapi({ example: 'token:0b5e7c9e-5a4f-4c7a-9d8e-2f1c3b4a5d6e' }),
    tokenId: z.string().nullable(),
    projectId: z.string().nullable(),
    bucket: z.string().nullable(),
    source: z.string().nullable(),
    detail: z.string().nullable(),
  })
  .openapi('AuditRow');

const AuditPage = z.object({ items: z.array(AuditRowSchema), nextCursor: NextCursor }).openapi('AuditPage');

const base = { tags: ['audit'], security: READ_SECURITY };

const getAudit = createRoute({
  operationId: 'listAuditEvents',
  ...base,
  method: 'get',
  path: '/projects/{projectId}/audit',
  summary: 'Audit log: project owners, or admin-rw bearer tokens of all buckets',
  request: { params: ProjectIdParam, query: AuditQuery },
  responses: { 200: json(AuditPage, 'Newest first'), ...errorResponses(400, 401, 403) },
});

const exportAudit = createRoute({
  operationId: 'exportAuditLog',
  ...base,
  method: 'get',
  path: '/projects/{projectId}/audit/export',
  summary: 'The whole (filtered) audit log as a CSV or JSON download, newest first',
  request: { params: ProjectIdParam, query: ExportQuery },
  responses: {
    200: {
      description: 'Streamed as an attachment',
      content: { 'text/csv': { schema: z.string() }, 'application/json': { schema: z.array(AuditRowSchema) } },
    },
    ...errorResponses(400, 401, 403),
  },
});

function filterOf(projectId: string, q: z.infer<typeof FilterQuery>): AuditFilter {
  const actions = q.action?.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of actions ?? []) {
    if (!isAuditAction(a)) throw new ApiProblem('validation', `Unknown action "${a}".`, 'action');
  }
  return {
    projectId,
    actor: q.actor,
    tokenId: q.token,
    bucket: q.bucket,
    actions: actions as AuditAction[] | undefined,
    since: q.from === undefined ? undefined : new Date(q.from),
    until: q.to === undefined ? undefined : new Date(q.to),
  };
}

export function auditJson(r: AuditRow) {
  return { ...r, at: r.at.toISOString() };
}

export function registerAudit(app: ApiApp, deps: ApiDeps): void {
  app.openapi(getAudit, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ReadAudit');
    const page = await deps.audit.page(filterOf(projectId, q), q.limit ?? DEFAULT_LIMIT, q.cursor);
    return c.json({ items: page.items.map(auditJson), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(exportAudit, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ReadAudit');
    const rows = deps.audit.all(filterOf(projectId, q));
    const csv = q.format === 'csv';
    const encoder = new TextEncoder();
    let first = true;
    // Read a page at a time as the client takes it: the whole log is never held in memory.
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(csv ? auditCsvHeader() : '['));
      },
      async pull(controller) {
        const next = await rows.next();
        if (next.done) {
          if (!csv) controller.enqueue(encoder.encode(first ? ']\n' : '\n]\n'));
          controller.close();
          return;
        }
        const text = csv ? auditCsvLine(next.value) : `${first ? '\n' : ',\n'}${JSON.stringify(auditJson(next.value))}`;
        first = false;
        controller.enqueue(encoder.encode(text));
      },
      async cancel() {
        await rows.return(undefined);
      },
    });
    const day = deps.clock().toISOString().slice(0, 10);
    return c.body(body, 200, {
      'Content-Type': csv ? 'text/csv; charset=utf-8' : 'application/json',
      'Content-Disposition': `attachment; filename="audit-${projectId}-${day}.${q.format}"`,
      'Cache-Control': 'no-store',
    });
  });
}
