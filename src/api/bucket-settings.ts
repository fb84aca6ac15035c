import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { authorize } from '../auth/authorize.js';
import type { BucketProtection } from '../objects/bucket-config.js';
import type { ResolvedBucket } from '../buckets/bucket-config-service.js';
import type { LifecycleRule } from '../lifecycle/rules.js';
import { requestSource, requireBucketAccess, requireProject } from './caller.js';
import type { ParsedOperationName } from '../s3/endpoint.js';
import type { ApiApp, ApiDeps, ApiEnv, ProjectAccess } from './context.js';
import { BucketParams, errorResponses, json, jsonBody, READ_SECURITY, Text, WRITE_SECURITY } from './schemas.js';

// A bucket's settings through the REST API: versioning, Object Lock default retention,
// lifecycle rules and default encryption to read and change (the same service as S3's
// ?versioning, ?object-lock, ?lifecycle and ?encryption), and its CORS rules and policy to read
// (they are changed through S3). Reading needs ReadBucketConfig (admin tokens, owners), changing
// WriteBucketConfig (admin-rw, owners).

export const VersioningSchema = z.enum(['Disabled', 'Enabled', 'Suspended']).openapi({
  description: 'Disabled: never enabled (every object is its only, "null", version).',
});

const DefaultRetentionSchema = z
  .strictObject({
    mode: z.enum(['GOVERNANCE', 'COMPLIANCE']),
    days: z.number().int().min(1).max(36500).optional(),
    years: z.number().int().min(1).max(100).optional(),
  })
  .refine((r) => (r.days === undefined) !== (r.years === undefined), 'Give either days or years.')
  .openapi('DefaultRetention');

const LifecycleFilterSchema = z.strictObject({
  prefix: Text.default(''),
  tags: z.record(Text, Text).default({}),
  sizeGreaterThan: z.number().int().min(0).optional(),
  sizeLessThan: z.number().int().min(1).optional(),
  and: z.boolean().optional().openapi({ description: 'S3 form: the filter was written as <And> around one predicate, and is given back so.' }),
});

export const LifecycleRuleSchema = z
  .strictObject({
    id: Text.max(255).optional().openapi({ description: 'Generated when absent.' }),
    status: z.enum(['Enabled', 'Disabled']).default('Enabled'),
    filter: LifecycleFilterSchema.default({ prefix: '', tags: {} }),
    legacyPrefix: z.boolean().optional().openapi({ description: "S3 form: the rule was written with the older API's rule-level <Prefix>, and is given back so." }),
    expiration: z
      .strictObject({
        days: z.number().int().min(1).optional(),
        date: Text.optional().openapi({ description: 'Midnight UTC, e.g. 2030-01-01T00:00:00Z.' }),
        expiredObjectDeleteMarker: z.boolean().optional(),
      })
      .optional(),
    noncurrentVersionExpiration: z.strictObject({ noncurrentDays: z.number().int().min(1), newerNoncurrentVersions: z.number().int().min(1).max(100).optional() }).optional(),
    abortIncompleteMultipartUpload: z.strictObject({ daysAfterInitiation: z.number().int().min(1) }).optional(),
  })
  .openapi('LifecycleRule');

const BucketSettingsSchema = z
  .object({
    versioning: VersioningSchema,
    objectLock: z.object({ enabled: z.boolean(), defaultRetention: DefaultRetentionSchema.nullable() }),
    lifecycle: z.object({ rules: z.array(LifecycleRuleSchema) }).nullable(),
    encryption: z.object({ algorithm: z.literal('AES256') }).nullable().openapi({ description: 'Default encryption of new objects (SSE-S3); null: none.' }),
    cors: z
      .array(
        z.object({
          id: z.string().optional(),
          allowedOrigins: z.array(z.string()),
          allowedMethods: z.array(z.string()),
          allowedHeaders: z.array(z.string()),
          exposeHeaders: z.array(z.string()),
          maxAgeSeconds: z.number().int().optional(),
        }),
      )
      .nullable()
      .openapi({ description: 'CORS rules (set through S3 PutBucketCors); null: none.' }),
    policy: z.string().nullable().openapi({ description: 'The bucket policy document (set through S3 PutBucketPolicy); null: none.' }),
  })
  .openapi('BucketSettings');

const settingResponses = { 200: json(BucketSettingsSchema, 'The settings now'), ...errorResponses(401, 403, 404, 409) };
const settingPath = (setting: string) => `/projects/{projectId}/buckets/{bucket}/settings/${setting}`;

const getSettings = createRoute({
  operationId: 'getBucketSettings',
  method: 'get',
  path: '/projects/{projectId}/buckets/{bucket}/settings',
  tags: ['buckets'],
  summary: "The bucket's versioning, Object Lock, lifecycle rules and default encryption",
  security: READ_SECURITY,
  request: { params: BucketParams },
  responses: { 200: json(BucketSettingsSchema, 'The settings'), ...errorResponses(401, 403, 404) },
});

const putVersioning = createRoute({
  operationId: 'putBucketVersioning',
  method: 'put',
  path: settingPath('versioning'),
  tags: ['buckets'],
  summary: 'Enable or suspend versioning (Object Lock buckets cannot suspend it)',
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(z.strictObject({ status: z.enum(['Enabled', 'Suspended']) }).openapi('VersioningChange')) },
  responses: settingResponses,
});

const putObjectLock = createRoute({
  operationId: 'putBucketObjectLock',
  method: 'put',
  path: settingPath('object-lock'),
  tags: ['buckets'],
  summary: 'Turn Object Lock on (versioning must be enabled) and set its default retention',
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(z.strictObject({ defaultRetention: DefaultRetentionSchema.nullable() }).openapi('ObjectLockChange')) },
  responses: settingResponses,
});

