import type { IncomingMessage } from 'node:http';
import { S3Error } from '../errors.js';
import { header, type S3Context, type S3Services } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { onlyChildren, parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { parseAddress } from '../endpoint.js';
import { corsResponseHeaders, matchCorsRule, type CorsRule } from '../../buckets/cors.js';
import type { ResolvedBucket } from '../../buckets/bucket-config-service.js';

// CORS: GetBucketCors / PutBucketCors / DeleteBucketCors, the preflight OPTIONS request answered
// from the rules, and the headers added to actual requests that carry an Origin.

function list(value: unknown): string[] {
  return xmlList(value).map((v) => (xmlText(v) ?? '').trim());
}

/** A CORSConfiguration document as rules (shape only; the service checks the values). */
export function parseCorsXml(body: Buffer): CorsRule[] {
  const doc = onlyChildren(parseXml(body, 'CORSConfiguration'), ['CORSRule']);
  return xmlList(doc.CORSRule).map((raw) => {
    const r = onlyChildren(xmlNode(raw)!, ['ID', 'AllowedHeader', 'AllowedMethod', 'AllowedOrigin', 'ExposeHeader', 'MaxAgeSeconds']);
    const maxAge = xmlText(r.MaxAgeSeconds)?.trim();
    if (maxAge !== undefined && !/^\d+$/.test(maxAge)) throw new S3Error('MalformedXML');
    const id = xmlText(r.ID);
    // S3's schema requires both in every rule: a document without them does not validate.
    if (r.AllowedOrigin === undefined || r.AllowedMethod === undefined) throw new S3Error('MalformedXML');
    return {
      ...(id !== undefined ? { id } : {}),
      allowedOrigins: list(r.AllowedOrigin),
      allowedMethods: list(r.AllowedMethod),
      allowedHeaders: list(r.AllowedHeader),
      exposeHeaders: list(r.ExposeHeader),
      ...(maxAge !== undefined ? { maxAgeSeconds: Number(maxAge) } : {}),
    };
  });
}

export async function GetBucketCors(ctx: S3Context): Promise<S3Response> {
  const rules = ctx.services.bucketConfig.getCors(await ctx.resolved());
  const CORSRule = rules.map((r) => ({
    ...(r.id !== undefined ? { ID: r.id } : {}),
    AllowedHeader: r.allowedHeaders,
    AllowedMethod: r.allowedMethods,
    AllowedOrigin: r.allowedOrigins,
    ExposeHeader: r.exposeHeaders,
    ...(r.maxAgeSeconds !== undefined ? { MaxAgeSeconds: r.maxAgeSeconds } : {}),
  }));
  return { xml: { root: 'CORSConfiguration', value: { CORSRule } } };
}

export async function PutBucketCors(ctx: S3Context): Promise<S3Response> {
  const resolved = await ctx.resolved();
  const body = await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024);
  await ctx.services.bucketConfig.putCors(resolved, parseCorsXml(body), ctx.by);
  return {};
}

export async function DeleteBucketCors(ctx: S3Context): Promise<S3Response> {
  await ctx.services.bucketConfig.deleteCors(await ctx.resolved(), ctx.by);
  return { status: 204 };
}

/** CORS headers for an actual (non-preflight) request with an Origin that a rule allows. */
export function actualRequestCorsHeaders(req: IncomingMessage, bucket: ResolvedBucket): Record<string, string> {
  const origin = header(req, 'origin');
  if (origin === undefined || !bucket.cors) return {};
  const request = { origin, method: (req.method ?? 'GET').toUpperCase(), headers: [] };
  const rule = matchCorsRule(bucket.cors, request);
  return rule ? corsResponseHeaders(rule, request) : {};
}

export interface PreflightDeps {
  services: S3Services;
  baseDomains: readonly string[];
  projectDomains: readonly string[];
  defaultProject: () => string | null;
}

/**
 * OPTIONS: a browser's preflight, never signed. The bucket is looked up in the project the host
 * names (else the default project) and its rules decide.
 */
export async function preflight(req: IncomingMessage, deps: PreflightDeps): Promise<S3Response> {
  const origin = header(req, 'origin');
  if (!origin) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  const address = parseAddress({ host: req.headers.host, url: req.url ?? '/', baseDomains: deps.baseDomains, projectDomains: deps.projectDomains });
  const projectId = address.project ?? deps.defaultProject();
  // As S3: a missing bucket, or one without rules, is 403 before the method is looked at.
  const bucket = address.bucket === null || projectId === null ? null : await deps.services.bucketConfig.resolve(projectId, address.bucket);
  if (!bucket) throw new S3Error('AccessForbidden', 'CORSResponse: Bucket not found');
  if (!bucket.cors) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const method = header(req, 'access-control-request-method');
  if (!method) throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  const requested = (header(req, 'access-control-request-headers') ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  const request = { origin, method: method.toUpperCase(), headers: requested };
  const rule = matchCorsRule(bucket.cors, request);
  if (!rule) throw new S3Error('AccessForbidden');
  return { headers: corsResponseHeaders(rule, request) };
}
