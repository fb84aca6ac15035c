// The scenarios, run in order against one target. Every response is checked (status, ETag where
// the server computes one, body length and content) so a broken server cannot look fast.

import { S3Http, Signer, expectOk, type Response } from './client.js';
import { Contents, MiB, md5Hex } from './data.js';
import { readCpuSecondsOf, readThreadCpuOf, RssSampler } from './proc.js';
import type { RunningTarget } from './targets.js';

export interface BenchConfig {
  smallConcurrency: number;
  largeConcurrency: number;
  smallOps: number;
  smallWarmup: number;
  largeCount: number;
  largeSize: number;
  listKeys: number;
  listOps: number;
  listMaxSeconds: number;
  scenarios: Set<ScenarioId>;
  /** Each scenario runs this many times per target, interleaved; the best round is reported. */
  rounds: number;
}

export const SCENARIOS = [
  'put-small',
  'put-versioned',
  'get-small',
  'head-small',
  'put-encrypted',
  'get-encrypted',
  'list',
  'put-large',
  'put-large-trailer',
  'put-large-signed',
  'get-large',
] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface ScenarioResult {
  id: ScenarioId;
  /** Operations that succeeded (the figures are theirs). */
  ops: number;
  /** Operations that failed (an error status, a connection error or a failed check). */
  failedOps: number;
  firstError?: string;
  seconds: number;
  opsPerSec: number;
  mibPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Server CPU (all threads) per operation, ms. */
  serverCpuMsPerOp: number;
  /** Of which: the main (JavaScript) thread, and all other threads (libuv's pool, V8's GC). */
  serverThreadsMsPerOp: { main: number; other: number };
  /** Server CPU utilisation during the run, in cores (2 = both cores busy). */
  serverCores: number;
  /** Bench client CPU per operation, ms (it shares the machine with the server). */
  clientCpuMsPerOp: number;
  /** When the timed run began and ended (CLOCK_MONOTONIC, microseconds: the clock of V8's CPU profiles). */
  window?: [number, number];
  error?: string;
}

export interface TargetResult {
  target: string;
  /** The best round of each scenario (highest throughput). */
  scenarios: Partial<Record<ScenarioId, ScenarioResult>>;
  /** Every round, in order. */
  rounds: Partial<Record<ScenarioId, ScenarioResult[]>>;
  rssStartMiB: number;
  rssMaxSampledMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  checks: number;
}

/** CLOCK_MONOTONIC in microseconds, as a CPU profile's startTime (any process on this machine). */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

export interface LoopResult {
  seconds: number;
  /** Latencies (ms) of the operations that succeeded. */
  latencies: number[];
  failures: number;
  firstError?: string;
}

/**
 * Runs `count` operations with `concurrency` in flight (stopping early after `maxSeconds`).
 * A failed operation is counted, not retried; the loop goes on.
 */
