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
import { clientErrorResponse } from './s3/render.js';
import { createConsoleHandler, isConsoleRequest } from './console/console-handler.js';
import { createApiHandler, isApiRequest } from './api/app.js';
import { addressFromHost } from './s3/endpoint.js';
import { LifecycleWorker } from './lifecycle/lifecycle-worker.js';
import { clientAddressResolver } from './net/client-address.js';
import { DEFAULT_AUDIT_RETENTION_DAYS } from './audit/audit-service.js';

// Wiring: opens the stores in the data folder, builds the services and serves HTTP(S).

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
  close(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 120_000;
const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
const ORPHAN_MIN_AGE_MS = 60 * 60 * 1000;
/** last-used-at is written in batches at this interval. */
const USE_FLUSH_INTERVAL_MS = 10_000;
/** Usage counters are written in batches at this interval. */
const USAGE_FLUSH_INTERVAL_MS = 5_000;
/** Lifecycle rules are applied by a pass at this interval, unless configured. */
const LIFECYCLE_INTERVAL_MS = 60 * 60 * 1000;
const HSTS = 'max-age=31536000';

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const services = await openServices(config.dataDir, { masterKey: config.masterKey, clock: config.clock, log });
  const { meta, blobs, objects, multipart, tokens } = services;
  const boot = await bootstrap(meta, tokens, { accessKeyId: config.rootAccessKeyId, secretAccessKey: config.rootSecretAccessKey });
  const admin = await services.users.bootstrapAdmin(boot.projectId);
  if (admin) boot.admin = admin;

  const projectDomains = config.projectDomain ? [config.projectDomain] : [];
  const clientAddress = clientAddressResolver(config.trustedProxies ?? []);
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
  const serveS3 = (req: IncomingMessage, res: ServerResponse) => {
    handleS3(req, res).catch((err) => {
      log.error({ err }, 'unhandled request failure');
      res.destroy();
    });
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // Under TLS, browsers are told to keep to HTTPS for this host (console sessions, presigned URLs).
    if (config.tls) res.setHeader('Strict-Transport-Security', HSTS);
    // A Host that names a bucket (<bucket>.<domain>) or a project is always S3: there the path is
    // an object key (or a bucket), and keys such as api/v1/... or console/... belong to the bucket.
    const address = addressFromHost(req.headers.host, config.baseDomains, projectDomains);
    if (address.bucket !== null || address.project !== null) {
      serveS3(req, res);
      return;
    }
    // /api/v1 and /api/v1/* are the REST API's.
    if (isApiRequest(req)) {
      handleApi(req, res).catch((err) => {
        log.error({ err }, 'api request failed');
        res.destroy();
      });
      return;
    }
    // /console and /console/* (and a browser's plain `GET /`) are the web console's.
    if (isConsoleRequest(req, config.baseDomains)) {
      handleConsole(req, res).catch((err) => {
        log.error({ err }, 'console request failed');
        res.destroy();
      });
      return;
    }
    serveS3(req, res);
  };
  const server: Server = config.tls
    ? createHttpsServer({ cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }, listener)
    : createHttpServer(listener);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // multi-gigabyte uploads may take longer than Node's 5-minute default
  // ...but a connection that stalls (no bytes either way) is dropped, so a stuck upload cannot
  // hold its socket and temp file forever; the aborted body discards the partial write.
  server.setTimeout(IDLE_TIMEOUT_MS);
  // Expect: 100-continue is answered by the S3 pipeline once the request is authenticated and
  // admitted (the REST API and console answer it at once), so a refused upload sends no body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const address = addressFromHost(req.headers.host, config.baseDomains, projectDomains);
    const s3 = address.bucket !== null || address.project !== null || (!isApiRequest(req) && !isConsoleRequest(req, config.baseDomains));
    if (!s3) res.writeContinue();
    listener(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed requests Node rejects before any handler (e.g. oversized headers) still get S3 XML.
    if (socket.writable) socket.end(clientErrorResponse(err, newRequestId()));
    else socket.destroy();
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolveListen());
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

  const retentionDays = config.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
  const sweep = () =>
    Promise.all([
      objects.sweepOrphans(ORPHAN_MIN_AGE_MS).then(
        (n) => n > 0 && log.info({ removed: n }, 'removed orphan blobs'),
        (err) => log.warn({ err }, 'orphan sweep failed'),
      ),
      services.quotas.reconcile().then(
        () => undefined,
        (err) => log.warn({ err }, 'recounting buckets under a quota failed'),
      ),
      services.temporary.prune().then(
        () => undefined,
        (err) => log.warn({ err }, 'removing expired temporary credentials failed'),
      ),
      retentionDays > 0 &&
        services.audit.prune(retentionDays).then(
          (n) => n > 0 && log.info({ removed: n, retentionDays }, 'removed audit events past their retention'),
          (err) => log.warn({ err }, 'audit pruning failed'),
        ),
    ]);
  void sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
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
    async close() {
      await lifecycle.stop();
      clearInterval(timer);
      clearInterval(usesTimer);
      clearInterval(usageTimer);
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await services.close();
    },
  };
}
