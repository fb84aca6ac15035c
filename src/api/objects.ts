import { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { BodyDigest } from '../checksums/digest.js';
import { consoleCredential, signingCredential } from '../credentials/console-token.js';
import { listingLimit } from '../auth/scope.js';
import { MAX_KEY_BYTES } from '../s3/endpoint.js';
import { MAX_SINGLE_PUT_BYTES } from '../s3/body.js';
import { countSentBody } from '../net/sent-body.js';
import { MAX_PRESIGN_SECONDS, presignObjectUrl } from '../sigv4/presign.js';
import { requestSource, requireBucketAccess, requireProject, requireRight, ROLE_PERMISSION } from './caller.js';
import type { ApiApp, ApiDeps, ApiEnv } from './context.js';
import { ApiProblem } from './problems.js';
import type { RequestSource } from '../audit/actor.js';
import type { ProjectAccess } from './context.js';
import { publicEndpoint } from './public-url.js';
import { BucketParams, errorResponses, json, jsonBody, MAX_PAGE, NextCursor, pageQuery, READ_SECURITY, Text, WRITE_SECURITY } from './schemas.js';
import { bareEtag } from '../util/etag.js';
import { countReceivedBody } from '../net/received-body.js';
import { isVersionId } from '../objects/object-service.js';
import type { ListedVersion } from '../storage/metadata/metadata-store.js';

// Objects of a bucket: list, upload (streamed), download (streamed), delete, presign.

const KeySchema = Text.min(1)
  .refine((k) => Buffer.byteLength(k, 'utf8') <= MAX_KEY_BYTES, `A key is at most ${MAX_KEY_BYTES} bytes of UTF-8.`)
  .openapi({ example: 'photos/2024/cat.jpg' });

const KeyQuery = z.object({ key: KeySchema.openapi({ param: { name: 'key', in: 'query' } }) });

const VersionIdParam = Text.min(1).max(1024).optional().openapi({ description: 'A version of the key (from GET .../objects/versions); absent: the current one.' });
const VersionQuery = KeyQuery.extend({ versionId: VersionIdParam });
const DeleteQuery = VersionQuery.extend({
  bypassGovernanceRetention: z.enum(['true', 'false']).optional().openapi({ description: 'true: delete through GOVERNANCE retention (admin-rw only).' }),
});

const RetentionView = z.object({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), until: z.string().openapi({ format: 'date-time' }) });

const VersionItem = z
  .object({
    versionId: z.string(),
    isLatest: z.boolean(),
    isDeleteMarker: z.boolean(),
    size: z.number().int(),
    etag: z.string(),
    lastModified: z.string().openapi({ format: 'date-time' }),
    encryption: z.enum(['SSE-S3', 'SSE-C']).nullable(),
    retention: RetentionView.nullable(),
    legalHold: z.boolean(),
  })
  .openapi('ObjectVersion');

const VersionList = z.object({ items: z.array(VersionItem), nextCursor: NextCursor }).openapi('ObjectVersionList');
const VersionsQuery = KeyQuery.extend(pageQuery(MAX_PAGE).shape);

const ListQuery = z
  .object({
    prefix: Text.optional(),
    delimiter: Text.max(64).optional().openapi({ example: '/' }),
  })
  .extend(pageQuery(MAX_PAGE).shape);

