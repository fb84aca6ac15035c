import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { readFile } from 'node:fs/promises';
import type { ServerConfig } from './config.js';
import { openServices, type Services } from './wiring.js';
import type { ObjectService } from './objects/object-service.js';
import type { TokenService } from './credentials/token-service.js';
import { createLogger } from './log.js';
import type { MetadataStore } from './storage/metadata/metadata-store.js';
import type { BlobStore } from './storage/blob/blob-store.js';
import { bootstrap, type BootstrapResult } from './projects/bootstrap.js';
import { createS3Handler, newRequestId } from './s3/s3-handler.js';
import { S3Error } from './s3/errors.js';
import { xmlDocument } from './s3/xml.js';

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
  log: Logger;
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
const ORPHAN_MIN_AGE_MS = 60 * 60 * 1000;
/** last-used-at is written in batches at this interval. */
const USE_FLUSH_INTERVAL_MS = 10_000;

/** Malformed requests Node rejects before any handler (e.g. oversized headers) still get S3 XML. */
function clientErrorResponse(err: NodeJS.ErrnoException): Buffer {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const s3 = tooLarge ? new S3Error('RequestHeaderSectionTooLarge') : new S3Error('InvalidRequest', 'The request could not be parsed.');
  const requestId = newRequestId();
  const body = xmlDocument('Error', { Code: s3.code, Message: s3.message, RequestId: requestId }, false);
  return Buffer.from(
    `HTTP/1.1 ${s3.status} Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-amz-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const services = await openServices(config.dataDir, { masterKey: config.masterKey, clock: config.clock, log });
  const { meta, blobs, objects, multipart, tokens } = services;
  const boot = await bootstrap(meta, tokens, { accessKeyId: config.rootAccessKeyId, secretAccessKey: config.rootSecretAccessKey });

  const handleS3 = createS3Handler({
    services: { objects, multipart },
    credentials: tokens,
    region: config.region,
    baseDomains: config.baseDomains,
    clock: config.clock,
    log,
  });
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handleS3(req, res).catch((err) => {
      log.error({ err }, 'unhandled request failure');
      res.destroy();
    });
  };
  const server: Server = config.tls
    ? createHttpsServer({ cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }, listener)
    : createHttpServer(listener);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // multi-gigabyte uploads may take longer than Node's 5-minute default
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable) socket.end(clientErrorResponse(err));
    else socket.destroy();
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${config.tls ? 'https' : 'http'}://${config.host}:${port}`;

  const sweep = () =>
    objects.sweepOrphans(ORPHAN_MIN_AGE_MS).then(
      (n) => n > 0 && log.info({ removed: n }, 'removed orphan blobs'),
      (err) => log.warn({ err }, 'orphan sweep failed'),
    );
  void sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  const flushUses = () => tokens.flushUses().catch((err: unknown) => log.warn({ err }, 'recording token use failed'));
  const usesTimer = setInterval(flushUses, USE_FLUSH_INTERVAL_MS);
  usesTimer.unref();

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
    async close() {
      clearInterval(timer);
      clearInterval(usesTimer);
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await services.close();
    },
  };
}
