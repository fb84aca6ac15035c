// --client-overhead: how much CPU the client itself spends per 4 KiB request, this bench's raw
// SigV4 client versus the AWS SDK v3 S3Client (keep-alive NodeHttpHandler, maxSockets = 16),
// both against the ceiling server, which does almost nothing. On a 2-core machine every
// millisecond the client spends is taken from the server under test.

import http from 'node:http';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { S3Http, Signer, expectOk } from './client.js';
import { Contents, KiB } from './data.js';
import { startTarget } from './targets.js';

const CONCURRENCY = 16;
const OPS = 3000;

async function loop(op: (i: number) => Promise<void>): Promise<{ opsPerSec: number; cpuMsPerOp: number }> {
  // Warm-up, then the measured run.
  let next = 0;
  const run = async (count: number) => {
    next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) await op(next++ % OPS);
      }),
    );
  };
  await run(500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(OPS);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { opsPerSec: OPS / seconds, cpuMsPerOp: (cpu.user + cpu.system) / 1000 / OPS };
}

export async function clientOverhead(log: (m: string) => void): Promise<void> {
  const target = await startTarget('ceiling');
  const contents = new Contents(4 * KiB);
  try {
    const raw = new S3Http(target.url, new Signer(target.creds), CONCURRENCY);
    expectOk(await raw.request({ method: 'PUT', path: '/ovh' }), 'bucket');
    const rawPut = await loop(async (i) => {
      expectOk(await raw.request({ method: 'PUT', path: `/ovh/k${i}`, body: contents.small(i), payload: 'sha256', crc32: true }), 'put');
    });
    const rawGet = await loop(async (i) => {
      const r = expectOk(await raw.request({ method: 'GET', path: `/ovh/k${i}` }), 'get');
      if (!contents.isSmall(r.body, i)) throw new Error('body differs');
    });
    raw.close();

    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const sdk = new S3Client({
      endpoint: target.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: target.creds,
      requestHandler: { httpAgent: agent },
    });
    const sdkPut = await loop(async (i) => {
      await sdk.send(new PutObjectCommand({ Bucket: 'ovh', Key: `k${i}`, Body: contents.small(i) }));
    });
    const sdkGet = await loop(async (i) => {
      const r = await sdk.send(new GetObjectCommand({ Bucket: 'ovh', Key: `k${i}` }));
      const body = Buffer.from(await r.Body!.transformToByteArray());
      if (!contents.isSmall(body, i)) throw new Error('body differs');
    });
    sdk.destroy();
    agent.destroy();

    const line = (name: string, r: { opsPerSec: number; cpuMsPerOp: number }) =>
      `  ${name.padEnd(16)} ${r.opsPerSec.toFixed(0).padStart(6)} ops/s   client CPU ${r.cpuMsPerOp.toFixed(3)} ms/op`;
    process.stdout.write(
      [
        `client overhead against the ceiling server (4 KiB, ${CONCURRENCY} concurrent, ${OPS} ops):`,
        line('raw PUT', rawPut),
        line('SDK v3 PUT', sdkPut),
        line('raw GET', rawGet),
        line('SDK v3 GET', sdkGet),
      ].join('\n') + '\n',
    );
  } finally {
    await target.stop();
  }
  log('done');
}
