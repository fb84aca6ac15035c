// The scenarios, run in order against one target. Every response is checked (status, ETag where
// the server computes one, body length and content) so a broken server cannot look fast.

import { S3Http, Signer, expectOk, type Response } from './client.js';
import { Contents, MiB, md5Hex } from './data.js';
import { readCpuSeconds, RssSampler } from './proc.js';
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
}

export const SCENARIOS = ['put-small', 'get-small', 'list', 'put-large', 'get-large'] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface ScenarioResult {
  id: ScenarioId;
  ops: number;
  seconds: number;
  opsPerSec: number;
  mibPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Server CPU (all threads) per operation, ms. */
  serverCpuMsPerOp: number;
  /** Server CPU utilisation during the run, in cores (2 = both cores busy). */
  serverCores: number;
  /** Bench client CPU per operation, ms (it shares the machine with the server). */
  clientCpuMsPerOp: number;
  error?: string;
}

export interface TargetResult {
  target: string;
  scenarios: Partial<Record<ScenarioId, ScenarioResult>>;
  rssStartMiB: number;
  rssMaxSampledMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  checks: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

/** Runs `count` operations with `concurrency` in flight; returns wall seconds and latencies (ms). */
async function closedLoop(concurrency: number, count: number, op: (i: number) => Promise<void>, maxSeconds = Infinity) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const worker = async () => {
    for (;;) {
      if (next >= count || performance.now() > deadline) return;
      const i = next++;
      const t0 = performance.now();
      await op(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { seconds: (performance.now() - started) / 1000, latencies };
}

export class ScenarioRunner {
  private readonly signer: Signer;
  private checks = 0;
  private readonly results: Partial<Record<ScenarioId, ScenarioResult>> = {};
  /** Whether the target computes ETags (MD5) and real listings: the ceiling does not. */
  private readonly realS3: boolean;

  constructor(
    private readonly target: RunningTarget,
    private readonly cfg: BenchConfig,
    private readonly contents: Contents,
    private readonly log: (msg: string) => void,
  ) {
    this.signer = new Signer(target.creds);
    this.realS3 = target.name !== 'ceiling';
  }

  private client(concurrency: number): S3Http {
    return new S3Http(this.target.url, this.signer, concurrency);
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

  /** Measures one timed phase: server CPU, client CPU, wall time. */
  private async measure(
    id: ScenarioId,
    run: () => Promise<{ seconds: number; latencies?: number[]; ops: number; bytes?: number }>,
  ): Promise<void> {
    const cpu0 = readCpuSeconds(this.target.pid);
    const client0 = process.cpuUsage();
    let result: ScenarioResult;
    try {
      const r = await run();
      const serverCpu = readCpuSeconds(this.target.pid) - cpu0;
      const c = process.cpuUsage(client0);
      const sorted = r.latencies ? [...r.latencies].sort((a, b) => a - b) : undefined;
      result = {
        id,
        ops: r.ops,
        seconds: r.seconds,
        opsPerSec: r.ops / r.seconds,
        mibPerSec: r.bytes !== undefined ? r.bytes / MiB / r.seconds : undefined,
        p50Ms: sorted ? percentile(sorted, 0.5) : undefined,
        p99Ms: sorted ? percentile(sorted, 0.99) : undefined,
        serverCpuMsPerOp: (serverCpu * 1000) / r.ops,
        serverCores: serverCpu / r.seconds,
        clientCpuMsPerOp: (c.user + c.system) / 1000 / r.ops,
      };
    } catch (err) {
      result = { id, ops: 0, seconds: 0, opsPerSec: NaN, serverCpuMsPerOp: NaN, serverCores: NaN, clientCpuMsPerOp: NaN, error: (err as Error).message };
      this.log(`  ${id}: ERROR ${(err as Error).message}`);
    }
    this.results[id] = result;
    if (!result.error) {
      const extra = result.mibPerSec !== undefined ? `${result.mibPerSec.toFixed(1)} MiB/s` : `${result.opsPerSec.toFixed(0)} ops/s p50 ${result.p50Ms?.toFixed(2)} ms p99 ${result.p99Ms?.toFixed(2)} ms`;
      this.log(`  ${id}: ${extra} (server ${result.serverCpuMsPerOp.toFixed(3)} ms CPU/op, ${result.serverCores.toFixed(2)} cores; client ${result.clientCpuMsPerOp.toFixed(3)} ms CPU/op)`);
    }
  }

  private async createBucket(c: S3Http, name: string): Promise<void> {
    expectOk(await c.request({ method: 'PUT', path: `/${name}` }), `create bucket ${name}`);
  }

  private async putSmall(c: S3Http, bucket: string, key: string, i: number): Promise<void> {
    const body = this.contents.small(i);
    const res = expectOk(await c.request({ method: 'PUT', path: `/${bucket}/${key}`, body, payload: 'sha256', crc32: true }), `PUT ${key}`);
    this.checkEtag(res, md5Hex(body), `PUT ${key}`);
  }

  private async getSmall(c: S3Http, bucket: string, key: string, i: number): Promise<void> {
    const res = expectOk(await c.request({ method: 'GET', path: `/${bucket}/${key}` }), `GET ${key}`);
    this.check(this.contents.isSmall(res.body, i), `GET ${key}: body differs (${res.bytes} bytes)`);
  }

  async run(): Promise<TargetResult> {
    const cfg = this.cfg;
    const sampler = new RssSampler(this.target.pid, 100).start();
    const rssStart = sampler.sample()?.rssMiB ?? NaN;
    const small = this.client(cfg.smallConcurrency);
    const large = this.client(cfg.largeConcurrency);
    const want = (id: ScenarioId) => cfg.scenarios.has(id);
    const smallKey = (i: number) => `obj/${String(i).padStart(6, '0')}`;
    const warmKey = (i: number) => `warm/${String(i).padStart(6, '0')}`;
    try {
      for (const b of ['bench-small', 'bench-list', 'bench-large']) await this.createBucket(small, b);

      // ---- 4 KiB objects ----
      if (want('put-small') || want('get-small')) {
        // Warm-up (JIT, connections, SQLite pages): not timed.
        await closedLoop(cfg.smallConcurrency, cfg.smallWarmup, (i) => this.putSmall(small, 'bench-small', warmKey(i), 1_000_000 + i));
        await this.measure('put-small', async () => {
          const r = await closedLoop(cfg.smallConcurrency, cfg.smallOps, (i) => this.putSmall(small, 'bench-small', smallKey(i), i));
          return { ...r, ops: cfg.smallOps };
        });
      }
      if (want('get-small')) {
        await closedLoop(cfg.smallConcurrency, cfg.smallWarmup, (i) => this.getSmall(small, 'bench-small', warmKey(i), 1_000_000 + i));
        await this.measure('get-small', async () => {
          const r = await closedLoop(cfg.smallConcurrency, cfg.smallOps, (i) => this.getSmall(small, 'bench-small', smallKey(i), i));
          return { ...r, ops: cfg.smallOps };
        });
      }

      // ---- ListObjectsV2 of a bucket holding exactly listKeys keys ----
      if (want('list')) {
        const listKey = (i: number) => `key-${String(i).padStart(5, '0')}`;
        await closedLoop(cfg.smallConcurrency, cfg.listKeys, (i) => this.putSmall(small, 'bench-list', listKey(i), 2_000_000 + i));
        const listOnce = async () => {
          const res = expectOk(
            await small.request({ method: 'GET', path: '/bench-list', query: [['list-type', '2'], ['max-keys', '1000']] }),
            'ListObjectsV2',
          );
          const xml = res.body!.toString('utf8');
          if (!this.realS3) {
            this.check(xml.includes('<ListBucketResult'), 'list: not a ListBucketResult');
            return;
          }
          const keys = xml.match(/<Key>/g)?.length ?? 0;
          this.check(keys === cfg.listKeys, `list: ${keys} keys, expected ${cfg.listKeys}`);
          this.check(xml.includes(`<Key>${listKey(0)}</Key>`) && xml.includes(`<Key>${listKey(cfg.listKeys - 1)}</Key>`), 'list: first/last key missing');
          this.check(/<IsTruncated>false<\/IsTruncated>/.test(xml), 'list: truncated');
        };
        await closedLoop(cfg.smallConcurrency, Math.max(16, Math.ceil(cfg.listOps / 10)), () => listOnce());
        await this.measure('list', async () => {
          const r = await closedLoop(cfg.smallConcurrency, cfg.listOps, () => listOnce(), cfg.listMaxSeconds);
          return { ...r, ops: r.latencies.length };
        });
      }

      // ---- 64 MiB objects ----
      const largeKey = (n: number) => `big/${n}`;
      const samples = [0, cfg.largeCount - 1];
      const expectedMd5 = new Map<number, string>();
      if (want('put-large') || want('get-large')) {
        for (const n of samples) expectedMd5.set(n, this.contents.largeMd5(n, cfg.largeSize));
        await this.measure('put-large', async () => {
          const r = await closedLoop(cfg.largeConcurrency, cfg.largeCount, async (n) => {
            const res = expectOk(
              await large.request({
                method: 'PUT',
                path: `/bench-large/${largeKey(n)}`,
                body: { size: cfg.largeSize, chunks: () => this.contents.large(n, cfg.largeSize) },
                payload: 'unsigned',
              }),
              `PUT ${largeKey(n)}`,
            );
            const md5 = expectedMd5.get(n);
            if (md5) this.checkEtag(res, md5, `PUT ${largeKey(n)}`);
          });
          return { ...r, ops: cfg.largeCount, bytes: cfg.largeCount * cfg.largeSize };
        });
      }
      if (want('get-large')) {
        await this.measure('get-large', async () => {
          const r = await closedLoop(cfg.largeConcurrency, cfg.largeCount, async (n) => {
            const res = expectOk(await large.request({ method: 'GET', path: `/bench-large/${largeKey(n)}`, read: 'count' }), `GET ${largeKey(n)}`);
            this.check(res.bytes === cfg.largeSize, `GET ${largeKey(n)}: ${res.bytes} bytes, expected ${cfg.largeSize}`);
          });
          return { ...r, ops: cfg.largeCount, bytes: cfg.largeCount * cfg.largeSize };
        });
        // Content check of a sample, outside the timed run (hashing would load the client).
        for (const n of samples) {
          const res = expectOk(await large.request({ method: 'GET', path: `/bench-large/${largeKey(n)}`, read: 'md5' }), `GET ${largeKey(n)}`);
          this.check(res.md5 === expectedMd5.get(n), `GET ${largeKey(n)}: content MD5 differs`);
        }
      }
    } finally {
      small.close();
      large.close();
    }
    const end = sampler.sample();
    sampler.stop();
    return {
      target: this.target.name,
      scenarios: this.results,
      rssStartMiB: rssStart,
      rssMaxSampledMiB: sampler.maxRssMiB,
      rssPeakMiB: end?.hwmMiB ?? NaN,
      rssEndMiB: end?.rssMiB ?? NaN,
      checks: this.checks,
    };
  }
}
