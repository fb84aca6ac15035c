// --large: very large uploads into a fresh skep, streamed from generators, with skep's RSS sampled
// every 50 ms. Two runs on one server, each with its own RSS window:
//   - one single PUT of 5 GiB (S3's single-PUT limit, UNSIGNED-PAYLOAD);
//   - one multipart upload of 10 GiB (64 MiB parts, 4 in flight), completed.
// Each object is checked (ETag against the MD5 of what was sent, or the MD5 of the part MD5s
// followed by -N) and read back whole (length). The goal for both: peak RSS under 300 MiB; a run
// over it fails the bench.

import { createHash } from 'node:crypto';
import { S3Http, Signer, expectOk } from './client.js';
import { Contents, GiB, MiB } from './data.js';
import { readMemory, RssSampler } from './proc.js';
import { startTarget, type StartOptions } from './targets.js';

export const RSS_GOAL_MIB = 300;
const PART_SIZE = 64 * MiB;
const PART_CONCURRENCY = 4;

export interface LargeRun {
  what: string;
  sizeBytes: number;
  putMiBPerSec?: number;
  getMiBPerSec?: number;
  /** Highest RSS sampled while this run uploaded and read back. */
  rssPeakMiB?: number;
  error?: string;
}

export interface LargeResult {
  rssStartMiB?: number;
  runs: LargeRun[];
  /** Failures: a run that broke, or one whose peak RSS was at or over the goal. */
  errors: string[];
  summary: string;
}

export interface LargeSizes {
  singleBytes: number;
  multipartBytes: number;
}

export async function runLarge(sizes: LargeSizes, contents: Contents, log: (m: string) => void, opts: StartOptions): Promise<LargeResult> {
  const target = await startTarget('skep', opts);
  const client = new S3Http(target.url, new Signer(target.creds), PART_CONCURRENCY);
  const result: LargeResult = { runs: [], errors: [], summary: '' };
  try {
    result.rssStartMiB = readMemory(target.pid)?.rssMiB;
    expectOk(await client.request({ method: 'PUT', path: '/bench-huge' }), 'create bucket');
    const runs: Array<[string, number, (r: LargeRun) => Promise<void>]> = [
      [`single PUT of ${gib(sizes.singleBytes)} GiB`, sizes.singleBytes, (r) => singlePut(client, contents, r)],
      [`multipart upload of ${gib(sizes.multipartBytes)} GiB (${PART_SIZE / MiB} MiB parts, ${PART_CONCURRENCY} in flight)`, sizes.multipartBytes, (r) => multipartPut(client, contents, r)],
    ];
    for (const [what, size, body] of runs) {
      if (size <= 0) continue;
      log(`\n== skep, ${what}`);
      const run: LargeRun = { what, sizeBytes: size };
      result.runs.push(run);
      const sampler = new RssSampler(target.pid, 50).start();
      try {
        await body(run);
        const t0 = performance.now();
        const get = expectOk(await client.request({ method: 'GET', path: `/bench-huge/${key(run)}`, read: 'count' }), 'GET');
        if (get.bytes !== size) throw new Error(`GET returned ${get.bytes} bytes, expected ${size}`);
        run.getMiBPerSec = size / MiB / ((performance.now() - t0) / 1000);
      } catch (err) {
        run.error = (err as Error).message;
        log(`  FAILED: ${run.error}\n  server stderr: ${target.stderr().slice(-1500)}`);
      } finally {
        sampler.stop();
        run.rssPeakMiB = sampler.maxRssMiB;
      }
      log(`  ${describe(run)}`);
      if (run.error) result.errors.push(`${what}: ${run.error}`);
      else if (run.rssPeakMiB >= RSS_GOAL_MIB) result.errors.push(`${what}: peak RSS ${run.rssPeakMiB.toFixed(0)} MiB, goal < ${RSS_GOAL_MIB}`);
    }
  } catch (err) {
    result.errors.push((err as Error).message);
  } finally {
    client.close();
    await target.stop();
  }
  result.summary = [`skep large objects (server RSS at start ${result.rssStartMiB?.toFixed(0)} MiB, goal: peak < ${RSS_GOAL_MIB} MiB):`]
    .concat(result.runs.map((r) => `  ${r.what}: ${describe(r)}`))
    .join('\n');
  return result;
}

