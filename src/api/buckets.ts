import { createRoute, z } from '@hono/zod-openapi';
import { authorize, inScope } from '../auth/authorize.js';
import { reachOf } from '../auth/scope.js';
import type { Principal } from '../auth/principal.js';
import type { BucketRow } from '../storage/metadata/metadata-store.js';
import type { RemovalFilter } from '../objects/object-service.js';
import { bucketDecision, requestSource, requireBucketAccess, requireProject, requireRight, type S3Equivalent } from './caller.js';
import type { ApiApp, ApiDeps } from './context.js';
import { compareStrings, decodeCursor, keysetPage } from './cursor.js';
import { VersioningSchema } from './bucket-settings.js';
import { BucketParams, errorResponses, json, jsonBody, MAX_PAGE, NextCursor, pageQuery, ProjectIdParam, READ_SECURITY, Text, WRITE_SECURITY } from './schemas.js';

// Buckets of a project: list (scope-filtered), create, show, delete (optionally emptying first).

const HIDDEN_STATS = { objects: null, bytes: null, noncurrentVersions: null, noncurrentBytes: null, deleteMarkers: null };

const BucketSchema = z
  .object({
    name: z.string(),
    region: z.string(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    objects: z.number().int().nullable().openapi({ description: 'Current objects. The five counts are null for a caller whose scope reaches only prefixes of the bucket (they would tell about keys outside its reach).' }),
    bytes: z.number().int().nullable().openapi({ description: 'Bytes of the current objects.' }),
    noncurrentVersions: z.number().int().nullable().openapi({ description: 'Older versions kept by versioning (delete markers apart).' }),
    noncurrentBytes: z.number().int().nullable(),
    deleteMarkers: z.number().int().nullable(),
  })
  .openapi('Bucket');

const BucketDetailSchema = BucketSchema.extend({
  versioning: VersioningSchema,
  objectLock: z.boolean(),
  // An enum, not a literal: a nullable literal is documented with null missing from its enum.
  encryption: z.enum(['AES256']).nullable().openapi({ description: 'Default encryption of new objects; null: none.' }),
}).openapi('BucketDetail');
const BucketList = z.object({ items: z.array(BucketSchema), nextCursor: NextCursor }).openapi('BucketList');
const BucketsQuery = pageQuery(MAX_PAGE);
const CreateBucketBody = z
  .strictObject({
    name: Text.min(1).max(255),
    objectLock: z.boolean().default(false).openapi({ description: 'Create it with Object Lock (and so with versioning enabled for good).' }),
  })
  .openapi('CreateBucket');
const DeleteBucketQuery = z.object({
  force: z.enum(['true', 'false']).optional().openapi({ description: 'true: delete every object and abort every multipart upload first.' }),
});

const listBuckets = createRoute({
  operationId: 'listBuckets',
  method: 'get',
  path: '/projects/{projectId}/buckets',
  tags: ['buckets'],
  summary: 'Buckets the caller may see (a bucket-scoped token sees only its buckets)',
  security: READ_SECURITY,
  request: { params: ProjectIdParam, query: BucketsQuery },
  responses: { 200: json(BucketList, 'Buckets by name, with object counts and bytes stored, one page at a time'), ...errorResponses(400, 401, 403) },
});

const createBucket = createRoute({
  operationId: 'createBucket',
  method: 'post',
  path: '/projects/{projectId}/buckets',
  tags: ['buckets'],
  summary: 'Create a bucket',
  security: WRITE_SECURITY,
  request: { params: ProjectIdParam, body: jsonBody(CreateBucketBody) },
  responses: { 201: json(BucketSchema, 'Created'), ...errorResponses(400, 401, 403, 409) },
});

const getBucket = createRoute({
  operationId: 'getBucket',
  method: 'get',
  path: '/projects/{projectId}/buckets/{bucket}',
  tags: ['buckets'],
  summary: 'One bucket',
  security: READ_SECURITY,
  request: { params: BucketParams },
  responses: { 200: json(BucketDetailSchema, 'The bucket'), ...errorResponses(401, 403, 404) },
});

const deleteBucket = createRoute({
  operationId: 'deleteBucket',
  method: 'delete',
  path: '/projects/{projectId}/buckets/{bucket}',
  tags: ['buckets'],
  summary: 'Delete a bucket (409 while it holds objects, unless force=true)',
  security: WRITE_SECURITY,
  request: { params: BucketParams, query: DeleteBucketQuery },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(400, 401, 403, 404, 409) },
});

