// --scale: how skep's costs grow with what it holds. Never in CI (a 10^7-object run fills ~4 GB
// and takes minutes). For each object count N, a fresh data folder:
//   1. skep creates the bucket and writes one real 4 KiB object (the template row and its blob);
//   2. skep stops, and N rows are inserted straight into its SQLite file, 200,000 per transaction
//      (in key order; all point at the template's blob), with the bucket's storage counters set
//      to match: PUTs over HTTP would take hours at 10^7;
//   3. skep starts again on the folder (the start-up time is measured), and serves: ListObjectsV2
//      pages of 1000 keys at random places, pages of 1000 common prefixes (delimiter=/; the keys
//      are d<prefix>/k<n> under `--scale-prefixes` prefixes), PUTs of new 4 KiB objects and GETs
//      of the populated keys, each with the server's CPU per operation (from /proc).
// With --scale-metadata postgres, the same object rows again with skep's metadata on PostgreSQL
// (a fresh database per count, filled by one INSERT ... SELECT per million keys, then VACUUM
// ANALYZE as autovacuum would) and its blobs in the data folder.
// Then, on one more fresh server: 10^4 buckets in the project (CreateBucket over HTTP, then
// ListBuckets and a GET through a bucket among them), 10^4 tokens (rows like the root token's,
// inserted directly: the credential lookup's cost per GET before and after), and 1000 concurrent
// connections each sending GETs.

import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { insertObjectsLike } from '../src/storage/metadata/sqlite-bulk-objects.js';
import { sqliteDriver } from '../src/storage/metadata/sqlite-driver.js';
import { S3Http, Signer, expectOk } from './client.js';
import type { Contents } from './data.js';
import { readCpuSecondsOf, readMemory, readTreeCpuSeconds, RssSampler } from './proc.js';
import { closedLoop, monotonicMicros } from './scenarios.js';
import { BENCH_MASTER_KEY, SKEP_KEY, startTarget, type RunningTarget, type StartOptions } from './targets.js';
import { temporaryFolder } from './interrupt.js';
import type { ProfileScope } from './profile.js';

export interface ScaleOptions {
  /** Object counts, one fresh data folder each. */
  objects: number[];
  /** Common prefixes the keys are spread over (delimiter=/ pages). */
  prefixes: number;
  buckets: number;
  tokens: number;
  connections: number;
  /** Run the object rows with the metadata in SQLite (the embedded default; default true). */
  sqlite?: boolean;
  /** A PostgreSQL server: the object rows run (again) with the metadata there. */
  postgres?: { serverUrl: string; postmasterPid: number };
}

export interface ScaleRow {
  label: string;
  value: string;
  /** Server CPU per operation (ms), when the row measures operations. */
  cpuMsPerOp?: number;
  /** For --profile: when the row's operations ran. */
  scope?: ProfileScope;
}

export interface ScaleResult {
  rows: ScaleRow[];
  errors: string[];
  /** The servers' CPU profile folders (--profile), by label. */
  profiles: Array<{ dir: string; scopes: ProfileScope[] }>;
}

const CONCURRENCY = 16;
const BUCKET = 'scale';
const keyOf = (i: number, perPrefix: number) => `d${String(Math.floor(i / perPrefix)).padStart(7, '0')}/k${String(i % perPrefix).padStart(6, '0')}`;

/** Server CPU per operation of `count` operations run `concurrency` at a time; fails on any error. */
async function measured(target: RunningTarget, count: number, concurrency: number, op: (i: number) => Promise<void>, databaseCpu: () => number = () => 0) {
  const db0 = databaseCpu();
  const cpu0 = readCpuSecondsOf(target.pids) + db0;
  const start = monotonicMicros();
  const r = await closedLoop(concurrency, count, op);
  const window: [number, number] = [start, monotonicMicros()];
  if (r.failures > 0) throw new Error(`${r.failures} of ${count} failed; first: ${r.firstError}`);
  const db1 = databaseCpu();
  const cpuMs = ((readCpuSecondsOf(target.pids) + db1 - cpu0) * 1000) / count;
  const databaseCpuMs = ((db1 - db0) * 1000) / count;
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return { cpuMs, databaseCpuMs, opsPerSec: count / r.seconds, p50: sorted[Math.floor(sorted.length / 2)], p99: sorted[Math.floor(sorted.length * 0.99)], window, ops: count };
}

