import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { carriesS3Signature } from '../s3/endpoint.js';
import type { RequestKind } from '../usage/usage-service.js';
import { registerAudit } from './audit.js';
import { registerBuckets } from './buckets.js';
import { registerBucketSettings } from './bucket-settings.js';
import { callerMiddleware, CSRF_HEADER, SESSION_COOKIE } from './caller.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { registerObjects } from './objects.js';
import { registerProblemTypes } from './problem-types.js';
import { problem, problemHeaders, problemResponse, sendProblem, toProblem, validationProblem } from './problems.js';
import { registerProjects } from './projects.js';
import { allowedMethods, routePolicyMiddleware, routePolicyOf } from './route-policy.js';
import { commonProblems, errorResponses } from './schemas.js';
import { registerSession } from './session.js';
import { registerTokens } from './tokens.js';
import { registerUsage } from './usage.js';
import { registerQuotas } from './quotas.js';
import { receivedBodyLength } from '../net/received-body.js';
import { sentBodyLength } from '../net/sent-body.js';

// The REST API under /api/v1: a Hono app whose routes are declared with zod schemas, which both
// validate requests and generate the OpenAPI 3.1 document at /api/v1/openapi.json.

export const API_BASE = '/api/v1';
const VERSION = '1.0.0';

/** Whether a request is the REST API's: its path is /api/v1 or starts with /api/v1/. */
export function isApiRequest(req: IncomingMessage): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return (path === API_BASE || path.startsWith(`${API_BASE}/`)) && !carriesS3Signature(req);
}

/** Whether a request is an object upload or download: the one route whose body is not JSON. */
function isObjectContent(path: string): boolean {
  return path.endsWith('/objects/content');
}

/** How a project-scoped API request counts in the usage report. */
export function apiUsageKind(method: string, path: string): RequestKind {
  if (isObjectContent(path)) return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  if (method === 'DELETE' && /\/buckets\/[^/]+(\/objects)?$/.test(path)) return 'delete';
  if (method === 'GET' && /\/buckets(\/[^/]+\/objects)?$/.test(path)) return 'list';
  return 'other';
}

/**
 * What the console reads to draw its pages (bucket and object lists, usage, tokens, audit) is not
 * the user's use of storage: a signed-in session's reads count only when they download an object.
 * Its changes (uploads, deletes, new buckets) and every bearer request count as usual.
 */
export function isConsolePageLoad(caller: 'bearer' | 'session', method: string, kind: RequestKind): boolean {
  return caller === 'session' && (method === 'GET' || method === 'HEAD') && kind !== 'read';
}

function usageMiddleware(deps: ApiDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    await next();
    const access = c.get('access');
    if (!access) return;
    const kind = apiUsageKind(c.req.method, c.req.path);
    if (isConsolePageLoad(access.caller.kind, c.req.method, kind)) return;
    const named = /\/buckets\/([^/]+)/.exec(c.req.path)?.[1];
    let bucket = named === undefined ? null : safeDecode(named);
    // A refused request may name a bucket that does not exist: its traffic is the project's, not
    // a row under any name a caller makes up (as S3's requests count).
    if (bucket !== null && c.res.status >= 400 && !(await deps.bucketConfig.resolve(access.projectId, bucket).catch(() => null))) bucket = null;
    const bytesIn = c.env?.incoming ? receivedBodyLength(c.env.incoming) : 0;
    const record = (bytesOut: number) =>
      deps.usage.record({
        projectId: access.projectId,
        bucket,
        tokenId: access.caller.kind === 'bearer' ? access.principal.tokenId : null,
        kind,
        bytesIn,
        bytesOut,
      });
    const { incoming, outgoing } = c.env ?? {};
    // Counted once the response is done with: what it sent by then, as /metrics counts it (a JSON
    // reply's length is known only once the server writes it; a download may stop part way).
    if (incoming && outgoing) outgoing.once('close', () => record(sentBodyLength(incoming, outgoing)));
    else record(Number(c.res.headers.get('content-length') ?? 0) || 0);
  };
}

/**
 * Hono answers a HEAD with the GET route and drops the body of its response without cancelling
 * it: a generated body (the audit export) is cancelled here, so that it releases what it holds.
 * A route streaming a Node stream (the download) must not open it for a HEAD at all: cancelling
 * a Readable.toWeb stream can throw an uncaught error that ends the process (nodejs/node#54205).
 */
function headBodyMiddleware(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    await next();
    if (c.req.method === 'HEAD') await c.res.body?.cancel();
  };
}

/** The most a JSON request body may hold: far above any valid one (a token with its scope). */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/**
 * Every body but an object upload's is JSON and read whole, so none may pass the limit, from any
 * caller, signed in or not: a Content-Length beyond it is refused before anything is read, and a
 * chunked body is read only up to it. A refused body is left unread (never cancelled: see
 * headBodyMiddleware) and its connection closed.
 */
