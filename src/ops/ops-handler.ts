import type { IncomingMessage, ServerResponse } from 'node:http';
import { addressFromHost } from '../s3/endpoint.js';
import type { Metrics } from './metrics.js';

// What load balancers and monitoring ask a node:
//   GET /healthz  200 while the process serves requests (liveness);
//   GET /readyz   200 when the metadata store and the blob store both answer and the node is not
//                 draining, else 503 with what failed (readiness: take it out of rotation);
//   GET /metrics  Prometheus text (see metrics.ts).
// These are exact paths without a query string or credentials, on the server's own host name:
// a signed request for /metrics, or one with a query, is S3's (a bucket named "metrics").

const PATHS = new Set(['/healthz', '/readyz', '/metrics']);
const CHECK_TIMEOUT_MS = 2000;

export function isOpsRequest(req: IncomingMessage, baseDomains: readonly string[]): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const url = req.url ?? '/';
  if (!PATHS.has(url)) return false;
  if (req.headers.authorization) return false;
  return addressFromHost(req.headers.host, baseDomains).bucket === null;
}

export interface OpsDeps {
  nodeId: string;
  metrics: Metrics;
  /** True once the node is stopping: /readyz answers 503 so balancers stop sending it requests. */
  draining(): boolean;
  /** Each throws when its backend does not answer. */
  checks: Record<'metadata' | 'blobs', () => Promise<void>>;
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

export function createOpsHandler(deps: OpsDeps) {
  return async function handleOps(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    if (path === '/healthz') {
      send(req, res, 200, 'application/json', JSON.stringify({ status: 'ok', nodeId: deps.nodeId }) + '\n');
      return;
    }
    if (path === '/metrics') {
      const { body, contentType } = await deps.metrics.render();
      send(req, res, 200, contentType, body);
      return;
    }
    const results: Record<string, string> = {};
    await Promise.all(
      Object.entries(deps.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          results[name] = 'ok';
        } catch (err) {
          results[name] = `unreachable: ${(err as Error).message}`.slice(0, 300);
        }
      }),
    );
    const draining = deps.draining();
    const ready = !draining && Object.values(results).every((r) => r === 'ok');
    const status = draining ? 'draining' : ready ? 'ready' : 'not ready';
    send(req, res, ready ? 200 : 503, 'application/json', JSON.stringify({ status, nodeId: deps.nodeId, ...results }) + '\n');
  };
}
