import { createRoute, z } from '@hono/zod-openapi';
import { reachOf } from '../auth/scope.js';
import { requestSource, requireOwner, requireProject, requireRight } from './caller.js';
import type { ApiApp, ApiDeps } from './context.js';
import { ApiProblem } from './problems.js';
import { BucketParams, errorResponses, json, jsonBody, ProjectIdParam, READ_SECURITY, SESSION_WRITE_SECURITY, WRITE_SECURITY } from './schemas.js';

// Storage quotas: the project's (owners set it) and each bucket's (admins of the bucket set it),
// with what is stored now. Writes past a quota are refused (S3 403 QuotaExceeded, REST 403 quota-exceeded).

const Limit = (what: string) => z.number().int().min(1).nullable().openapi({ description: `The most ${what}; null: no limit.` });

const QuotaSchema = z.object({ maxBytes: Limit('bytes stored'), maxObjects: Limit('objects stored') }).openapi('StorageQuota');
const QuotaBody = z.strictObject({ maxBytes: Limit('bytes stored'), maxObjects: Limit('objects stored') }).openapi('SetStorageQuota');
const QuotaReport = z
  .object({
    quota: QuotaSchema.nullable().openapi({ description: 'null: no quota.' }),
    used: z
      .object({ bytes: z.number().int(), objects: z.number().int() })
      .nullable()
      .openapi({ description: 'Stored now; null for a caller whose scope does not reach all of it (a bucket-scoped token asking about the project, a prefix-scoped one about a bucket), as bucket listings hide such counts.' }),
  })
  .openapi('QuotaReport');

const getProjectQuota = createRoute({
  operationId: 'getProjectQuota',
  method: 'get',
  path: '/projects/{projectId}/quota',
  tags: ['projects'],
  summary: "The project's storage quota and what it stores",
  security: READ_SECURITY,
  request: { params: ProjectIdParam },
  responses: { 200: json(QuotaReport, 'The quota'), ...errorResponses(401, 403) },
});

const putProjectQuota = createRoute({
  operationId: 'putProjectQuota',
  method: 'put',
  path: '/projects/{projectId}/quota',
  tags: ['projects'],
  summary: "Set the project's storage quota (owners); both limits null removes it",
  security: SESSION_WRITE_SECURITY,
  request: { params: ProjectIdParam, body: jsonBody(QuotaBody) },
  responses: { 200: json(QuotaReport, 'The quota after the change'), ...errorResponses(400, 401, 403) },
});

const getBucketQuota = createRoute({
  operationId: 'getBucketQuota',
  method: 'get',
  path: '/projects/{projectId}/buckets/{bucket}/quota',
  tags: ['buckets'],
  summary: "The bucket's storage quota and what it stores",
  security: READ_SECURITY,
  request: { params: BucketParams },
  responses: { 200: json(QuotaReport, 'The quota'), ...errorResponses(401, 403, 404) },
});

const putBucketQuota = createRoute({
  operationId: 'putBucketQuota',
  method: 'put',
  path: '/projects/{projectId}/buckets/{bucket}/quota',
  tags: ['buckets'],
  summary: "Set the bucket's storage quota (admin-rw on the bucket); both limits null removes it",
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(QuotaBody) },
  responses: { 200: json(QuotaReport, 'The quota after the change'), ...errorResponses(400, 401, 403, 404) },
});

export function registerQuotas(app: ApiApp, deps: ApiDeps): void {
  app.openapi(getProjectQuota, async (c) => {
    const { projectId } = c.req.valid('param');
    const access = await requireProject(c, deps, projectId);
    const used = access.principal.bucketScope === null || access.principal.billing ? await deps.quotas.projectUsage(projectId) : null;
    return c.json({ quota: await deps.quotas.getProjectQuota(projectId), used }, 200);
  });

  app.openapi(putProjectQuota, async (c) => {
    const { projectId } = c.req.valid('param');
    const body = c.req.valid('json');
    const access = await requireOwner(c, deps, projectId);
    const quota = await deps.quotas.setProjectQuota(projectId, body, requestSource(c, access));
    return c.json({ quota, used: await deps.quotas.projectUsage(projectId) }, 200);
  });

  const resolve = async (projectId: string, bucket: string) => {
    const resolved = await deps.bucketConfig.resolve(projectId, bucket);
    if (!resolved) throw new ApiProblem('not-found', `No bucket ${bucket}.`);
    return resolved;
  };

  app.openapi(getBucketQuota, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ProbeBucket', bucket);
    const resolved = await resolve(projectId, bucket);
    const quota = resolved.quota?.bucket ?? null;
    const used = reachOf(access.principal.bucketScope, bucket) === 'bucket' ? await deps.quotas.bucketUsage(resolved.row, resolved.quota !== null) : null;
    return c.json({ quota, used }, 200);
  });

  app.openapi(putBucketQuota, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const body = c.req.valid('json');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'WriteBucketConfig', bucket);
    const resolved = await resolve(projectId, bucket);
    await deps.quotas.setBucketQuota(resolved.row, body, requestSource(c, access));
    const after = await resolve(projectId, bucket);
    return c.json({ quota: after.quota?.bucket ?? null, used: await deps.quotas.bucketUsage(after.row, after.quota !== null) }, 200);
  });
}