async function folderBytes(dir: string, match: (name: string) => boolean): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) if (match(name)) total += (await stat(join(dir, name))).size;
  return total;
}

/** Fills the bucket to `n` objects by copying the template row's columns under new keys. */
function populate(dbFile: string, n: number, perPrefix: number, log: (m: string) => void): number {
  const db = new (sqliteDriver())(dbFile);
  let bucket: string;
  try {
    bucket = db.prepare(`select id from buckets where name = ?`).pluck().get(BUCKET) as string;
    const size = db.prepare(`select size from objects where bucket_id = ? limit 1`).pluck().get(bucket) as number;
    db.prepare(`update storage_counters set objects = ?, bytes = ? where bucket_id = ?`).run(n, n * size, bucket);
  } finally {
    db.close();
  }
  const started = performance.now();
  const batch = 200_000;
  insertObjectsLike(dbFile, bucket, n, (i) => ({ key: keyOf(i, perPrefix) }), {
    replace: true,
    rowsPerTransaction: batch,
    progress: (rows) => {
      if (n > batch) log(`  ${rows.toLocaleString('en-US')} rows`);
    },
  });
  return (performance.now() - started) / 1000;
}

/** Where a scale run keeps skep's metadata. */
type Metadata = { kind: 'sqlite' } | { kind: 'postgres'; serverUrl: string; postmasterPid: number };

/** One run's metadata store, as the bench fills and measures it while skep is stopped. */
interface MetadataFiller {
  /** What the rows are inserted into, for the report. */
  name: string;
  /** skep's environment for this store. */
  env: Record<string, string>;
  /** The store's size on disk (bytes). */
  bytes(): Promise<number>;
  /** The database server whose processes do the store's work beside skep's, if any. */
  database?: { name: string; cpuSeconds(): number };
  /** Fills the bucket to the run's count; resolves with the seconds it took. */
  populate(perPrefix: number, log: (m: string) => void): Promise<number>;
  dispose(): Promise<void>;
}

async function metadataFiller(metadata: Metadata, dataDir: string, n: number): Promise<MetadataFiller> {
  if (metadata.kind === 'sqlite') {
    const file = join(dataDir, 'metadata.sqlite');
    return {
      name: 'metadata.sqlite',
      env: {},
      bytes: () => folderBytes(dataDir, (f) => f.startsWith('metadata.sqlite')),
      populate: async (perPrefix, log) => populate(file, n, perPrefix, log),
      dispose: async () => undefined,
    };
  }
  // A database of its own, dropped afterwards; skep on it needs the shared master key.
  const name = `bench_scale_${n}_${process.pid}`;
  const url = new URL(metadata.serverUrl);
  url.pathname = `/${name}`;
  await queryOnce(metadata.serverUrl, `create database "${name}"`);
  return {
    name: 'PostgreSQL',
    env: { SKEP_METADATA_URL: url.toString(), SKEP_MASTER_KEY: BENCH_MASTER_KEY },
    bytes: async () => Number((await queryOnce<{ size: string }>(url.toString(), 'select pg_database_size(current_database()) as size'))[0].size),
    database: { name: 'PostgreSQL', cpuSeconds: () => readTreeCpuSeconds(metadata.postmasterPid) },
    populate: (perPrefix, log) => populatePostgres(url.toString(), n, perPrefix, log),
    dispose: async () => void (await queryOnce(metadata.serverUrl, `drop database if exists "${name}" with (force)`)),
  };
}

/** One statement on a connection of its own (made and closed here); resolves with its rows. */
async function queryOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end();
  }
}