const ObjectItem = z
  .object({
    key: z.string(),
    size: z.number().int(),
    etag: z.string().openapi({ description: 'The S3 ETag without quotes.' }),
    lastModified: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('ObjectItem');

const ObjectList = z
  .object({
    items: z.array(ObjectItem),
    prefixes: z.array(z.string()).openapi({ description: 'Common prefixes ("folders") when a delimiter is given.' }),
    nextCursor: NextCursor,
  })
  .openapi('ObjectList');

const PutResult = z.object({ key: z.string(), size: z.number().int(), etag: z.string() }).openapi('PutObjectResult');

const PresignBody = z
  .strictObject({
    key: KeySchema,
    method: z.enum(['GET', 'PUT']),
    expiresIn: z.number().int().min(1).max(MAX_PRESIGN_SECONDS).default(3600).openapi({ description: 'Seconds, 1-604800 (default 3600).' }),
  })
  .openapi('PresignRequest');

const PresignResult = z
  .object({
    url: z.string(),
    method: z.enum(['GET', 'PUT']),
    expiresAt: z.string().openapi({
      format: 'date-time',
      description: "When the URL stops working: the requested time, or the signing token's expiry if sooner.",
    }),
  })
  .openapi('PresignResult');

const listObjects = createRoute({
  operationId: 'listObjects',
  method: 'get',
  path: '/projects/{projectId}/buckets/{bucket}/objects',
  tags: ['objects'],
  summary: 'List objects, one page at a time, in key order',
  security: READ_SECURITY,
  request: { params: BucketParams, query: ListQuery },
  responses: { 200: json(ObjectList, 'One page'), ...errorResponses(400, 401, 403, 404) },
});

const putObject = createRoute({
  operationId: 'putObject',
  method: 'put',
  path: '/projects/{projectId}/buckets/{bucket}/objects/content',
  tags: ['objects'],
  summary: 'Upload an object (the raw body is streamed; its Content-Type is kept)',
  security: WRITE_SECURITY,
  request: {
    params: BucketParams,
    query: KeyQuery,
    body: { required: true, content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
  },
  responses: { 200: json(PutResult, 'Stored'), ...errorResponses(400, 401, 403, 404) },
});

const getObject = createRoute({
  operationId: 'getObject',
  method: 'get',
  path: '/projects/{projectId}/buckets/{bucket}/objects/content',
  tags: ['objects'],
  summary: 'Download an object, or one of its versions (Content-Disposition: attachment)',
  security: READ_SECURITY,
  request: { params: BucketParams, query: VersionQuery },
  responses: {
    200: { description: "The bytes, with the object's own Content-Type", content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const deleteObject = createRoute({
  operationId: 'deleteObject',
  method: 'delete',
  path: '/projects/{projectId}/buckets/{bucket}/objects',
  tags: ['objects'],
  summary: 'Delete an object (a versioned bucket keeps it behind a delete marker), or one version for good; deleting a missing key succeeds',
  security: WRITE_SECURITY,
  request: { params: BucketParams, query: DeleteQuery },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(400, 401, 403, 404) },
});

const listVersions = createRoute({
  operationId: 'listObjectVersions',
  method: 'get',
  path: '/projects/{projectId}/buckets/{bucket}/objects/versions',
  tags: ['objects'],
  summary: "One key's versions and delete markers, newest first",
  security: READ_SECURITY,
  request: { params: BucketParams, query: VersionsQuery },
  responses: { 200: json(VersionList, 'One page'), ...errorResponses(400, 401, 403, 404) },
});

const putLegalHold = createRoute({
  operationId: 'putObjectLegalHold',
  method: 'put',
  path: '/projects/{projectId}/buckets/{bucket}/objects/legal-hold',
  tags: ['objects'],
  summary: 'Put a legal hold on a version, or take it off (Object Lock buckets)',
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(z.strictObject({ key: KeySchema, versionId: VersionIdParam, on: z.boolean() }).openapi('LegalHoldChange')) },
  responses: { 204: { description: 'Set' }, ...errorResponses(400, 401, 403, 404) },
});

const putRetention = createRoute({
  operationId: 'putObjectRetention',
  method: 'put',
  path: '/projects/{projectId}/buckets/{bucket}/objects/retention',
  tags: ['objects'],
  summary: "Set a version's retention (Object Lock buckets); null removes it. Weakening GOVERNANCE needs bypassGovernanceRetention (admin-rw)",
  security: WRITE_SECURITY,
  request: {
    params: BucketParams,
    body: jsonBody(
      z
        .strictObject({
          key: KeySchema,
          versionId: VersionIdParam,
          retention: z.strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), until: z.iso.datetime({ offset: true }) }).nullable(),
          bypassGovernanceRetention: z.boolean().default(false).openapi({ description: 'Weaken GOVERNANCE retention (admin-rw only).' }),
        })
        .openapi('RetentionChange'),
    ),
  },
  responses: { 204: { description: 'Set' }, ...errorResponses(400, 401, 403, 404) },
});

const presignObject = createRoute({
  operationId: 'presignObject',
  method: 'post',
  path: '/projects/{projectId}/buckets/{bucket}/presign',
  tags: ['objects'],
  summary: 'A presigned S3 URL to GET or PUT one object',
  description:
    "Bearer callers' URLs are signed with their own token; console users' with their per-project console token. Revoking or disabling that token stops its URLs.",
  security: WRITE_SECURITY,
  request: { params: BucketParams, body: jsonBody(PresignBody) },
  responses: { 200: json(PresignResult, 'The URL'), ...errorResponses(400, 401, 403, 404) },
});


function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || encodeCursor(key) !== cursor) throw new ApiProblem('validation', 'The cursor is not one this API returned.', 'cursor');
  return key;
}

