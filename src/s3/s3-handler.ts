import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { adoptHeadersFromQuery } from './query-headers.js';
import { S3Error } from './errors.js';
import { randomHex } from '../util/random-hex.js';
import { addressFromHost, parseEndpoint, splitUrl, type S3Operation } from './endpoint.js';
import { sandboxOnConsoleOrigin } from './console-origin.js';
import { renderError, renderResult, toS3Error } from './render.js';
import { answeredStatus, sentBodyLength } from '../net/sent-body.js';
import { receivedBodyLength } from '../net/received-body.js';
import { HANDLERS } from './handlers/index.js';
import { ANONYMOUS, header, S3_LIMITS, type S3Context, type S3Limits, type S3Services } from './context.js';
import { authenticate } from '../sigv4/authenticate.js';
import { authenticatePostForm } from '../sigv4/post-policy.js';
import type { CredentialLookup, Principal } from '../auth/principal.js';
import type { UsageEvent } from '../usage/usage-service.js';
import type { ResolvedBucket } from '../buckets/bucket-config-service.js';
import { USAGE_KIND } from './usage-kind.js';
import { labelRequest } from '../ops/request-label.js';
import { admit, mayList, checkTokenBounds, requestExtras, requestFacts } from './admission.js';
import { refuseMisplacedEncryptionHeaders } from './protection-headers.js';
import { actualRequestCorsHeaders, preflight } from './handlers/cors.js';
import { ANONYMOUS_ACTOR, tokenActor } from '../audit/actor.js';
import { logFailure } from './failure-log.js';
import { NetworkDenied, RateLimited, type CredentialGuard } from '../credentials/credential-guard.js';
import type { TemporaryCredentialService } from '../credentials/temporary-credentials.js';
import { handleSts, isStsRequest } from './sts.js';
import { DAY_MS } from '../lifecycle/rules.js';

// The S3 request pipeline: parse -> authenticate -> authorize -> handle -> render.

export interface S3HandlerDeps {
  services: S3Services;
  credentials: CredentialLookup;
  region: string;
  baseDomains: readonly string[];
  /** `<project-id>.D` (and `<bucket>.<project-id>.D`) name a project under these domains. */
  projectDomains?: readonly string[];
  /** The project an anonymous request reaches when its host names none (the default project). */
  defaultProject: () => string | null;
  /** Accept Signature Version 2 (default true). */
  sigv2?: boolean;
  clock: () => Date;
  log: Logger;
  /** Counts each authenticated request for the usage report (after its response is written). */
  usage?: (e: UsageEvent) => void;
  /** Lower size limits than S3's (a deployment's choice, or a test's). */
  limits?: Partial<S3Limits>;
  /** The client's address (src/net/client-address.ts); the socket's peer when not given. */
  clientAddress?: (req: IncomingMessage) => string | undefined;
  /** Each token's network condition and request-rate limit (none checked when absent). */
  guard?: CredentialGuard;
  /** Serves STS AssumeRole / GetSessionToken / GetCallerIdentity on the endpoint when given. */
  temporary?: TemporaryCredentialService;
  /** The lifecycle worker's day (tests shorten it): the expiry dates objects are told follow it. */
  lifecycleDayMs?: number;
}

/** Operations whose NoSuchKey is about their copy source. */
const COPIES = new Set<string>(['CopyObject', 'UploadPartCopy']);

