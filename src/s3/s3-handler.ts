import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { S3Error } from './errors.js';
import { randomHex } from '../util/random-hex.js';
import { parseEndpoint, splitUrl } from './endpoint.js';
import { renderError, renderResult, toS3Error } from './render.js';
import { HANDLERS } from './handlers/index.js';
import { S3_LIMITS, type S3Context, type S3Limits, type S3Services } from './context.js';
import { authenticate } from '../sigv4/authenticate.js';
import { authorize, REQUIRED_RIGHT } from '../auth/authorize.js';
import type { CredentialLookup, Principal } from '../auth/principal.js';
import type { UsageEvent } from '../usage/usage-service.js';
import { USAGE_KIND } from './usage-kind.js';
import { tokenActor } from '../audit/actor.js';
import { logFailure } from './failure-log.js';

// The S3 request pipeline: parse -> authenticate -> authorize -> handle -> render.

export interface S3HandlerDeps {
  services: S3Services;
  credentials: CredentialLookup;
  region: string;
  baseDomains: readonly string[];
  clock: () => Date;
  log: Logger;
  /** Counts each authenticated request for the usage report (after its response is written). */
  usage?: (e: UsageEvent) => void;
  /** Lower size limits than S3's (a deployment's choice, or a test's). */
  limits?: Partial<S3Limits>;
  /** The client's address (src/net/client-address.ts); the socket's peer when not given. */
  clientAddress?: (req: IncomingMessage) => string | undefined;
}

/** Authentication failures recorded in the audit log. */
const AUDITED_AUTH_FAILURES = new Set(['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'ExpiredToken']);

export function newRequestId(): string {
  return randomHex(8).toUpperCase();
}

export function createS3Handler(deps: S3HandlerDeps) {
  const regions = [deps.region, 'auto', 'us-east-1'];
  const limits: S3Limits = { ...S3_LIMITS, ...deps.limits };
  const addressOf = deps.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress);
  return async function handleS3(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    let resource = url.split('?')[0];
    let opName = 'unknown';
    let counted: { principal: Principal; op: keyof typeof USAGE_KIND; bucket: string | null } | undefined;
    try {
      // Authenticate first (it needs only the raw path and query), so strangers learn nothing
      // from how a request would have been routed.
      const target = splitUrl(url);
      const auth = await authenticate(
        { method: req.method ?? 'GET', rawPath: target.rawPath, rawQuery: target.rawQuery, rawHeaders: req.rawHeaders, headers: req.headers },
        { regions, now: deps.clock(), lookup: deps.credentials },
      ).catch((err: unknown) => {
        if (err instanceof S3Error && AUDITED_AUTH_FAILURES.has(err.code)) {
          deps.credentials.recordFailure?.(err.extra.AWSAccessKeyId ?? 'unknown', err.code, addressOf(req));
        }
        throw err;
      });
      if (!auth) throw new S3Error('AccessDenied', 'Anonymous access is not allowed.');
      const op = parseEndpoint({
        method: req.method ?? 'GET',
        host: req.headers.host,
        url,
        baseDomains: deps.baseDomains,
        hasCopySource: req.headers['x-amz-copy-source'] !== undefined,
      });
      opName = op.op;
      resource = op.bucket === null ? '/' : op.key === null ? `/${op.bucket}` : `/${op.bucket}/${op.key}`;
      deps.credentials.recordUse?.(auth.principal);
      counted = { principal: auth.principal, op: op.op, bucket: op.bucket };
      // A project host name (<project-id>.<domain>) admits only that project's keys.
      if (op.project !== null && op.project !== auth.principal.projectId) {
        throw new S3Error('AccessDenied', 'This access key belongs to another project.');
      }
      const decision = authorize(auth.principal, REQUIRED_RIGHT[op.op], op.bucket);
      if (!decision.allow) throw new S3Error('AccessDenied');
      const ctx: S3Context = {
        requestId,
        req,
        op,
        auth,
        services: deps.services,
        region: deps.region,
        limits,
        log: deps.log,
        by: { actor: tokenActor(auth.principal.tokenId), source: addressOf(req) },
        bucket: () => deps.services.objects.requireBucket(auth.principal.projectId, op.bucket!),
      };
      const result = await HANDLERS[op.op](ctx);
      await renderResult(req, res, requestId, result);
    } catch (err) {
      logFailure(deps.log, err, req, { requestId, op: opName });
      // An early error leaves an unread body: close the connection rather than read gigabytes.
      if (!req.complete) res.setHeader('Connection', 'close');
      renderError(req, res, requestId, toS3Error(err), resource);
    } finally {
      if (counted && deps.usage) {
        deps.usage({
          projectId: counted.principal.projectId,
          bucket: counted.bucket,
          tokenId: counted.principal.tokenId,
          kind: USAGE_KIND[counted.op],
          bytesIn: req.complete ? Number(req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? 0) : 0,
          bytesOut: req.method === 'HEAD' ? 0 : Number(res.getHeader('content-length') ?? 0),
        });
      }
      if (deps.log.isLevelEnabled('debug')) {
        deps.log.debug({ requestId, op: opName, method: req.method, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
      }
    }
  };
}