/** A versions cursor names the last version listed and its place (seq), so a page resumes after it even once it is deleted. */
function encodeVersionCursor(v: ListedVersion): string {
  return encodeCursor(`${v.seq}.${v.versionId}`);
}

function decodeVersionCursor(cursor: string): { versionIdMarker: string; versionSeqMarker?: number } {
  const text = decodeCursor(cursor);
  const m = /^(\d{1,16})\.(.*)$/.exec(text);
  // A bare version ID is the cursor of the release before this one.
  const [versionIdMarker, seq] = m ? [m[2], Number(m[1])] : [text, undefined];
  if (!isVersionId(versionIdMarker)) throw new ApiProblem('validation', 'The cursor is not one this API returned.', 'cursor');
  return { versionIdMarker, versionSeqMarker: seq };
}

/** The caller, when it may bypass GOVERNANCE retention (admin-rw); 403 otherwise. */
function governanceBypass(c: Context<ApiEnv>, access: ProjectAccess, bucket: string): RequestSource {
  requireRight(access, 'BypassGovernanceRetention', bucket);
  return requestSource(c, access);
}

/** RFC 6266 attachment header: an ASCII fallback name and the exact UTF-8 name. */
function attachment(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1) || 'download';
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** The request body as a Node stream: the socket itself under @hono/node-server, without buffering. */
function requestBody(c: Context<ApiEnv>): Readable {
  const incoming = c.env?.incoming;
  if (incoming) return incoming;
  const web = c.req.raw.body;
  return web ? Readable.fromWeb(web as import('node:stream/web').ReadableStream) : Readable.from([]);
}

