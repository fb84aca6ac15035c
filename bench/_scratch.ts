import { S3Http, Signer, expectOk } from './client.js';
import { Contents, KiB, MiB } from './data.js';
import { SKEP_KEY } from './targets.js';
const [url, mode, nText] = process.argv.slice(2);
const n = Number(nText ?? 1000);
const c = new S3Http(url, new Signer(SKEP_KEY), 16);
const contents = new Contents(4 * KiB);
await c.request({ method: 'PUT', path: '/scratch' });
let next = 0;
const t0 = performance.now();
if (mode === 'small') {
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < n) { const i = next++; expectOk(await c.request({ method: 'PUT', path: `/scratch/k${i}`, body: contents.small(i), payload: 'sha256', crc32: true }), 'put'); } }));
} else {
  await Promise.all(Array.from({ length: 4 }, async () => { while (next < n) { const i = next++; expectOk(await c.request({ method: 'PUT', path: `/scratch/big${i}`, body: { size: 64 * MiB, chunks: () => contents.large(i, 64 * MiB) }, payload: 'unsigned' }), 'put'); } }));
}
const s = (performance.now() - t0) / 1000;
console.log(mode, n, 'ops', (n / s).toFixed(0), 'ops/s', mode === 'large' ? ((n * 64) / s).toFixed(0) + ' MiB/s' : '');
c.close();
