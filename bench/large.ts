// --large: one very large single PUT (5 GiB, S3's single-PUT limit) into a fresh skep, streamed
// from a generator, with skep's RSS sampled every 50 ms. The goal: peak RSS under 300 MiB.
// The object is then checked (ETag = MD5 of what was sent) and read back (length).

import { createHash } from 'node:crypto';
import { S3Http, Signer, expectOk } from './client.js';
import { Contents, GiB, MiB } from './data.js';
import { readMemory, RssSampler } from './proc.js';
import { startTarget, type StartOptions } from './targets.js';

export interface LargeResult {
  sizeBytes: number;
  putMiBPerSec?: number;
  getMiBPerSec?: number;
  rssStartMiB?: number;
  rssPeakAfterPutMiB?: number;
  rssPeakAfterGetMiB?: number;
  error?: string;
  summary: string;
}

export async function runLarge(size: number, contents: Contents, log: (m: string) => void, opts: StartOptions): Promise<LargeResult> {
  log(`\n== skep, one ${(size / GiB).toFixed(2)} GiB PUT`);
  const target = await startTarget('skep', opts);
  const sampler = new RssSampler(target.pid, 50).start();
  const result: LargeResult = { sizeBytes: size, summary: '' };
  const client = new S3Http(target.url, new Signer(target.creds), 1);
  try {
    result.rssStartMiB = readMemory(target.pid)?.rssMiB;
    expectOk(await client.request({ method: 'PUT', path: '/bench-huge' }), 'create bucket');
    const md5 = createHash('md5');
    let t0 = performance.now();
    const put = expectOk(
      await client.request({
        method: 'PUT',
        path: '/bench-huge/huge',
        body: { size, chunks: () => contents.large(7, size, (c) => md5.update(c)) },
        payload: 'unsigned',
      }),
      'PUT huge',
    );
    result.putMiBPerSec = size / MiB / ((performance.now() - t0) / 1000);
    result.rssPeakAfterPutMiB = readMemory(target.pid)?.hwmMiB;
    const want = md5.digest('hex');
    const etag = String(put.headers.etag ?? '').replace(/"/g, '');
    if (etag !== want) throw new Error(`ETag ${etag} != MD5 of the body ${want}`);
    log(`  PUT: ${result.putMiBPerSec.toFixed(0)} MiB/s, peak RSS ${result.rssPeakAfterPutMiB?.toFixed(0)} MiB, ETag ok`);

    t0 = performance.now();
    const get = expectOk(await client.request({ method: 'GET', path: '/bench-huge/huge', read: 'count' }), 'GET huge');
    if (get.bytes !== size) throw new Error(`GET returned ${get.bytes} bytes, expected ${size}`);
    result.getMiBPerSec = size / MiB / ((performance.now() - t0) / 1000);
    result.rssPeakAfterGetMiB = readMemory(target.pid)?.hwmMiB;
    log(`  GET: ${result.getMiBPerSec.toFixed(0)} MiB/s, length ok, peak RSS ${result.rssPeakAfterGetMiB?.toFixed(0)} MiB`);
  } catch (err) {
    result.error = (err as Error).message;
    log(`  FAILED: ${result.error}\n  server stderr: ${target.stderr().slice(-1500)}`);
  } finally {
    sampler.stop();
    client.close();
    await target.stop();
  }
  const peak = result.rssPeakAfterPutMiB;
  result.summary = result.error
    ? `5 GiB run FAILED: ${result.error}`
    : `skep, single PUT of ${(size / GiB).toFixed(2)} GiB (UNSIGNED-PAYLOAD, streamed): ${result.putMiBPerSec?.toFixed(0)} MiB/s; ` +
      `server RSS at start ${result.rssStartMiB?.toFixed(0)} MiB, peak during PUT ${peak?.toFixed(0)} MiB (goal < 300: ${peak !== undefined && peak < 300 ? 'met' : 'NOT met'}); ` +
      `GET back ${result.getMiBPerSec?.toFixed(0)} MiB/s, peak after GET ${result.rssPeakAfterGetMiB?.toFixed(0)} MiB`;
  return result;
}