export function registerObjects(app: ApiApp, deps: ApiDeps): void {
  app.openapi(listObjects, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const q = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    const { row } = await requireBucketAccess(c, deps, access, bucket, { op: 'ListObjectsV2', key: null, listPrefix: q.prefix ?? '', delimiter: q.delimiter, maxKeys: q.limit });
    const page = await deps.objects.listPage(row, {
      prefix: q.prefix ?? '',
      delimiter: q.delimiter ?? '',
      marker: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      maxKeys: q.limit ?? MAX_PAGE,
      // A prefix-scoped token sees only its prefixes (and the folders above them).
      within: listingLimit(access.principal.bucketScope, bucket, q.prefix ?? ''),
    });
    return c.json(
      {
        items: page.contents.map((o) => ({ key: o.key, size: o.size, etag: bareEtag(o.etag), lastModified: o.lastModified.toISOString() })),
        prefixes: page.commonPrefixes,
        nextCursor: page.isTruncated && page.last !== undefined ? encodeCursor(page.last) : null,
      },
      200,
    );
  });

  app.openapi(putObject, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key } = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    const resolved = await requireBucketAccess(c, deps, access, bucket, { op: 'PutObject', key });
    const row = resolved.row;
    const lengthText = c.req.header('content-length');
    const size = lengthText === undefined ? undefined : Number(lengthText);
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new ApiProblem('validation', 'Content-Length is not a byte count.', 'body');
    if (size !== undefined && size > MAX_SINGLE_PUT_BYTES) {
      throw new ApiProblem('validation', `An upload through the API is at most ${MAX_SINGLE_PUT_BYTES} bytes; use S3 multipart uploads for more.`, 'body');
    }
    // Storage quotas: checked before the body when its size is declared, else once it is stored.
    if (resolved.quota && size !== undefined) await deps.quotas.check(row, resolved.quota, key, size);
    const quotaCheck = resolved.quota && size === undefined ? (n: number) => deps.quotas.check(row, resolved.quota, key, n) : undefined;
    const digest = new BodyDigest({ expect: { size } });
    if (c.env?.incoming) countReceivedBody(c.env.incoming, digest);
    pipeline(requestBody(c), digest, () => {
      /* a failure surfaces through `digest`, which putObject reads */
    });
    const contentType = c.req.header('content-type') || 'application/octet-stream';
    const stored = await deps.objects.putObject(
      { bucket: row, key, headers: { 'content-type': contentType }, userMetadata: {}, tags: {}, storageClass: 'STANDARD', condition: { kind: 'none' }, beforeCommit: quotaCheck },
      digest,
      undefined,
    );
    return c.json({ key, size: stored.size, etag: bareEtag(stored.etag) }, 200);
  });

  app.openapi(getObject, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key, versionId } = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    const { row } = await requireBucketAccess(c, deps, access, bucket, { op: 'GetObject', key, versionId });
    // Leased: an overwrite or delete that commits before the bytes are opened cannot remove them.
    const lease = await deps.objects.leaseObject(row, key, { versionId });
    try {
      const obj = lease.row;
      const headers = {
        'Content-Type': obj.headers['content-type'] ?? 'application/octet-stream',
        'Content-Length': String(obj.size),
        'Content-Disposition': attachment(key),
        ETag: obj.etag,
        'Last-Modified': obj.lastModified.toUTCString(),
        ...(obj.versionId !== 'null' ? { 'X-Version-Id': obj.versionId } : {}),
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'private, no-store',
      };
      // A HEAD answers the headers alone: its blob is never opened, so there is no stream to
      // cancel (cancelling a Readable.toWeb stream can throw in Node, nodejs/node#54205).
      if (obj.size === 0 || c.req.method === 'HEAD') return c.body(null, 200, headers);
      // The stream holds its own pin until it closes. Its first bytes are awaited before the
      // head is answered, so a blob that cannot be read (a stalled backend, a damaged folder) is a
      // problem reply, not a 200 whose connection is then cut.
      const body = lease.open();
      await firstBytes(body);
      if (c.env?.outgoing) countSentBody(c.env.outgoing, body);
      return c.body(Readable.toWeb(body) as unknown as ReadableStream, 200, headers);
    } finally {
      lease.release();
    }
  });

  app.openapi(deleteObject, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key, versionId, bypassGovernanceRetention } = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    const { row } = await requireBucketAccess(c, deps, access, bucket, { op: 'DeleteObject', key, versionId, bypassGovernance: bypassGovernanceRetention === 'true' });
    const bypass = bypassGovernanceRetention === 'true' ? governanceBypass(c, access, bucket) : undefined;
    // The same rules as S3: a locked version is never removed, whoever asks.
    const result = await deps.objects.deleteObject(row, key, { versionId, bypass });
    const what = versionId !== undefined ? `${key} version ${versionId}` : result.deleteMarker ? `${key} (delete marker ${result.versionId})` : result.existed ? key : `${key} (did not exist)`;
    await deps.audit.record({ action: 'object.deleted', ...requestSource(c, access), projectId, bucket, detail: what });
    return c.body(null, 204);
  });

  app.openapi(listVersions, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key, cursor, limit } = c.req.valid('query');
    const access = await requireProject(c, deps, projectId);
    // The token's prefixes must hold the key itself; the policy decides a listing of the bucket.
    requireRight(access, 'ListObjects', bucket, { key });
    const { row } = await requireBucketAccess(c, deps, access, bucket, { op: 'ListObjectVersions', key: null, listPrefix: key });
    const max = limit ?? MAX_PAGE;
    // The key sorts first among the keys it prefixes, so its versions open the listing.
    const marker = cursor === undefined ? {} : { keyMarker: key, ...decodeVersionCursor(cursor) };
    // One more than the page: there is a next page only if that one is still a version of the key
    // (a full page followed by another key's versions is the last).
    const page = await deps.objects.listVersions(row, { prefix: key, delimiter: '', ...marker, maxKeys: max + 1 });
    const mine = page.versions.filter((v) => v.key === key).slice(0, max);
    const more = page.versions[max]?.key === key;
    return c.json(
      {
        items: mine.map((v) => ({
          versionId: v.versionId,
          isLatest: v.isLatest,
          isDeleteMarker: v.isDeleteMarker,
          size: v.size,
          etag: bareEtag(v.etag),
          lastModified: v.lastModified.toISOString(),
          encryption: v.encryption?.kind ?? null,
          retention: v.retention && { mode: v.retention.mode, until: v.retention.until.toISOString() },
          // Whether a hold is on (never placed reads as off).
          legalHold: v.legalHold === true,
        })),
        nextCursor: more ? encodeVersionCursor(mine.at(-1)!) : null,
      },
      200,
    );
  });

  app.openapi(putLegalHold, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key, versionId, on } = c.req.valid('json');
    const access = await requireProject(c, deps, projectId);
    const { row } = await requireBucketAccess(c, deps, access, bucket, { op: 'PutObjectLegalHold', key, versionId });
    await deps.objectLock.putLegalHold(row, key, versionId, on);
    return c.body(null, 204);
  });

  app.openapi(putRetention, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key, versionId, retention: r, bypassGovernanceRetention } = c.req.valid('json');
    const access = await requireProject(c, deps, projectId);
    const { row } = await requireBucketAccess(c, deps, access, bucket, { op: 'PutObjectRetention', key, versionId, bypassGovernance: bypassGovernanceRetention === true });
    const bypass = bypassGovernanceRetention ? governanceBypass(c, access, bucket) : undefined;
    await deps.objectLock.putRetention(row, key, versionId, r && { mode: r.mode, until: new Date(r.until) }, bypass);
    return c.body(null, 204);
  });

  app.openapi(presignObject, async (c) => {
    const { projectId, bucket } = c.req.valid('param');
    const { key, method, expiresIn } = c.req.valid('json');
    const access = await requireProject(c, deps, projectId);
    requireRight(access, method === 'GET' ? 'ReadObject' : 'WriteObject', bucket, { key });
    await deps.objects.requireBucket(projectId, bucket);
    const now = deps.clock();
    const caller = access.caller;
    const credential =
      caller.kind === 'bearer'
        ? await signingCredential(deps.tokens, caller.principal.accessKeyId)
        : await consoleCredential(deps.tokens, deps.meta, { email: caller.user.email, projectId, permission: ROLE_PERMISSION[access.role!], now });
    const url = presignObjectUrl({
      method,
      endpoint: publicEndpoint(c, deps),
      bucket,
      key,
      accessKeyId: credential.accessKeyId,
      secretAccessKey: credential.secretAccessKey,
      region: deps.region,
      expiresIn,
      now,
    });
    // The URL's X-Amz-Date is whole seconds: it expires counting from the second it names.
    let expiresAt = Math.floor(now.getTime() / 1000) * 1000 + expiresIn * 1000;
    if (credential.expiresAt) expiresAt = Math.min(expiresAt, credential.expiresAt.getTime());
    const until = new Date(expiresAt).toISOString();
    // The URL is a credential of its own until it expires: who made one, for what, is audited.
    await deps.audit.record({ action: 'object.presigned', ...requestSource(c, access), tokenId: credential.tokenId, projectId, bucket, detail: `${method} ${key} until ${until}` });
    return c.json({ url, method, expiresAt: until }, 200);
  });
}

/** Settles when `body` has bytes to read (or has ended), or rejects with its failure before any. */
function firstBytes(body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const ready = () => {
      body.off('error', failed);
      resolve();
    };
    const failed = (err: Error) => {
      body.off('readable', ready);
      reject(err);
    };
    body.once('readable', ready);
    body.once('error', failed);
  });
}
