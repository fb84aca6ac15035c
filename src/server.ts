import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { readFile } from 'node:fs/promises';
import { advertisedUrl, listenUrl, writeEndpointRecord, type ServerConfig } from './config.js';
import { openServices, type Services } from './wiring.js';
import type { ObjectService } from './objects/object-service.js';
import type { TokenService } from './credentials/token-service.js';
import { createLogger } from './log.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import type { BlobStore } from './storage/blob/blob-store.js';
import { bootstrap, type BootstrapResult } from './projects/bootstrap.js';
import { createS3Handler, newRequestId } from './s3/s3-handler.js';
import { clientErrorResponse, renderError } from './s3/render.js';
import { S3Error } from './s3/errors.js';
import { answeredStatus, noteClosed, sentBodyLength } from './net/sent-body.js';
import { receivedBodyLength } from './net/received-body.js';
import { createConsoleHandler, isConsoleRequest } from './console/console-handler.js';
import { createApiHandler, isApiRequest } from './api/app.js';
import { addressFromHost } from './s3/endpoint.js';
import { Metrics, type ApiName } from './ops/metrics.js';
import { createOpsHandler, isOpsRequest } from './ops/ops-handler.js';
import { requestLabel } from './ops/request-label.js';
import { SKEP_VERSION } from './version.js';
import { LifecycleWorker } from './lifecycle/lifecycle-worker.js';
import { clientAddressResolver, forwardedTlsMarker } from './net/client-address.js';
import { inOrderPerConnection } from './net/in-order.js';
import { toOriginForm } from './net/request-target.js';
import { DEFAULT_AUDIT_RETENTION_DAYS } from './audit/audit-service.js';
import { holdSharedHashPool } from './checksums/hash-pool.js';

// Wiring: opens the stores the configuration names, builds the services and serves HTTP(S):
// S3, the REST API, the console, and the operations endpoints (/healthz, /readyz, /metrics).