/**
 * PostgreSQL's counterpart of populate(): the template row copied under the run's keys by
 * INSERT ... SELECT over an array of keyOf's keys, a million rows per statement, then VACUUM
 * ANALYZE (what autovacuum would do to a table this size), so plans and index-only scans are
 * those of a settled table.
 */
async function populatePostgres(url: string, n: number, perPrefix: number, log: (m: string) => void): Promise<number> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const bucket = (await db.query<{ id: string }>('select id from buckets where name = $1', [BUCKET])).rows[0].id;
    const started = performance.now();
    await db.query(`create temporary table template as select * from objects where bucket_id = ${db.escapeLiteral(bucket)} limit 1`);
    const columns = (await db.query('select * from template limit 0')).fields.map((f) => f.name);
    await db.query('delete from objects where bucket_id = $1', [bucket]);
    // The keys come from keyOf, as a text array: one definition of the key layout for both stores.
    const insert = `insert into objects (${columns.map((c) => `"${c}"`).join(', ')})
      select ${columns.map((c) => (c === 'key' ? 'k.key' : `t."${c}"`)).join(', ')}
      from template t, unnest($1::text[]) as k(key)`;
    const batch = 1_000_000;
    for (let from = 0; from < n; from += batch) {
      const to = Math.min(n, from + batch);
      await db.query(insert, [Array.from({ length: to - from }, (_, j) => keyOf(from + j, perPrefix))]);
      if (n > batch) log(`  ${to.toLocaleString('en-US')} rows`);
    }
    await db.query('update storage_counters set objects = $1, bytes = $1 * (select size from template) where bucket_id = $2', [n, bucket]);
    await db.query('vacuum analyze objects');
    return (performance.now() - started) / 1000;
  } finally {
    await db.end();
  }
}

/** Rows like the root token's (new ids and access keys): what a credential lookup searches. */
function addTokens(dbFile: string, count: number): void {
  const db = new (sqliteDriver())(dbFile);
  try {
    const root = db.prepare(`select * from tokens where access_key_id = ?`).get(SKEP_KEY.accessKeyId) as Record<string, unknown>;
    const columns = Object.keys(root);
    const insert = db.prepare(`insert into tokens (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`);
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const row: Record<string, unknown> = { ...root, id: `scale-token-${i}`, name: `scale ${i}`, access_key_id: `SKSCALE${String(i).padStart(13, '0')}`, bearer_prefix: `scale${i}` };
        insert.run(columns.map((c) => row[c]));
      }
    })();
  } finally {
    db.close();
  }
}

/** Seconds from spawning skep to its "listening" line. */
async function timedStart(startOpts: StartOptions, dataDir: string): Promise<{ target: RunningTarget; seconds: number }> {
  const t0 = performance.now();
  const target = await startTarget('skep', { ...startOpts, dataDir });
  return { target, seconds: (performance.now() - t0) / 1000 };
}

function fmtOps(m: { cpuMs: number; databaseCpuMs: number; opsPerSec: number; p50: number; p99: number }, database?: string): string {
  const latency = `${m.opsPerSec.toFixed(0)} ops/s, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms`;
  if (!database) return `${latency}, server ${m.cpuMs.toFixed(2)} ms CPU/op`;
  return `${latency}, skep + ${database} ${m.cpuMs.toFixed(2)} ms CPU/op (${database} ${m.databaseCpuMs.toFixed(2)})`;
}