function gib(bytes: number): string {
  return (bytes / GiB).toFixed(bytes % GiB === 0 ? 0 : 2);
}

function key(run: LargeRun): string {
  return run.what.startsWith('single') ? 'single' : 'multipart';
}

function describe(r: LargeRun): string {
  if (r.error) return `FAILED: ${r.error}`;
  const met = r.rssPeakMiB !== undefined && r.rssPeakMiB < RSS_GOAL_MIB ? 'met' : 'NOT met';
  return `PUT ${r.putMiBPerSec?.toFixed(0)} MiB/s, GET back ${r.getMiBPerSec?.toFixed(0)} MiB/s (length ok), peak RSS ${r.rssPeakMiB?.toFixed(0)} MiB (${met})`;
}

async function singlePut(client: S3Http, contents: Contents, run: LargeRun): Promise<void> {
  const md5 = createHash('md5');
  const t0 = performance.now();
  const put = expectOk(
    await client.request({
      method: 'PUT',
      path: '/bench-huge/single',
      body: { size: run.sizeBytes, chunks: () => contents.large(7, run.sizeBytes, (c) => md5.update(c)) },
      payload: 'unsigned',
    }),
    'PUT',
  );
  run.putMiBPerSec = run.sizeBytes / MiB / ((performance.now() - t0) / 1000);
  const want = md5.digest('hex');
  const etag = String(put.headers.etag ?? '').replace(/"/g, '');
  if (etag !== want) throw new Error(`ETag ${etag} != MD5 of the body ${want}`);
}

async function multipartPut(client: S3Http, contents: Contents, run: LargeRun): Promise<void> {
  const path = '/bench-huge/multipart';
  const t0 = performance.now();
  const created = expectOk(await client.request({ method: 'POST', path, query: [['uploads', '']] }), 'CreateMultipartUpload');
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body?.toString('utf8') ?? '')?.[1];
  if (!uploadId) throw new Error('CreateMultipartUpload returned no UploadId');
  const partCount = Math.ceil(run.sizeBytes / PART_SIZE);
  const etags: string[] = new Array(partCount);
  const md5s: Buffer[] = new Array(partCount);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < partCount; i = next++) {
      const size = Math.min(PART_SIZE, run.sizeBytes - i * PART_SIZE);
      const md5 = createHash('md5');
      const res = expectOk(
        await client.request({
          method: 'PUT',
          path,
          query: [['partNumber', String(i + 1)], ['uploadId', uploadId]],
          body: { size, chunks: () => contents.large(1000 + i, size, (c) => md5.update(c)) },
          payload: 'unsigned',
        }),
        `UploadPart ${i + 1}`,
      );
      md5s[i] = md5.digest();
      etags[i] = String(res.headers.etag ?? '');
      if (etags[i].replace(/"/g, '') !== md5s[i].toString('hex')) throw new Error(`part ${i + 1}: ETag ${etags[i]} != MD5 of the part`);
    }
  };
  await Promise.all(Array.from({ length: PART_CONCURRENCY }, worker));
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = expectOk(await client.request({ method: 'POST', path, query: [['uploadId', uploadId]], body: Buffer.from(xml) }), 'CompleteMultipartUpload');
  run.putMiBPerSec = run.sizeBytes / MiB / ((performance.now() - t0) / 1000);
  const want = `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${partCount}`;
  const etag = /<ETag>([^<]+)<\/ETag>/.exec(done.body?.toString('utf8') ?? '')?.[1]?.replace(/&quot;|"/g, '');
  if (etag !== want) throw new Error(`multipart ETag ${etag} != ${want}`);
}