function jsonBodyLimitMiddleware(): MiddlewareHandler<ApiEnv> {
  const tooLarge = (c: Context<ApiEnv>) =>
    sendProblem(c, problem('body-too-large', `A JSON body is at most ${MAX_JSON_BODY_BYTES} bytes.`, 'body'), { Connection: 'close' });
  return async (c, next) => {
    // The body of a GET or HEAD is never read, nor handed on to the route.
    if (isObjectContent(c.req.path) || c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const headers = c.req.raw.headers;
    // Without Transfer-Encoding, Content-Length is the whole body (none: no body).
    if (!headers.has('transfer-encoding')) return Number(headers.get('content-length') ?? 0) > MAX_JSON_BODY_BYTES ? tooLarge(c) : next();
    const body = await readAtMost(c.req.raw.body, MAX_JSON_BODY_BYTES);
    if (!body) return tooLarge(c);
    c.req.raw = new Request(c.req.url, { method: c.req.method, headers, body });
    return next();
  };
}

/** The bytes of `body`, or null as soon as they pass `max`. */
async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array<ArrayBuffer> | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) return null;
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function createApiApp(deps: ApiDeps) {
  const root = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return sendProblem(c, validationProblem(result.error.issues, result.target));
    },
  });
  const app = root.basePath(API_BASE);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: "A token's bearer credential (skep_v1_...). Its permission level, bucket scope and state apply as for S3.",
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The console session cookie set by POST /api/v1/session.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'csrf', {
    type: 'apiKey',
    in: 'header',
    name: CSRF_HEADER,
    description: "The session's csrfToken; required with the session cookie on every state-changing request.",
  });

  app.use('*', headBodyMiddleware());
  app.use('*', jsonBodyLimitMiddleware());
  const policyOf = routePolicyOf(app, API_BASE);
  app.use('*', callerMiddleware(deps, (c) => policyOf(c)?.open === true));
  app.use('*', routePolicyMiddleware(policyOf));
  app.use('/projects/:projectId/*', usageMiddleware(deps));

  registerSession(app, deps);
  registerProjects(app, deps);
  registerBuckets(app, deps);
  registerBucketSettings(app, deps);
  registerObjects(app, deps);
  registerTokens(app, deps);
  registerUsage(app, deps);
  registerQuotas(app, deps);
  registerAudit(app, deps);
  registerProblemTypes(app);

  let document: unknown;
  const openapi = createRoute({
    operationId: 'getOpenApiDocument',
    method: 'get',
    path: '/openapi.json',
    tags: ['meta'],
    summary: 'This document (OpenAPI 3.1)',
    security: [],
    responses: {
      200: { description: 'The OpenAPI document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
      ...errorResponses(),
    },
  });
  app.openapi(openapi, (c) => {
    document ??= documentWithCommonProblems(app).getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'skep REST API',
        version: VERSION,
        description:
          'Projects, buckets, objects, API tokens, usage and audit of a skep server. Errors are application/problem+json; ' +
          'each `type` is described at its URL (GET /api/v1/problems/{slug}). Unknown body fields and query parameters are ' +
          'rejected (400 `validation` naming them). Lists take `limit` and `cursor` and answer `nextCursor` (null on the last page), ' +
          "but for a project's members and a token's temporary credentials, answered whole.",
      },
      tags: ['session', 'projects', 'buckets', 'objects', 'tokens', 'usage', 'audit', 'meta'].map((name) => ({ name })),
    });
    return c.json(document as Record<string, unknown>, 200);
  });

  const allowed = allowedMethods(app, API_BASE);
  app.notFound((c) => {
    const allow = allowed(c.req.path);
    if (allow.length === 0) return sendProblem(c, problem('not-found', `No API route ${c.req.method} ${c.req.path}.`));
    const detail = `${c.req.path} does not take ${c.req.method}; it takes ${allow.join(', ')}.`;
    return sendProblem(c, problem('method-not-allowed', detail), { Allow: allow.join(', ') });
  });
  app.onError((err, c: Context<ApiEnv>) => sendProblem(c, toProblem(err, deps.log, c.env?.incoming), problemHeaders(err)));
  return app;
}

export type ApiHonoApp = ReturnType<typeof createApiApp>;

/** Declares on every route the problems it can answer whatever it does (see commonProblems). */
function documentWithCommonProblems<T extends OpenAPIHono<ApiEnv, any, any>>(app: T): T {
  for (const d of app.openAPIRegistry.definitions) {
    if (d.type === 'route') d.route.responses = { ...commonProblems(d.route), ...d.route.responses };
  }
  return app;
}

/** A node:http listener for /api/v1 requests. */
export function createApiHandler(deps: ApiDeps, app: ApiHonoApp = createApiApp(deps)): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return getRequestListener(app.fetch, {
    overrideGlobalObjects: false,
    errorHandler: (err) => {
      deps.log.error({ err }, 'api: request failed');
      return problemResponse(problem('internal', 'The server failed to handle the request.'));
    },
  }) as (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}