/** Authentication failures recorded in the audit log. */
const AUDITED_AUTH_FAILURES = new Set(['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'ExpiredToken', 'InvalidToken']);

export function newRequestId(): string {
  return randomHex(8).toUpperCase();
}

function wantsContinue(req: IncomingMessage): boolean {
  return header(req, 'expect')?.toLowerCase() === '100-continue';
}

/**
 * Answers Expect: 100-continue when the handler first reads the body (adds a listener for its
 * data), so a refusal its headers decide (too large, a bad storage class, a quota) goes out
 * instead, as S3 answers, and the client never sends the body. Never after a response began.
 */
function continueOnRead(req: IncomingMessage, res: ServerResponse): void {
  const onListener = (event: string | symbol) => {
    if (event !== 'data' && event !== 'readable') return;
    req.off('newListener', onListener);
    if (!res.headersSent) res.writeContinue();
  };
  req.on('newListener', onListener);
}

export function createS3Handler(deps: S3HandlerDeps) {
  const regions = [deps.region, 'auto', 'us-east-1'];
  const limits: S3Limits = { ...S3_LIMITS, ...deps.limits };
  const projectDomains = deps.projectDomains ?? [];
  const addressOf = deps.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress);
  /** A verified credential's network condition and rate limit, as S3 answers them. */
  const admitCaller = async (principal: Principal, req: IncomingMessage): Promise<void> => {
    if (!deps.guard) return;
    try {
      await deps.guard.check(principal, addressOf(req));
    } catch (err) {
      if (err instanceof NetworkDenied) throw new S3Error('AccessDenied', 'This access key may not be used from this address.');
      if (err instanceof RateLimited) throw new S3Error('SlowDown', err.message, {}, { 'Retry-After': String(err.retryAfterSeconds) });
      throw err;
    }
  };
  return async function handleS3(req: IncomingMessage, res: ServerResponse, requestId = newRequestId()): Promise<void> {
    const started = process.hrtime.bigint();
    const url = req.url ?? '/';
    let resource = url.split('?')[0];
    let opName = 'unknown';
    let counted: { principal: Principal | null; projectId: string; op: keyof typeof USAGE_KIND; bucket: string | null } | undefined;
    // The bucket as admitted: CORS headers on the response, and whether a NoSuchKey may be told.
    let admitted: ResolvedBucket | undefined;
    // The bucket as found, before the caller was admitted to it (every admitted bucket was found
    // first): CORS headers on its refusal too.
    let found: ResolvedBucket | undefined;
    // An anonymous request's bucket, looked up for CORS headers only if it is refused before it was found.
    let anonymousBucket: { projectId: string; name: string } | undefined;
    // Who would learn from a NoSuchKey that a key is missing (S3 tells only those who may list the bucket).
    let caller: { principal: Principal | null; facts: () => ReturnType<typeof requestFacts> } | undefined;
    try {
      if (req.method === 'OPTIONS') {
        const result = await preflight(req, { services: deps.services, baseDomains: deps.baseDomains, projectDomains, defaultProject: deps.defaultProject });
        await renderResult(req, res, requestId, result);
        return;
      }
      // Authenticate first (it needs only the raw path and query), so strangers learn nothing
      // from how a request would have been routed.
      const target = splitUrl(url);
      const host = addressFromHost(req.headers.host, deps.baseDomains, projectDomains);
      if (deps.temporary && isStsRequest(req, host.bucket)) {
        opName = 'STS';
        // The form is small and signed as a whole: it is read before the signature can be checked.
        if (wantsContinue(req)) res.writeContinue();
        const caller = await handleSts(req, res, requestId, {
          credentials: deps.credentials,
          temporary: deps.temporary,
          regions,
          clock: deps.clock,
          addressOf,
          admitCaller,
          hostProject: host.project,
          log: deps.log,
        });
        if (caller && deps.usage) {
          deps.usage({ projectId: caller.projectId, bucket: null, tokenId: caller.tokenId, kind: 'other', bytesIn: 0, bytesOut: sentBodyLength(req, res) });
        }
        return;
      }
      const auth = await authenticate(
        { method: req.method ?? 'GET', rawPath: target.rawPath, rawQuery: target.rawQuery, rawHeaders: req.rawHeaders, headers: req.headers, hostBucket: host.bucket },
        { regions, now: deps.clock(), lookup: deps.credentials, sigv2: deps.sigv2 },
      ).catch((err: unknown) => {
        if (err instanceof S3Error && AUDITED_AUTH_FAILURES.has(err.code)) {
          deps.credentials.recordFailure?.(err.extra.AWSAccessKeyId ?? 'unknown', err.code, addressOf(req));
        }
        throw err;
      });
      if (auth?.headersFromQuery) adoptHeadersFromQuery(req, auth.headersFromQuery);
      const op = parseEndpoint({
        method: req.method ?? 'GET',
        host: req.headers.host,
        url,
        baseDomains: deps.baseDomains,
        projectDomains,
        hasCopySource: req.headers['x-amz-copy-source'] !== undefined,
      });
      opName = op.op;
      labelRequest(req, op.op);
      resource = op.bucket === null ? '/' : op.key === null ? `/${op.bucket}` : `/${op.bucket}/${op.key}`;
      const principal = auth?.principal ?? null;
      if (principal) deps.credentials.recordUse?.(principal);
      // A project host name (<project-id>.<domain>) admits only that project's keys; an unsigned
      // request acts in the project its host names, else in the default project.
      if (principal && op.project !== null && op.project !== principal.projectId) {
        throw new S3Error('AccessDenied', 'This access key belongs to another project.');
      }
      const projectId = principal?.projectId ?? op.project ?? deps.defaultProject();
      if (projectId === null) throw new S3Error('AccessDenied', 'Anonymous access is not allowed.');
      // Counted under a bucket once one is found (or created): a name that finds none is not a
      // bucket's, and any text a caller sends (a NUL too) would otherwise become a usage row.
      counted = { principal, projectId, op: op.op, bucket: null };
      if (principal) {
        await admitCaller(principal, req);
        checkTokenBounds(principal, op);
      }
      else if (op.bucket === null) throw new S3Error('AccessDenied', 'Anonymous access is not allowed.');
      else anonymousBucket = { projectId, name: op.bucket };

      let facts: ReturnType<typeof requestFacts> | undefined;
      const factsOf = () => (facts ??= requestFacts(req, op, principal, deps.clock(), addressOf(req)));
      const onFound = (r: ResolvedBucket) => {
        if (counted) counted.bucket = r.row.name;
        found = r;
      };
      const admission = { services: deps.services, op, projectId, facts: factsOf, extras: requestExtras(req, op), found: onFound, expectedOwner: header(req, 'x-amz-expected-bucket-owner') };
      let resolving: Promise<ResolvedBucket> | undefined;
      const resolved = () => {
        // Only the first call reads the bucket; a handler may ask more than once.
        resolving ??= admit(admission, principal).then((r) => (admitted = r));
        return resolving;
      };
      const ctx: S3Context = {
        requestId,
        req,
        op,
        auth: auth ?? ANONYMOUS,
        projectId,
        services: deps.services,
        region: deps.region,
        limits,
        lifecycleDayMs: deps.lifecycleDayMs ?? DAY_MS,
        log: deps.log,
        resolved,
        resolvedAgain: () => {
          resolving = undefined;
          return resolved();
        },
        bucket: () => resolved().then((r) => r.row),
        admit: (p, key, formSays) => {
          // The form names its key only in its body: the policy is asked about that object. A
          // signed form acts in its signer's project, as a header-signed request does.
          const form = { ...op, key } as S3Operation;
          const formAdmission = {
            ...admission,
            projectId: p?.projectId ?? projectId,
            op: form,
            facts: () => ({ ...requestFacts(req, form, p, deps.clock(), addressOf(req)), ...formSays.facts }),
            extras: formSays.extras,
          };
          return admit(formAdmission, p).then((r) => (admitted = r));
        },
        verifyForm: (fields) =>
          authenticatePostForm(fields, deps.credentials, regions).then(
            async (signed) => {
              if (signed) deps.credentials.recordUse?.(signed.principal);
              if (signed && op.project !== null && op.project !== signed.principal.projectId) {
                throw new S3Error('AccessDenied', 'This access key belongs to another project.');
              }
              if (signed && counted) Object.assign(counted, { principal: signed.principal, projectId: signed.principal.projectId });
              if (signed) await admitCaller(signed.principal, req);
              return signed;
            },
            (err: unknown) => {
              if (err instanceof S3Error && AUDITED_AUTH_FAILURES.has(err.code)) {
                deps.credentials.recordFailure?.(err.extra.AWSAccessKeyId ?? 'unknown', err.code, addressOf(req));
              }
              throw err;
            },
          ),
        now: deps.clock,
        by: { actor: principal ? tokenActor(principal.tokenId) : ANONYMOUS_ACTOR, source: addressOf(req) },
      };
      caller = { principal, facts: factsOf };
      if (!principal) {
        // Nobody creates a bucket anonymously, whether or not its name is taken.
        if (op.op === 'CreateBucket') throw new S3Error('AccessDenied');
        // A POST form signs itself; its handler admits the signer.
        if (op.op !== 'PostObject') await resolved();
      } else if (wantsContinue(req) && op.bucket !== null && op.op !== 'CreateBucket') {
        // Expect: 100-continue is answered once the caller is admitted, so a refused upload sends no body.
        await resolved();
      }
      refuseMisplacedEncryptionHeaders(req, op.op);
      if (wantsContinue(req)) continueOnRead(req, res);
      const result = await HANDLERS[op.op](ctx);
      if (op.op === 'CreateBucket') counted.bucket = op.bucket;
      if (op.op === 'GetObject' || op.op === 'HeadObject') sandboxOnConsoleOrigin(host, (result.headers ??= {}));
      if (admitted) Object.assign((result.headers ??= {}), actualRequestCorsHeaders(req, admitted));
      await renderResult(req, res, requestId, result);
    } catch (err) {
      logFailure(deps.log, err, req, { requestId, op: opName });
      let s3err = toS3Error(err);
      // A delete marker refuses every method named by its version ID; the error names the one used.
      if (s3err.code === 'MethodNotAllowed' && s3err.extra.ResourceType === 'DeleteMarker') s3err.extra.Method = req.method ?? 'GET';
      // A caller learns that a key is missing only if it may list the bucket, as in S3 (a copy's
      // missing key is its source's, in another bucket).
      if (s3err.code === 'NoSuchKey' && caller && admitted && !COPIES.has(opName) && !mayList(caller.principal, admitted, admitted.row.name, caller.facts())) {
        s3err = new S3Error('AccessDenied');
      }
      // CORS headers go on errors too, as S3 sends them, so a page can read why it was refused: by
      // the bucket as found (the caller's refusal comes after), or for an anonymous request refused
      // before its bucket was looked up (a form's signature), that bucket now. A token's request
      // refused outside its scope learns nothing of the bucket.
      const corsBucket = found ?? (anonymousBucket && req.headers.origin !== undefined ? await deps.services.bucketConfig.resolve(anonymousBucket.projectId, anonymousBucket.name).catch(() => null) : null);
      if (corsBucket) Object.assign(s3err.headers, actualRequestCorsHeaders(req, corsBucket));
      // A refused HeadBucket still names the region, as S3's does: SDKs read it to find the bucket.
      if (opName === 'HeadBucket' && s3err.status === 403) s3err.headers['x-amz-bucket-region'] ??= admitted?.row.region ?? deps.region;
      // An early error leaves an unread body: close the connection rather than read gigabytes.
      // (A body the idle timeout cut was answered already: renderError leaves that answer be.)
      if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
      renderError(req, res, requestId, s3err, resource);
    } finally {
      if (counted && deps.usage) {
        deps.usage({
          projectId: counted.projectId,
          bucket: counted.bucket,
          tokenId: counted.principal?.tokenId ?? null,
          kind: USAGE_KIND[counted.op],
          bytesIn: receivedBodyLength(req),
          bytesOut: sentBodyLength(req, res),
        });
      }
      if (deps.log.isLevelEnabled('debug')) {
        deps.log.debug({ requestId, op: opName, method: req.method, status: answeredStatus(res), ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
      }
    }
  };
}