export async function runScale(opts: ScaleOptions, contents: Contents, log: (m: string) => void, startOpts: StartOptions): Promise<ScaleResult> {
  const result: ScaleResult = { rows: [], errors: [], profiles: [] };
  const row = (label: string, value: string, m?: { cpuMs: number; window: [number, number]; ops: number }, scopes?: ProfileScope[]) => {
    const scope = m ? { label, windows: [m.window], ops: m.ops } : undefined;
    if (scope) scopes?.push(scope);
    result.rows.push({ label, value, cpuMsPerOp: m?.cpuMs, scope });
    log(`  ${label}: ${value}`);
  };
  const body = contents.small(0);
  const objectRows = async (n: number, metadata: Metadata) => {
    const perPrefix = Math.max(1, Math.ceil(n / opts.prefixes));
    const prefixes = Math.ceil(n / perPrefix);
    const folder = await temporaryFolder('skep-bench-scale-');
    const dataDir = folder.path;
    const profDir = startOpts.cpuProfDir ? join(startOpts.cpuProfDir, `scale-${metadata.kind}-${n}`) : undefined;
    const scopes: ProfileScope[] = [];
    const where = metadata.kind === 'postgres' ? ' on PostgreSQL' : '';
    const objects = `${n} objects${where}`;
    let target: RunningTarget | undefined;
    let store: MetadataFiller | undefined;
    try {
      log(`\n== scale: ${n.toLocaleString('en-US')} objects${where} in one bucket (${prefixes.toLocaleString('en-US')} prefixes of ${perPrefix})`);
      store = await metadataFiller(metadata, dataDir, n);
      const serveOpts: StartOptions = { ...startOpts, env: { ...startOpts.env, ...store.env } };
      target = await startTarget('skep', { ...serveOpts, cpuProfDir: undefined, dataDir });
      let client = new S3Http(target.url, new Signer(target.creds), CONCURRENCY);
      expectOk(await client.request({ method: 'PUT', path: `/${BUCKET}` }), 'create bucket');
      expectOk(await client.request({ method: 'PUT', path: `/${BUCKET}/template`, body, payload: 'sha256', crc32: true }), 'PUT template');
      client.close();
      await target.stop();
      target = undefined;
      const emptyBytes = await store.bytes();
      const seconds = await store.populate(perPrefix, log);
      const fullBytes = await store.bytes();
      row(`${objects}: populated`, `${n.toLocaleString('en-US')} rows inserted directly into ${store.name} in key order in ${seconds.toFixed(1)} s`);
      row(`${objects}: metadata on disk`, `${((fullBytes - emptyBytes) / n).toFixed(0)} bytes per object (${(fullBytes / 2 ** 20).toFixed(0)} MiB in all)`);
      const started = await timedStart({ ...serveOpts, cpuProfDir: profDir }, dataDir);
      target = started.target;
      const database = store.database;
      const measure = (count: number, concurrency: number, op: (i: number) => Promise<void>) => measured(started.target, count, concurrency, op, database?.cpuSeconds);
      const fmt = (m: Parameters<typeof fmtOps>[0]) => fmtOps(m, database?.name);
      row(`${objects}: start-up`, `${started.seconds.toFixed(2)} s from spawn to listening; RSS ${readMemory(target.pid)?.rssMiB.toFixed(0)} MiB`);
      client = new S3Http(target.url, new Signer(target.creds), CONCURRENCY);
      const sampler = new RssSampler(target.pid, 100).start();
      const random = (i: number) => Math.floor(((i * 2654435761) % 4294967296) / 4294967296 * n);
      // Warm-up (JIT, SQLite's page cache for the pages touched first).
      await closedLoop(CONCURRENCY, 32, async (i) => {
        expectOk(await client.request({ method: 'GET', path: `/${BUCKET}`, query: [['list-type', '2'], ['start-after', keyOf(random(i), perPrefix)]] }), 'list');
      });
      const listOps = Math.min(300, Math.max(50, Math.floor(n / 1000)));
      const list = await measure(listOps, CONCURRENCY, async (i) => {
        const start = random(i + 1) % Math.max(1, n - 1000);
        const res = expectOk(await client.request({ method: 'GET', path: `/${BUCKET}`, query: [['list-type', '2'], ['start-after', keyOf(start, perPrefix)]] }), 'list');
        const keys = res.body!.toString('utf8').match(/<Key>/g)?.length ?? 0;
        if (keys !== Math.min(1000, n - start - 1)) throw new Error(`list after ${start}: ${keys} keys`);
      });
      row(`${objects}: ListObjectsV2, 1000-key pages at random places`, fmt(list), list, scopes);
      if (prefixes > 1) {
        const cpOps = Math.min(100, Math.max(20, Math.floor(prefixes / 1000)));
        const commonPrefixPage = async (i: number) => {
          const p = random(i + 7) % Math.max(1, prefixes - 1000);
          const res = expectOk(
            await client.request({ method: 'GET', path: `/${BUCKET}`, query: [['list-type', '2'], ['delimiter', '/'], ['start-after', `d${String(p).padStart(7, '0')}/`]] }),
            'list with delimiter',
          );
          const got = res.body!.toString('utf8').match(/<Prefix>d/g)?.length ?? 0;
          if (got !== Math.min(1000, prefixes - p - 1)) throw new Error(`delimiter page after prefix ${p}: ${got} prefixes`);
        };
        const cp = await measure(cpOps, CONCURRENCY, commonPrefixPage);
        row(`${objects}: ListObjectsV2 delimiter=/, pages of 1000 common prefixes`, fmt(cp), cp, scopes);
        // The same pages again: what they cost once their index leaves are in skep's page cache
        // (they are, while the pages' leaves fit in it; at 10^7 objects they do not).
        const again = await measure(cpOps, CONCURRENCY, commonPrefixPage);
        row(`${objects}: ListObjectsV2 delimiter=/, the same pages again`, fmt(again), again, scopes);
      }
      const put = await measure(2000, CONCURRENCY, async (i) => {
        expectOk(await client.request({ method: 'PUT', path: `/${BUCKET}/new/${i}`, body, payload: 'sha256', crc32: true }), 'PUT');
      });
      row(`${objects}: PUT 4 KiB`, fmt(put), put, scopes);
      const get = await measure(2000, CONCURRENCY, async (i) => {
        const res = expectOk(await client.request({ method: 'GET', path: `/${BUCKET}/${keyOf(random(i + 3), perPrefix)}` }), 'GET');
        if (res.body!.length !== body.length) throw new Error(`GET: ${res.body!.length} bytes`);
      });
      row(`${objects}: GET 4 KiB of populated keys`, fmt(get), get, scopes);
      sampler.stop();
      row(`${objects}: server RSS`, `peak ${sampler.maxRssMiB.toFixed(0)} MiB while serving`);
      client.close();
    } catch (err) {
      result.errors.push(`scale ${objects}: ${(err as Error).message}`);
      log(`  FAILED: ${(err as Error).message}\n${target?.stderr().slice(-1500) ?? ''}`);
    } finally {
      await target?.stop();
      await store?.dispose();
      await folder.remove();
    }
    if (profDir) result.profiles.push({ dir: profDir, scopes });
  };
  if (opts.sqlite ?? true) {
    for (const n of opts.objects) await objectRows(n, { kind: 'sqlite' });
  }
  if (opts.postgres) {
    for (const n of opts.objects) await objectRows(n, { kind: 'postgres', ...opts.postgres });
  }
  await manyThings(opts, contents, log, startOpts, result, row);
  return result;
}

