import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics of one node, served at /metrics: requests by API, operation and status,
// latency histograms, bytes in and out, requests in flight, backend errors, and the process's
// own figures (CPU, memory, event loop lag, GC) from prom-client's defaults. Label children are
// cached per label set, which saves building them; prom-client still checks and hashes a child's
// labels on each update. All of a request's updates cost about 2 us (measured), so that stays.

export type ApiName = 's3' | 'api' | 'console' | 'ops';
export type Backend = 'metadata' | 'blobs';

export interface RequestObservation {
  api: ApiName;
  /** The S3 operation (PutObject, ...), or the method for the REST API and console. */
  operation: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

/** `n` as a byte count to add: 0 unless a finite positive number. */
function countable(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'api' | 'operation' | 'status'>;
  private readonly latency: Histogram<'api' | 'operation'>;
  private readonly bytesIn: Counter<'api'>;
  private readonly bytesOut: Counter<'api'>;
  private readonly inFlight: Gauge<'api'>;
  private readonly backendErrors: Counter<'backend'>;
  /** Label children by API, then operation and status, made once per label set. */
  private readonly children = new Map<string, Map<string, Map<number, { count: { inc(): void }; time: { observe(v: number): void } }>>>();
  private readonly flights = new Map<ApiName, { inc(): void; dec(): void }>();
  private readonly bytes = new Map<ApiName, { in: { inc(n: number): void }; out: { inc(n: number): void } }>();
  private readonly info: Gauge<'node_id' | 'version' | 'metadata' | 'blobs'>;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'skep_requests_total', help: 'Requests answered, by API, operation and HTTP status.', labelNames: ['api', 'operation', 'status'], registers });
    this.latency = new Histogram({
      name: 'skep_request_duration_seconds',
      help: 'Time from the request to the end of its response, by API and operation.',
      labelNames: ['api', 'operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.bytesIn = new Counter({ name: 'skep_received_bytes_total', help: 'Request body bytes received.', labelNames: ['api'], registers });
    this.bytesOut = new Counter({ name: 'skep_sent_bytes_total', help: 'Response body bytes sent.', labelNames: ['api'], registers });
    this.inFlight = new Gauge({ name: 'skep_requests_in_flight', help: 'Requests being served.', labelNames: ['api'], registers });
    this.backendErrors = new Counter({
      name: 'skep_backend_errors_total',
      help: 'Failed calls to the metadata store or the blob store (not conflicts such as a taken name, nor a missing blob).',
      labelNames: ['backend'],
      registers,
    });
    for (const backend of ['metadata', 'blobs'] as const) this.backendErrors.inc({ backend }, 0);
    this.info = new Gauge({
      name: 'skep_node_info',
      help: 'This node: its id, version and backends (always 1).',
      labelNames: ['node_id', 'version', 'metadata', 'blobs'],
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'skep_' });
  }

  describeNode(labels: { nodeId: string; version: string; metadata: string; blobs: string }): void {
    this.info.set({ node_id: labels.nodeId, version: labels.version, metadata: labels.metadata, blobs: labels.blobs }, 1);
  }

  private flight(api: ApiName): { inc(): void; dec(): void } {
    let g = this.flights.get(api);
    if (!g) {
      g = this.inFlight.labels(api);
      this.flights.set(api, g);
    }
    return g;
  }

  started(api: ApiName): void {
    this.flight(api).inc();
  }

  observe(o: RequestObservation): void {
    this.flight(o.api).dec();
    let byOp = this.children.get(o.api);
    if (!byOp) this.children.set(o.api, (byOp = new Map()));
    let byStatus = byOp.get(o.operation);
    if (!byStatus) byOp.set(o.operation, (byStatus = new Map()));
    let child = byStatus.get(o.status);
    if (!child) {
      child = { count: this.requests.labels(o.api, o.operation, String(o.status)), time: this.latency.labels(o.api, o.operation) };
      byStatus.set(o.status, child);
    }
    child.count.inc();
    child.time.observe(o.seconds);
    // prom-client throws on a count that is not a finite number.
    const bytesIn = countable(o.bytesIn);
    const bytesOut = countable(o.bytesOut);
    if (bytesIn > 0 || bytesOut > 0) {
      let b = this.bytes.get(o.api);
      if (!b) this.bytes.set(o.api, (b = { in: this.bytesIn.labels(o.api), out: this.bytesOut.labels(o.api) }));
      if (bytesIn > 0) b.in.inc(bytesIn);
      if (bytesOut > 0) b.out.inc(bytesOut);
    }
  }

  backendError(backend: Backend): void {
    this.backendErrors.inc({ backend });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