export async function closedLoop(concurrency: number, count: number, op: (i: number) => Promise<void>, maxSeconds = Infinity): Promise<LoopResult> {
  const result: LoopResult = { seconds: 0, latencies: [], failures: 0 };
  let next = 0;
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const worker = async () => {
    for (;;) {
      if (next >= count || performance.now() > deadline) return;
      const i = next++;
      const t0 = performance.now();
      try {
        await op(i);
        result.latencies.push(performance.now() - t0);
      } catch (err) {
        result.failures++;
        result.firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** A loop whose every operation must succeed (setup, warm-up). */
async function strictLoop(concurrency: number, count: number, op: (i: number) => Promise<void>): Promise<void> {
  const r = await closedLoop(concurrency, count, op);
  if (r.failures > 0) throw new Error(`${r.failures} of ${count} operations failed; first: ${r.firstError}`);
}

const smallKey = (round: number, i: number) => `obj/${round}/${String(i).padStart(6, '0')}`;
const warmKey = (i: number) => `warm/${String(i).padStart(6, '0')}`;
/** Keys a versioned PUT overwrites: each timed PUT turns the current version into a noncurrent one. */
const VERSIONED_KEYS = 500;
const versionedKey = (i: number) => `ver/${String(i % VERSIONED_KEYS).padStart(4, '0')}`;
const listKey = (i: number) => `key-${String(i).padStart(5, '0')}`;
const largeKey = (round: number, n: number) => `big/${round}/${n}`;

/**
 * Runs the scenarios against one target, one phase at a time, so that the orchestrator can
 * interleave the targets (skep, s3rver, ceiling, then again in reverse): load from elsewhere on
 * the machine then spreads over all of them instead of spoiling one column.
 */
export class ScenarioRunner {
  private readonly signer: Signer;
  private checks = 0;
  private readonly rounds: Partial<Record<ScenarioId, ScenarioResult[]>> = {};
  /** Whether the target computes ETags (MD5) and real listings: the ceiling does not. */
  private readonly realS3: boolean;
  private readonly sampler: RssSampler;
  private readonly rssStart: number;
  private readonly small: S3Http;
  private readonly large: S3Http;
  private warmedUp = false;
  private listReady = false;
  private readonly expectedMd5 = new Map<number, string>();

  constructor(
    readonly target: RunningTarget,
    private readonly cfg: BenchConfig,
    private readonly contents: Contents,
    private readonly log: (msg: string) => void,
  ) {
    this.signer = new Signer(target.creds);
    this.realS3 = target.name !== 'ceiling';
    this.sampler = new RssSampler(target.pids, 100).start();
    this.rssStart = this.sampler.sample()?.rssMiB ?? NaN;
    // A target of several nodes gets its requests in turn, as a round-robin load balancer would.
    this.small = new S3Http(target.urls, this.signer, cfg.smallConcurrency);
    this.large = new S3Http(target.urls, this.signer, cfg.largeConcurrency);
    for (const n of [0, cfg.largeCount - 1]) this.expectedMd5.set(n, contents.largeMd5(n, cfg.largeSize));
  }

  private check(ok: boolean, what: string): void {
    if (!ok) throw new Error(`${this.target.name}: check failed: ${what}`);
    this.checks++;
  }

  private checkEtag(res: Response, md5: string, what: string): void {
    if (!this.realS3) return;
    const etag = String(res.headers.etag ?? '').replace(/"/g, '');
    this.check(etag === md5, `${what}: ETag ${etag} != ${md5}`);
  }

  /** Measures one timed phase: server CPU (all threads and the main one), client CPU, wall time. */
  private async measure(
    id: ScenarioId,
    run: () => Promise<LoopResult & { bytesPerOp?: number; keepLatencies?: boolean }>,
  ): Promise<ScenarioResult> {
    const cpu0 = readCpuSecondsOf(this.target.pids);
    const threads0 = readThreadCpuOf(this.target.pids);
    const client0 = process.cpuUsage();
    const start = monotonicMicros();
    let result: ScenarioResult;
    try {
      const r = await run();
      const window: [number, number] = [start, monotonicMicros()];
      const ops = r.latencies.length;
      if (ops === 0) throw new Error(r.firstError ?? 'no operation ran');
      const serverCpu = readCpuSecondsOf(this.target.pids) - cpu0;
      const threads1 = readThreadCpuOf(this.target.pids);
      const perOp = (k: 'main' | 'other') => ((threads1[k] - threads0[k]) * 1000) / ops;
      const c = process.cpuUsage(client0);
      const sorted = r.keepLatencies === false ? undefined : [...r.latencies].sort((a, b) => a - b);
      result = {
        id,
        ops,
        failedOps: r.failures,
        firstError: r.firstError,
        seconds: r.seconds,
        opsPerSec: ops / r.seconds,
        mibPerSec: r.bytesPerOp !== undefined ? (ops * r.bytesPerOp) / MiB / r.seconds : undefined,
        p50Ms: sorted ? percentile(sorted, 0.5) : undefined,
        p99Ms: sorted ? percentile(sorted, 0.99) : undefined,
        serverCpuMsPerOp: (serverCpu * 1000) / ops,
        serverThreadsMsPerOp: { main: perOp('main'), other: perOp('other') },
        serverCores: serverCpu / r.seconds,
        clientCpuMsPerOp: (c.user + c.system) / 1000 / ops,
        window,
      };
    } catch (err) {
      result = { id, ops: 0, failedOps: 0, seconds: 0, opsPerSec: NaN, serverCpuMsPerOp: NaN, serverThreadsMsPerOp: { main: NaN, other: NaN }, serverCores: NaN, clientCpuMsPerOp: NaN, error: (err as Error).message };
    }
    (this.rounds[id] ??= []).push(result);
    const name = this.target.name.padEnd(15);
    if (result.error) this.log(`  ${id} ${name} ERROR ${result.error}`);
    else {
      if (result.failedOps > 0) this.log(`  ${id} ${name} ${result.failedOps} operations FAILED; first: ${result.firstError}`);
      const main = result.mibPerSec !== undefined ? `${result.mibPerSec.toFixed(1)} MiB/s` : `${result.opsPerSec.toFixed(0)} ops/s p50 ${result.p50Ms?.toFixed(2)} ms p99 ${result.p99Ms?.toFixed(2)} ms`;
      this.log(
        `  ${id} ${name} ${main} | server ${result.serverCpuMsPerOp.toFixed(3)} ms CPU/op (main thread ${result.serverThreadsMsPerOp.main.toFixed(3)}), ` +
          `${result.serverCores.toFixed(2)} cores | client ${result.clientCpuMsPerOp.toFixed(3)} ms CPU/op`,
      );
    }
    return result;
  }

  private async putSmall(bucket: string, key: string, i: number): Promise<void> {
    const body = this.contents.small(i);
    const res = expectOk(await this.small.request({ method: 'PUT', path: `/${bucket}/${key}`, body, payload: 'sha256', crc32: true }), `PUT ${key}`);
    this.checkEtag(res, md5Hex(body), `PUT ${key}`);
  }

  private async getSmall(bucket: string, key: string, i: number): Promise<void> {
    const res = expectOk(await this.small.request({ method: 'GET', path: `/${bucket}/${key}` }), `GET ${key}`);
    this.check(this.contents.isSmall(res.body, i), `GET ${key}: body differs (${res.bytes} bytes)`);
  }

  private async headSmall(bucket: string, key: string, i: number): Promise<void> {
    const res = expectOk(await this.small.request({ method: 'HEAD', path: `/${bucket}/${key}` }), `HEAD ${key}`);
    this.check(res.headers['content-length'] === String(this.contents.smallSize), `HEAD ${key}: Content-Length ${res.headers['content-length']}`);
    this.checkEtag(res, md5Hex(this.contents.small(i)), `HEAD ${key}`);
  }

  private async listOnce(): Promise<void> {
    const res = expectOk(await this.small.request({ method: 'GET', path: '/bench-list', query: [['list-type', '2'], ['max-keys', '1000']] }), 'ListObjectsV2');
    const xml = res.body!.toString('utf8');
    if (!this.realS3) {
      this.check(xml.includes('<ListBucketResult'), 'list: not a ListBucketResult');
      return;
    }
    const keys = xml.match(/<Key>/g)?.length ?? 0;
    this.check(keys === this.cfg.listKeys, `list: ${keys} keys, expected ${this.cfg.listKeys}`);
    this.check(xml.includes(`<Key>${listKey(0)}</Key>`) && xml.includes(`<Key>${listKey(this.cfg.listKeys - 1)}</Key>`), 'list: first/last key missing');
    this.check(/<IsTruncated>false<\/IsTruncated>/.test(xml), 'list: truncated');
  }

  /** Whether the target runs a scenario: only skep keeps versions and encrypts at rest (the others are not measured there). */
  supports(id: ScenarioId): boolean {
    if (id === 'put-versioned' || id === 'put-encrypted' || id === 'get-encrypted') return this.target.name === 'skep' || this.target.name === 'skep-base';
    // s3rver does not understand aws-chunked bodies with a trailer.
    if (id === 'put-large-trailer' || id === 'put-large-signed') return this.target.name !== 's3rver';
    return true;
  }

  /** Buckets, and a warm-up (JIT, connections, SQLite pages) that is not timed. */
  async setup(): Promise<void> {
    const cfg = this.cfg;
    for (const b of ['bench-small', 'bench-list', 'bench-large']) expectOk(await this.small.request({ method: 'PUT', path: `/${b}` }), `create bucket ${b}`);
    if (cfg.scenarios.has('put-versioned') && this.supports('put-versioned')) {
      expectOk(await this.small.request({ method: 'PUT', path: '/bench-versioned' }), 'create bucket bench-versioned');
      const body = Buffer.from('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>');
      expectOk(await this.small.request({ method: 'PUT', path: '/bench-versioned', query: [['versioning', '']], body, payload: 'sha256' }), 'enable versioning');
      // Every key exists before the timed run, so each timed PUT keeps the version it replaces.
      await strictLoop(cfg.smallConcurrency, VERSIONED_KEYS, (i) => this.putSmall('bench-versioned', versionedKey(i), 3_000_000 + i));
    }
    await strictLoop(cfg.smallConcurrency, cfg.smallWarmup, (i) => this.putSmall('bench-small', warmKey(i), 1_000_000 + i));
    await strictLoop(cfg.smallConcurrency, cfg.smallWarmup, (i) => this.getSmall('bench-small', warmKey(i), 1_000_000 + i));
    if ((cfg.scenarios.has('put-encrypted') || cfg.scenarios.has('get-encrypted')) && this.supports('put-encrypted')) {
      // SSE-S3 by the bucket's default: each object gets its own data key, sealed under the master key.
      expectOk(await this.small.request({ method: 'PUT', path: '/bench-encrypted' }), 'create bucket bench-encrypted');
      const body = Buffer.from(
        '<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>',
      );
      expectOk(await this.small.request({ method: 'PUT', path: '/bench-encrypted', query: [['encryption', '']], body, payload: 'sha256' }), 'set default encryption');
      await strictLoop(cfg.smallConcurrency, cfg.smallWarmup, (i) => this.putSmall('bench-encrypted', warmKey(i), 1_000_000 + i));
      await strictLoop(cfg.smallConcurrency, cfg.smallWarmup, (i) => this.getSmall('bench-encrypted', warmKey(i), 1_000_000 + i));
    }
    this.warmedUp = true;
  }

  /**
   * A timed phase of GETs or HEADs of the small objects the PUTs (`putId`) of the same round wrote;
   * without a PUT phase (--scenarios get-small), of the warm-up objects.
   */
  private readSmallPhase(id: ScenarioId, round: number, read: (key: string, i: number) => Promise<void>, putId: ScenarioId = 'put-small'): Promise<ScenarioResult> {
    const put = this.cfg.scenarios.has(putId);
    const n = put ? this.cfg.smallOps : this.cfg.smallWarmup;
    return this.measure(id, () => closedLoop(this.cfg.smallConcurrency, n, (i) => (put ? read(smallKey(round, i), i) : read(warmKey(i), 1_000_000 + i))));
  }

  /** Runs one round of a scenario. GETs read what the PUTs of the same round wrote. */
  async phase(id: ScenarioId, round: number): Promise<ScenarioResult> {
    const cfg = this.cfg;
    if (!this.warmedUp) await this.setup();
    switch (id) {
      case 'put-small':
        return this.measure(id, () => closedLoop(cfg.smallConcurrency, cfg.smallOps, (i) => this.putSmall('bench-small', smallKey(round, i), i)));
      case 'put-versioned':
        return this.measure(id, () => closedLoop(cfg.smallConcurrency, cfg.smallOps, (i) => this.putSmall('bench-versioned', versionedKey(i), round * 10_000 + i)));
      case 'get-small':
        return this.readSmallPhase(id, round, (key, i) => this.getSmall('bench-small', key, i));
      case 'head-small':
        return this.readSmallPhase(id, round, (key, i) => this.headSmall('bench-small', key, i));
      case 'put-encrypted':
        return this.measure(id, () => closedLoop(cfg.smallConcurrency, cfg.smallOps, (i) => this.putSmall('bench-encrypted', smallKey(round, i), i)));
      case 'get-encrypted':
        return this.readSmallPhase(id, round, (key, i) => this.getSmall('bench-encrypted', key, i), 'put-encrypted');
      case 'list': {
        if (!this.listReady) {
          await strictLoop(cfg.smallConcurrency, cfg.listKeys, (i) => this.putSmall('bench-list', listKey(i), 2_000_000 + i));
          // Warm-up; s3rver fails some listings under this concurrency (EMFILE), which is its result.
          await closedLoop(cfg.smallConcurrency, 32, () => this.listOnce());
          this.listReady = true;
        }
        return this.measure(id, () => closedLoop(cfg.smallConcurrency, cfg.listOps, () => this.listOnce(), cfg.listMaxSeconds));
      }
      case 'put-large':
      case 'put-large-trailer':
      case 'put-large-signed':
        return this.measure(id, async () => {
          const r = await closedLoop(cfg.largeConcurrency, cfg.largeCount, async (n) => {
            // The trailer's objects go beside the ones get-large reads.
            const key = id === 'put-large' ? largeKey(round, n) : `${id === 'put-large-signed' ? 'signed' : 'trailer'}-${largeKey(round, n)}`;
            const res = expectOk(
              await this.large.request({
                method: 'PUT',
                path: `/bench-large/${key}`,
                body: { size: cfg.largeSize, chunks: () => this.contents.large(n, cfg.largeSize) },
                payload: id === 'put-large' ? 'unsigned' : id === 'put-large-signed' ? 'signed-trailer' : 'trailer',
              }),
              `PUT ${key}`,
            );
            const md5 = this.expectedMd5.get(n);
            if (md5) this.checkEtag(res, md5, `PUT ${key}`);
          });
          return { ...r, bytesPerOp: cfg.largeSize, keepLatencies: false };
        });
      case 'get-large': {
        if (!cfg.scenarios.has('put-large')) throw new Error('get-large needs put-large');
        const result = await this.measure(id, async () => {
          const r = await closedLoop(cfg.largeConcurrency, cfg.largeCount, async (n) => {
            const key = largeKey(round, n);
            const res = expectOk(await this.large.request({ method: 'GET', path: `/bench-large/${key}`, read: 'count' }), `GET ${key}`);
            this.check(res.bytes === cfg.largeSize, `GET ${key}: ${res.bytes} bytes, expected ${cfg.largeSize}`);
          });
          return { ...r, bytesPerOp: cfg.largeSize, keepLatencies: false };
        });
        // Content check of a sample, outside the timed run (hashing would load the client).
        if (!result.error) {
          for (const [n, md5] of this.expectedMd5) {
            const key = largeKey(round, n);
            const res = expectOk(await this.large.request({ method: 'GET', path: `/bench-large/${key}`, read: 'md5' }), `GET ${key}`);
            this.check(res.md5 === md5, `GET ${key}: content MD5 differs`);
          }
        }
        return result;
      }
    }
  }

  finish(): TargetResult {
    this.small.close();
    this.large.close();
    const end = this.sampler.sample();
    this.sampler.stop();
    const best: Partial<Record<ScenarioId, ScenarioResult>> = {};
    for (const [id, list] of Object.entries(this.rounds) as [ScenarioId, ScenarioResult[]][]) {
      const ok = list.filter((r) => !r.error);
      best[id] = ok.length === 0 ? list[0] : ok.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
    }
    return {
      target: this.target.name,
      scenarios: best,
      rounds: this.rounds,
      rssStartMiB: this.rssStart,
      rssMaxSampledMiB: this.sampler.maxRssMiB,
      rssPeakMiB: end?.hwmMiB ?? NaN,
      rssEndMiB: end?.rssMiB ?? NaN,
      checks: this.checks,
    };
  }
}