/** A bucket as the caller may see it: its counts only when the caller's scope holds the whole bucket. */
async function bucketView(deps: ApiDeps, b: BucketRow, principal: Principal) {
  const stats = reachOf(principal.bucketScope, b.name) === 'bucket' ? await deps.objects.bucketStats(b) : HIDDEN_STATS;
  return {
    name: b.name,
    region: b.region,
    createdAt: b.createdAt.toISOString(),
    objects: stats.objects,
    bytes: stats.bytes,
    noncurrentVersions: stats.noncurrentVersions,
    noncurrentBytes: stats.noncurrentBytes,
    deleteMarkers: stats.deleteMarkers,
  };
}

export function registerBuckets(app: ApiApp, deps: ApiDeps): void {
  app.openapi(listBuckets, async (c) => {
    const { projectId } = c.req.valid('param');
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['string'] as const);
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'ListBuckets');
    const visible = (await deps.objects.listBuckets(projectId)).filter((b) => inScope(access.principal, b.name));
    const page = keysetPage(visible, (b) => [b.name] as const, (a, b) => compareStrings(a[0], b[0]), after, q.limit ?? MAX_PAGE);
    // Counting objects and bytes is the costly part: only for the buckets on this page.
    const items = [];
    for (const b of page.items) items.push(await bucketView(deps, b, access.principal));
    return c.json({ items, nextCursor: page.nextCursor }, 200);
  });

  app.openapi(createBucket, async (c) => {
    const { projectId } = c.req.valid('param');
    const { name, objectLock } = c.req.valid('json');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, 'CreateBucket', name);
    const row = await deps.buckets.create(projectId, name, deps.region, requestSource(c, access), { objectLock });
    return c.json({ name: row.name, region: row.region, createdAt: row.createdAt.toISOString(), objects: 0, bytes: 0, noncurrentVersions: 0, noncurrentBytes: 0, deleteMarkers: 0 }, 201);
  });

  app.openapi(getBucket, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const access = await requireProject(c, deps, projectId);
    // Object tokens may not read configuration but may see that their bucket exists.
    if (!authorize(access.principal, 'ReadBucketConfig', bucket).allow) requireRight(access, 'ProbeBucket', bucket);
    const row = await deps.objects.requireBucket(projectId, bucket);
    const p = await deps.protection.get(row);
    return c.json(
      {
        ...(await bucketView(deps, row, access.principal)),
        versioning: p.versioning === 'Unversioned' ? ('Disabled' as const) : p.versioning,
        objectLock: p.objectLock !== null,
        encryption: p.encryption ? ('AES256' as const) : null,
      },
      200,
    );
  });

  app.openapi(deleteBucket, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const force = c.req.valid('query').force === 'true';
    const access = await requireProject(c, deps, projectId);
    const resolved = await requireBucketAccess(c, deps, access, bucket, { op: 'DeleteBucket', key: null });
    if (force) requireRight(access, 'DeleteObject', bucket);
    // The one bucket deletion every protocol uses: force removes every version it may (never
    // one under Object Lock, so a bucket holding one stays) and aborts every upload first. The
    // bucket's policy decides each version and upload as S3 would decide its own request; removing
    // a version for good is both s3:DeleteObject and s3:DeleteObjectVersion, so a Deny of either keeps it.
    const allows = (s3: S3Equivalent) => bucketDecision(c, deps, access, resolved, s3).allow;
    const may: RemovalFilter | undefined = resolved.access.policy
      ? {
          version: (key, versionId) => allows({ op: 'DeleteObject', key }) && allows({ op: 'DeleteObject', key, versionId }),
          upload: (key) => allows({ op: 'AbortMultipartUpload', key }),
        }
      : undefined;
    if (force) await deps.buckets.forceDelete(resolved.row, requestSource(c, access), may);
    else await deps.buckets.delete(resolved.row, requestSource(c, access));
    return c.body(null, 204);
  });
}