export interface RunningServer {
  url: string;
  port: number;
  bootstrap: BootstrapResult;
  meta: MetadataStore;
  blobs: BlobStore;
  objects: ObjectService;
  tokens: TokenService;
  services: Services;
  lifecycle: LifecycleWorker;
  log: Logger;
  metrics: Metrics;
  /**
   * Stops gracefully: /readyz turns 503, no new connections are accepted, idle keep-alive
   * connections close, requests in flight may finish (their connections close after them) for
   * up to `timeoutMs`; then the rest are cut and the stores closed.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Stops at once (drain with no wait). */
  close(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 120_000;
/** How often the blob collector runs (see objects/blob-lifecycle.ts). */
const COLLECT_INTERVAL_MS = 60_000;
/** Without the ledger: how often the local blob folder is swept, and the age of what it removes. */
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
const ORPHAN_MIN_AGE_MS = 60 * 60 * 1000;
/** How often audit events past their retention are removed. */
const MAINTENANCE_INTERVAL_MS = 60 * 60 * 1000;
/** last-used-at is written in batches at this interval. */
const USE_FLUSH_INTERVAL_MS = 10_000;
/** Usage counters are written in batches at this interval. */
const USAGE_FLUSH_INTERVAL_MS = 5_000;
/** Lifecycle rules are applied by a pass at this interval, unless configured. */
const LIFECYCLE_INTERVAL_MS = 60 * 60 * 1000;
const HSTS = 'max-age=31536000';

/**
 * For the responses the S3 renderer does not write (REST API, console, operations endpoints): a
 * header set before writeHead makes Node keep the headers writeHead is given (it otherwise writes
 * them without a copy), so the body length they announce is counted as bytes out. The header
 * chosen is one every such response should carry anyway.
 */
function keepWrittenHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

/**
 * Ends a request the idle timeout gave up on. Destroying its socket is not enough: on Node 20 the
 * request then emits no error, close or aborted, so a handler reading its body (its temp file
 * open) would wait for good. Destroyed with an error, its body fails and the handler finishes.
 */
function cutStalledRequest(req: IncomingMessage): void {
  if (!req.destroyed) req.destroy(Object.assign(new Error('The connection was idle too long.'), { code: 'ETIMEDOUT' }));
}

/** The stores, opened and checked, and the deployment they hold, bootstrapped on a first start. */
async function openAndBootstrap(config: ServerConfig, log: Logger, metrics: Metrics): Promise<{ services: Services; boot: BootstrapResult }> {
  const services = await openServices(config.dataDir, {
    masterKey: config.masterKey,
    clock: config.clock,
    log,
    storage: config.storage,
    onBackendError: (backend) => metrics.backendError(backend),
    server: true,
  });
  const { meta, tokens } = services;
  metrics.describeNode({ nodeId: services.nodeId, version: SKEP_VERSION, ...services.backends });
  if (await meta.hasMigrationMark()) {
    await services.close();
    throw new Error('this storage is the target of a skep migrate that did not finish (interrupted, or some objects did not verify): its copy is partial. Empty it and run skep migrate again');
  }
  try {
    // Several nodes may start at once on an empty shared database: one bootstraps.
    const boot = await meta.exclusive('bootstrap', async () => {
      const result = await bootstrap(meta, tokens, { accessKeyId: config.rootAccessKeyId, secretAccessKey: config.rootSecretAccessKey });
      const admin = await services.users.bootstrapAdmin(result.projectId);
      if (admin) result.admin = admin;
      return result;
    });
    return { services, boot };
  } catch (err) {
    await services.close();
    throw err;
  }
}

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const metrics = new Metrics();
  // The socket is bound, and the TLS files read, before any store is opened: a port in use or a
  // certificate that does not load then stops the start before a first start's bootstrap creates
  // credentials whose secrets (printed once the server is up) would never be shown. Until the
  // server is ready, whatever arrives is answered 503 with Retry-After.
  const server: Server = config.tls
    ? createHttpsServer({ cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) })
    : createHttpServer();
  const starting = (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(503, { 'Retry-After': '1', Connection: 'close' }).end();
  server.on('request', starting);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolveListen());
  });
  const { services, boot } = await openAndBootstrap(config, log, metrics).catch(async (err: unknown) => {
    await new Promise((closed) => server.close(closed));
    throw err;
  });
  const { meta, blobs, objects, multipart, tokens } = services;

  const projectDomains = config.projectDomain ? [config.projectDomain] : [];
  const clientAddress = clientAddressResolver(config.trustedProxies ?? []);
  const markForwardedTls = forwardedTlsMarker(config.trustedProxies ?? []);
  const handleS3 = createS3Handler({
    services: {
      objects,
      multipart,
      buckets: services.buckets,
      bucketConfig: services.bucketConfig,
      protection: services.protection,
      objectLock: services.objectLock,
      quotas: services.quotas,
    },
    clientAddress,
    guard: services.guard,
    temporary: services.temporary,
    credentials: tokens,
    region: config.region,
    baseDomains: config.baseDomains,
    projectDomains,
    // Unsigned requests on a host that names no project reach the default project's public buckets.
    defaultProject: () => boot.projectId,
    sigv2: config.sigv2 !== false,
    clock: config.clock,
    lifecycleDayMs: config.lifecycleDayMs,
    log,
    usage: (e) => services.usage.record(e),
  });
  let url = '';
  const handleApi = createApiHandler({
    ...services,
    region: config.region,
    tls: !!config.tls,
    fallbackUrl: () => url,
    projectDomain: config.projectDomain,
    clientAddress,
    clock: config.clock,
    log,
  });
  const handleConsole = createConsoleHandler({ log });
  let draining = false;
  const handleOps = createOpsHandler({
    nodeId: services.nodeId,
    metrics,
    draining: () => draining,
    checks: { metadata: () => meta.ping(), blobs: () => blobs.ping() },
  });
  /** Responses in flight: a drain waits for them, and closes their connections after them. */
  const open = new Set<ServerResponse>();
  // The request each connection serves or served last (one at a time: see in-order.ts), for the
  // idle timeout below.
  const latest = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse; api: ApiName; requestId?: string }>();
  let idle: (() => void) | undefined;
  const track = (req: IncomingMessage, res: ServerResponse, api: ApiName, requestId?: string) => {
    const started = performance.now();
    metrics.started(api);
    open.add(res);
    latest.set(req.socket, { req, res, api, requestId });
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      open.delete(res);
      noteClosed(res);
      // A listener that threw would end the process: a figure that cannot be recorded is logged.
      try {
        metrics.observe({
          api,
          operation: requestLabel(req) ?? req.method ?? 'GET',
          status: answeredStatus(res),
          seconds: (performance.now() - started) / 1000,
          bytesIn: receivedBodyLength(req),
          bytesOut: sentBodyLength(req, res),
        });
      } catch (err) {
        log.warn({ err }, 'could not record the request in the metrics');
      }
      if (open.size === 0) idle?.();
    });
  };
  const serveS3 = (req: IncomingMessage, res: ServerResponse) => {
    // One request ID for the handler's answer and logs and for the idle timeout's answer.
    const requestId = newRequestId();
    track(req, res, 's3', requestId);
    handleS3(req, res, requestId).catch((err) => {
      log.error({ err }, 'unhandled request failure');
      res.destroy();
    });
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    markForwardedTls(req);
    // Under TLS, browsers are told to keep to HTTPS for this host (console sessions, presigned URLs).
    if (config.tls) res.setHeader('Strict-Transport-Security', HSTS);
    // A Host that names a bucket (<bucket>.<domain>) or a project is always S3: there the path is
    // an object key (or a bucket), and keys such as api/v1/... or console/... belong to the bucket.
    const address = addressFromHost(req.headers.host, config.baseDomains, projectDomains);
    if (address.bucket !== null || address.project !== null) {
      serveS3(req, res);
      return;
    }
    // GET /healthz, /readyz, /metrics without credentials or a query: the operations endpoints.
    if (isOpsRequest(req, config.baseDomains)) {
      track(req, res, 'ops');
      keepWrittenHeaders(res);
      handleOps(req, res).catch((err) => {
        log.error({ err }, 'ops request failed');
        res.destroy();
      });
      return;
    }
    // /api/v1 and /api/v1/* are the REST API's.
    if (isApiRequest(req)) {
      track(req, res, 'api');
      keepWrittenHeaders(res);
      handleApi(req, res).catch((err) => {
        log.error({ err }, 'api request failed');
        res.destroy();
      });
      return;
    }
    // /console and /console/* (and a browser's plain `GET /`) are the web console's.
    if (isConsoleRequest(req, config.baseDomains)) {
      track(req, res, 'console');
      keepWrittenHeaders(res);
      handleConsole(req, res).catch((err) => {
        log.error({ err }, 'console request failed');
        res.destroy();
      });
      return;
    }
    serveS3(req, res);
  };
  const ordered = inOrderPerConnection(listener);
  // Every route (and the Expect: 100-continue decision below) reads the origin form of the target.
  const inOrder = (req: IncomingMessage, res: ServerResponse) => {
    toOriginForm(req);
    ordered(req, res);
  };
  server.off('request', starting);
  server.on('request', inOrder);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // multi-gigabyte uploads may take longer than Node's 5-minute default
  // ...but a connection that stalls (no bytes either way) is dropped, so a stuck upload cannot
  // hold its socket and temp file forever; the aborted body discards the partial write.
  // An S3 request not answered yet gets an S3 error first, as S3 answers, since SDKs retry that
  // where a connection cut without a word reads as a network failure: 400 RequestTimeout when its
  // body stalled, 503 ServiceUnavailable when all of it arrived and the answer is what is late (a
  // backend that stopped answering). The handler may still finish later: its response is dropped.
  server.setTimeout(config.idleTimeoutMs ?? IDLE_TIMEOUT_MS, (socket: Socket) => {
    const current = latest.get(socket);
    if (!current || current.api !== 's3' || current.res.headersSent || current.res.writableEnded) {
      if (current) {
        // Answered nothing: whatever its handler writes once its body fails goes nowhere (a 499).
        noteClosed(current.res);
        cutStalledRequest(current.req);
      }
      socket.destroy();
      return;
    }
    const { req, res } = current;
    res.setHeader('Connection', 'close');
    res.once('finish', () => {
      cutStalledRequest(req);
      res.destroy();
      socket.destroy();
    });
    const err = req.complete ? new S3Error('ServiceUnavailable') : new S3Error('RequestTimeout');
    renderError(req, res, current.requestId ?? newRequestId(), err, (req.url ?? '/').split('?')[0]!);
  });
  // Expect: 100-continue is answered by the S3 pipeline once the request is authenticated and
  // admitted (the REST API and console answer it at once), so a refused upload sends no body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    toOriginForm(req);
    const address = addressFromHost(req.headers.host, config.baseDomains, projectDomains);
    const s3 = address.bucket !== null || address.project !== null || (!isApiRequest(req) && !isConsoleRequest(req, config.baseDomains));
    if (!s3) res.writeContinue();
    ordered(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed requests Node rejects before any handler (e.g. oversized headers) still get S3 XML.
    if (socket.writable) socket.end(clientErrorResponse(err, newRequestId()));
    else socket.destroy();
  });

  const port = (server.address() as AddressInfo).port;
  url = listenUrl(!!config.tls, config.host, port);
  // For the operator CLI's snippets: where this folder's server is (the port may have been 0).
  await writeEndpointRecord(config.dataDir, {
    url: advertisedUrl(!!config.tls, config.host, port),
    region: config.region,
    ...(config.projectDomain ? { projectDomain: config.projectDomain } : {}),
  }).catch((err: unknown) =>
    log.warn({ err }, 'could not record the endpoint for the CLI'),
  );

  // Blob garbage: the ledger's collector, or on the embedded default a sweep of the local folder
  // for unreferenced blobs an hour old (what a crash between a write and its commit leaves).
  // The pass running, if any: a stopping server ends it and waits for it, so that no sweep
  // works on closed stores or leaves its scratch file behind.
  let collecting: Promise<void> | null = null;
  const stopCollecting = new AbortController();
  const collect = () => {
    if (collecting) return;
    const pass = services.blobLedger ? objects.collectBlobs() : objects.sweepOrphans(ORPHAN_MIN_AGE_MS, { signal: stopCollecting.signal });
    collecting = pass
      .then(
        (n) => void (n > 0 && log.info({ removed: n }, 'collected blobs')),
        (err) => void (stopCollecting.signal.aborted || log.warn({ err }, 'blob collection failed')),
      )
      .finally(() => (collecting = null));
  };
  if (!services.blobLedger) collect();
  const timer = setInterval(collect, config.collectIntervalMs ?? (services.blobLedger ? COLLECT_INTERVAL_MS : SWEEP_INTERVAL_MS));
  timer.unref();
  // Hourly upkeep: buckets under a quota recounted; expired temporary credentials, completed
  // multipart uploads and audit events past their retention removed.
  const retentionDays = config.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
  const maintain = () =>
    Promise.all([
      services.quotas.reconcile().then(
        () => undefined,
        (err) => log.warn({ err }, 'recounting buckets under a quota failed'),
      ),
      services.temporary.prune().then(
        () => undefined,
        (err) => log.warn({ err }, 'removing expired temporary credentials failed'),
      ),
      multipart.pruneCompleted().then(
        () => undefined,
        (err) => log.warn({ err }, 'removing completed multipart uploads failed'),
      ),
      retentionDays > 0 &&
        services.audit.prune(retentionDays).then(
          (n) => n > 0 && log.info({ removed: n, retentionDays }, 'removed audit events past their retention'),
          (err) => log.warn({ err }, 'audit pruning failed'),
        ),
    ]);
  void maintain();
  const maintenanceTimer = setInterval(maintain, MAINTENANCE_INTERVAL_MS);
  maintenanceTimer.unref();
  const flushUses = () => tokens.flushUses().catch((err: unknown) => log.warn({ err }, 'recording token use failed'));
  const usesTimer = setInterval(flushUses, config.useFlushIntervalMs ?? USE_FLUSH_INTERVAL_MS);
  usesTimer.unref();
  const flushUsage = () => Promise.all([services.usage.flush().catch(() => undefined), services.meter.flush().catch(() => undefined)]);
  const usageTimer = setInterval(flushUsage, USAGE_FLUSH_INTERVAL_MS);
  usageTimer.unref();
  const lifecycle = new LifecycleWorker({
    meta,
    objects,
    audit: services.audit,
    log,
    clock: config.clock,
    intervalMs: config.lifecycleIntervalMs ?? LIFECYCLE_INTERVAL_MS,
    dayMs: config.lifecycleDayMs,
    batch: config.lifecycleBatch,
  });
  lifecycle.start();
  // Large bodies are hashed on worker threads, stopped with the (last) server.
  const releaseHashing = holdSharedHashPool();

  let stopped: Promise<void> | undefined;
  const drain = (timeoutMs: number): Promise<void> =>
    (stopped ??= (async () => {
      draining = true;
      await lifecycle.stop();
      clearInterval(timer);
      stopCollecting.abort();
      await collecting;
      clearInterval(maintenanceTimer);
      clearInterval(usesTimer);
      clearInterval(usageTimer);
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // Each response in flight closes its connection when done, rather than wait for the next request.
      for (const res of open) if (!res.headersSent) res.shouldKeepAlive = false;
      if (open.size > 0 && timeoutMs > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, timeoutMs);
          idle = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      server.closeAllConnections();
      await closed;
      await services.close().finally(releaseHashing);
    })());

  return {
    url,
    port,
    bootstrap: boot,
    meta,
    blobs,
    objects,
    tokens,
    services,
    log,
    lifecycle,
    metrics,
    drain,
    close: () => drain(0),
  };
}
