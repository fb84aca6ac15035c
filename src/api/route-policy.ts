import { z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { ApiApp, ApiEnv } from './context.js';
import { ApiProblem } from './problems.js';

// Rules every route follows, read from its OpenAPI declaration so that a new route cannot miss
// them: a route that declares security needs a caller (401 before its input is looked at); a
// query parameter the route does not declare, or one that is not percent-encoded UTF-8, is a 400
// naming it, as unknown body fields are; a path that routes answer, but not with the request's
// method, is a 405 naming the methods they take.

export interface RoutePolicy {
  /** Declared with `security: []`: anyone may call it. */
  open: boolean;
  /** The query parameters the route declares. */
  query: ReadonlySet<string>;
}

/** Hono's form of an OpenAPI path: {name} becomes :name. */
function honoPath(basePath: string, openApiPath: string): string {
  return basePath + openApiPath.replace(/\{(\w+)\}/g, ':$1');
}

function declaredQuery(schema: unknown): Set<string> {
  return new Set(schema instanceof z.ZodObject ? Object.keys(schema.shape) : []);
}

/** The policy of every route declared so far, by "METHOD /hono/path". */
function policies(app: ApiApp, basePath: string): Map<string, RoutePolicy> {
  const out = new Map<string, RoutePolicy>();
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== 'route') continue;
    const { method, path, security, request } = def.route;
    out.set(`${method.toUpperCase()} ${honoPath(basePath, path)}`, {
      open: Array.isArray(security) && security.length === 0,
      query: declaredQuery(request?.query),
    });
  }
  return out;
}

/** A query name or value decoded (`+` is a space), or undefined when it is not percent-encoded UTF-8. */
function strictDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/**
 * Refuses a query parameter whose name or value is not well-formed percent-encoded UTF-8 (a
 * broken escape such as `%A`, or bytes that are no UTF-8 such as a surrogate's `%ED%A0%80`):
 * Hono keeps such text as written, so `key=%E0%A4%A` would name a key "%E0%A4%A".
 */
function requireWellFormedQuery(url: string): void {
  const start = url.indexOf('?');
  if (start < 0) return;
  for (const pair of url.slice(start + 1).split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = strictDecode(rawName);
    if (name === undefined) throw new ApiProblem('validation', `The query parameter name "${rawName}" is not percent-encoded UTF-8.`, rawName);
    if (eq >= 0 && strictDecode(pair.slice(eq + 1)) === undefined) {
      throw new ApiProblem('validation', `The query parameter "${name}" is not percent-encoded UTF-8.`, name);
    }
  }
}

/**
 * The declared policy of the route a request reaches (undefined: no declared route answers it).
 * The table is built on the first request, when every route is declared.
 */
export function routePolicyOf(app: ApiApp, basePath: string): (c: Context<ApiEnv>) => RoutePolicy | undefined {
  let table: Map<string, RoutePolicy> | undefined;
  return (c) => {
    table ??= policies(app, basePath);
    // The route that will answer is the last one matched (middleware is registered first).
    const route = matchedRoutes(c).at(-1);
    return route ? table.get(`${route.method} ${route.path}`) : undefined;
  };
}

/** Enforces each route's declared policy. Register before the routes. */
export function routePolicyMiddleware(policyOf: (c: Context<ApiEnv>) => RoutePolicy | undefined): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const policy = policyOf(c);
    if (policy) {
      if (!policy.open && !c.get('caller')) {
        throw new ApiProblem('unauthenticated', 'Sign in, or send a bearer token in the Authorization header.');
      }
      requireWellFormedQuery(c.req.url);
      for (const name of Object.keys(c.req.queries())) {
        if (!policy.query.has(name)) {
          const known = [...policy.query];
          const hint = known.length ? `it takes ${known.join(', ')}` : 'it takes none';
          throw new ApiProblem('validation', `Unknown query parameter "${name}" (${hint}).`, name);
        }
      }
    }
    return next();
  };
}

/** A path pattern of the declared routes and the methods they answer there. */
interface PathMethods {
  pattern: RegExp;
  methods: Set<string>;
}

/** A regular expression matching the request paths of an OpenAPI path: {name} is one segment. */
function pathPattern(basePath: string, openApiPath: string): RegExp {
  const escaped = (basePath + openApiPath).replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\{\w+\}/g, '[^/]+')}$`);
}

function pathMethods(app: ApiApp, basePath: string): PathMethods[] {
  const byPath = new Map<string, PathMethods>();
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== 'route') continue;
    const entry = byPath.get(def.route.path) ?? { pattern: pathPattern(basePath, def.route.path), methods: new Set<string>() };
    entry.methods.add(def.route.method.toUpperCase());
    // Hono answers a HEAD with the GET route.
    if (def.route.method === 'get') entry.methods.add('HEAD');
    byPath.set(def.route.path, entry);
  }
  return [...byPath.values()];
}

/**
 * The methods the declared routes answer at a request path (none: no route has that path), for
 * the Allow header of a 405 (RFC 9110 section 15.5.6). The table is built on the first call.
 */
export function allowedMethods(app: ApiApp, basePath: string): (path: string) => string[] {
  let table: PathMethods[] | undefined;
  return (path) => {
    table ??= pathMethods(app, basePath);
    const methods = new Set<string>();
    for (const entry of table) if (entry.pattern.test(path)) for (const m of entry.methods) methods.add(m);
    return [...methods].sort();
  };
}