/** Buckets, tokens and connections, on one more fresh server. */
async function manyThings(
  opts: ScaleOptions,
  contents: Contents,
  log: (m: string) => void,
  startOpts: StartOptions,
  result: ScaleResult,
  row: (label: string, value: string, m?: { cpuMs: number; window: [number, number]; ops: number }, scopes?: ProfileScope[]) => void,
): Promise<void> {
  const folder = await temporaryFolder('skep-bench-scale-');
  const dataDir = folder.path;
  const profDir = startOpts.cpuProfDir ? join(startOpts.cpuProfDir, 'scale-many') : undefined;
  const scopes: ProfileScope[] = [];
  let target: RunningTarget | undefined;
  const body = contents.small(1);
  try {
    log(`\n== scale: ${opts.buckets.toLocaleString('en-US')} buckets, ${opts.tokens.toLocaleString('en-US')} tokens, ${opts.connections} connections`);
    target = await startTarget('skep', { ...startOpts, cpuProfDir: undefined, dataDir });
    let client = new S3Http(target.url, new Signer(target.creds), CONCURRENCY);
    expectOk(await client.request({ method: 'PUT', path: '/probe' }), 'create bucket');
    expectOk(await client.request({ method: 'PUT', path: '/probe/k', body, payload: 'sha256', crc32: true }), 'PUT');
    const getProbe = async () => {
      const res = expectOk(await client.request({ method: 'GET', path: '/probe/k' }), 'GET');
      if (res.body!.length !== body.length) throw new Error('GET: wrong length');
    };
    await closedLoop(CONCURRENCY, 500, getProbe);
    const before = await measured(target, 3000, CONCURRENCY, getProbe);
    row(`GET 4 KiB, 1 bucket and 1 token`, fmtOps(before), before, scopes);
    const created = await measured(target, opts.buckets - 1, CONCURRENCY, async (i) => {
      expectOk(await client.request({ method: 'PUT', path: `/scale-bucket-${String(i).padStart(6, '0')}` }), 'create bucket');
    });
    row(`CreateBucket up to ${opts.buckets} buckets`, fmtOps(created), created, scopes);
    const listBuckets = await measured(target, 50, 4, async () => {
      const res = expectOk(await client.request({ method: 'GET', path: '/' }), 'ListBuckets');
      const n = res.body!.toString('utf8').match(/<Bucket>/g)?.length ?? 0;
      if (n !== opts.buckets) throw new Error(`ListBuckets: ${n} buckets`);
    });
    row(`ListBuckets of ${opts.buckets} buckets`, fmtOps(listBuckets), listBuckets, scopes);
    const manyBuckets = await measured(target, 3000, CONCURRENCY, getProbe);
    row(`GET 4 KiB, ${opts.buckets} buckets`, fmtOps(manyBuckets), manyBuckets, scopes);
    client.close();
    await target.stop();
    target = undefined;
    addTokens(join(dataDir, 'metadata.sqlite'), opts.tokens);
    target = await startTarget('skep', { ...startOpts, cpuProfDir: profDir, dataDir });
    client = new S3Http(target.url, new Signer(target.creds), CONCURRENCY);
    await closedLoop(CONCURRENCY, 500, getProbe);
    const manyTokens = await measured(target, 3000, CONCURRENCY, getProbe);
    row(`GET 4 KiB, ${opts.buckets} buckets and ${opts.tokens + 1} tokens (credential lookup)`, fmtOps(manyTokens), manyTokens, scopes);
    client.close();
    // Many connections: each of `connections` keep-alive sockets sends GETs, all in flight at once.
    const wide = new S3Http(target.url, new Signer(target.creds), opts.connections);
    const sampler = new RssSampler(target.pid, 100).start();
    const rounds = 3;
    const conns = await measured(target, opts.connections * rounds, opts.connections, async () => {
      const res = expectOk(await wide.request({ method: 'GET', path: '/probe/k' }), 'GET');
      if (res.body!.length !== body.length) throw new Error('GET: wrong length');
    });
    sampler.stop();
    row(`GET 4 KiB over ${opts.connections} concurrent connections`, `${fmtOps(conns)}; server RSS peak ${sampler.maxRssMiB.toFixed(0)} MiB`, conns, scopes);
    wide.close();
  } catch (err) {
    result.errors.push(`scale (buckets, tokens, connections): ${(err as Error).message}`);
    log(`  FAILED: ${(err as Error).message}\n${target?.stderr().slice(-1500) ?? ''}`);
  } finally {
    await target?.stop();
    await folder.remove();
  }
  if (profDir) result.profiles.push({ dir: profDir, scopes });
}

export function renderScale(r: ScaleResult): string {
  const width = Math.max(...r.rows.map((x) => x.label.length));
  return ['scale rows (--scale)', ...r.rows.map((x) => `  ${x.label.padEnd(width)}  ${x.value}`)].join('\n');
}