const putLifecycle = createRoute({
  operationId: 'putBucketLifecycle',
  method: 'put',
  path: settingPath('lifecycle'),
  tags: ['buckets'],
  summary: 'Replace the lifecycle rules',
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(z.strictObject({ rules: z.array(LifecycleRuleSchema).min(1).max(1000) }).openapi('LifecycleChange')) },
  responses: settingResponses,
});

const deleteLifecycle = createRoute({
  operationId: 'deleteBucketLifecycle',
  method: 'delete',
  path: settingPath('lifecycle'),
  tags: ['buckets'],
  summary: 'Remove the lifecycle rules',
  security: WRITE_SECURITY,
  request: { params: BucketParams },
  responses: settingResponses,
});

const putEncryption = createRoute({
  operationId: 'putBucketEncryption',
  method: 'put',
  path: settingPath('encryption'),
  tags: ['buckets'],
  summary: 'Encrypt new objects by default (SSE-S3)',
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(z.strictObject({ algorithm: z.literal('AES256') }).openapi('EncryptionChange')) },
  responses: settingResponses,
});

const deleteEncryption = createRoute({
  operationId: 'deleteBucketEncryption',
  method: 'delete',
  path: settingPath('encryption'),
  tags: ['buckets'],
  summary: 'Stop encrypting new objects by default',
  security: WRITE_SECURITY,
  request: { params: BucketParams },
  responses: settingResponses,
});

function view(p: BucketProtection, access: ResolvedBucket | null) {
  return {
    versioning: p.versioning === 'Unversioned' ? ('Disabled' as const) : p.versioning,
    objectLock: { enabled: !!p.objectLock, defaultRetention: p.objectLock?.defaultRetention ?? null },
    lifecycle: p.lifecycle,
    encryption: p.encryption && { algorithm: p.encryption.algorithm },
    cors: access?.cors ?? null,
    policy: access?.access.policy?.text ?? null,
  };
}

export function registerBucketSettings(app: ApiApp, deps: ApiDeps): void {
  /** The bucket, once the caller may perform these S3 operations on its configuration (the policy included). */
  const bucketFor = async (c: Context<ApiEnv>, ...ops: ParsedOperationName[]) => {
    const { projectId, bucket } = c.req.param() as { projectId: string; bucket: string };
    const access = await requireProject(c, deps, projectId);
    const resolved = await requireBucketAccess(c, deps, access, bucket, ...ops.map((op) => ({ op, key: null })));
    return { access, row: resolved.row };
  };
  const settingsOf = async (c: Context<ApiEnv>, projectId: string, name: string) => {
    const row = await deps.objects.requireBucket(projectId, name);
    return c.json(view(await deps.protection.get(row), await deps.bucketConfig.resolve(projectId, name)), 200);
  };

  app.openapi(getSettings, async (c) => {
    // The view shows what these S3 reads would (the policy itself is never denied to the project).
    const { row } = await bucketFor(c, 'GetBucketVersioning', 'GetObjectLockConfiguration', 'GetBucketLifecycleConfiguration', 'GetBucketEncryption', 'GetBucketCors');
    return settingsOf(c, row.projectId, row.name);
  });

  app.openapi(putVersioning, async (c) => {
    const { access, row } = await bucketFor(c, 'PutBucketVersioning');
    await deps.protection.setVersioning(row, c.req.valid('json').status, requestSource(c, access));
    return settingsOf(c, row.projectId, row.name);
  });

  app.openapi(putObjectLock, async (c) => {
    const { access, row } = await bucketFor(c, 'PutObjectLockConfiguration');
    const d = c.req.valid('json').defaultRetention;
    await deps.protection.setObjectLock(row, { enabled: true, defaultRetention: d }, requestSource(c, access));
    return settingsOf(c, row.projectId, row.name);
  });

  app.openapi(putLifecycle, async (c) => {
    const { access, row } = await bucketFor(c, 'PutBucketLifecycleConfiguration');
    const rules: LifecycleRule[] = c.req.valid('json').rules.map((r) => ({ ...r, id: r.id ?? '', filter: { ...r.filter } }));
    await deps.protection.setLifecycle(row, rules, requestSource(c, access));
    return settingsOf(c, row.projectId, row.name);
  });

  app.openapi(deleteLifecycle, async (c) => {
    const { access, row } = await bucketFor(c, 'DeleteBucketLifecycle');
    await deps.protection.setLifecycle(row, null, requestSource(c, access));
    return settingsOf(c, row.projectId, row.name);
  });

  app.openapi(putEncryption, async (c) => {
    const { access, row } = await bucketFor(c, 'PutBucketEncryption');
    // What only S3's form of the setting names (BucketKeyEnabled, BlockedEncryptionTypes) is kept.
    const current = (await deps.protection.get(row)).encryption;
    await deps.protection.setEncryption(row, { bucketKeyEnabled: false, ...current, algorithm: 'AES256' }, requestSource(c, access));
    return settingsOf(c, row.projectId, row.name);
  });

  app.openapi(deleteEncryption, async (c) => {
    const { access, row } = await bucketFor(c, 'DeleteBucketEncryption');
    await deps.protection.setEncryption(row, null, requestSource(c, access));
    return settingsOf(c, row.projectId, row.name);
  });
}

/** Whether the caller may read the bucket's configuration (the detail view shows it then). */
export function mayReadConfig(access: ProjectAccess, bucket: string): boolean {
  return authorize(access.principal, 'ReadBucketConfig', bucket).allow;
}
