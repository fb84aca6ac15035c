// The orphan sweep of the embedded default at scale: a data folder with N objects, each with a
// blob of its own (empty files: the sweep looks at names and ages, not bytes), all written two
// hours ago, plus some orphans. skep starts on it and sweeps at once; meanwhile a client GETs an
// object in a loop. Prints the sweep's time, the server's peak RSS, the GETs' latencies and the
// server's longest event-loop delay (what blocked it at once), during the sweep and after it.
//
//   npx tsx bench/sweep-scale.ts [objects=1000000] [orphans=1000] [skep checkout=this one]

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync, utimesSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sqliteDriver } from '../src/storage/metadata/sqlite-driver.js';
import { S3Http, Signer, expectOk } from './client.js';
import { readMemory, RssSampler } from './proc.js';
import { freePort, ROOT, SKEP_KEY, stopChild } from './targets.js';
import { stoppedOnInterrupt, temporaryFolder } from './interrupt.js';

const N = Number(process.argv[2] ?? 1_000_000);
const ORPHANS = Number(process.argv[3] ?? 1000);
// The end of the sweep is read from its log line, written only when it removed something.
if (!(ORPHANS >= 1)) throw new Error('orphans must be at least 1');
const SKEP = process.argv[4] ?? ROOT;
const TWO_HOURS_AGO = new Date(Date.now() - 2 * 3600_000);

/** Loaded into the server: its longest event-loop delay, every 250 ms. */
const EVENT_LOOP_PROBE = `
  import { monitorEventLoopDelay } from 'node:perf_hooks';
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  setInterval(() => { process.stderr.write('event-loop-max-ms ' + (h.max / 1e6).toFixed(1) + '\\n'); h.reset(); }, 250).unref();
`;

async function serve(dataDir: string, onLog: (line: string) => void) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(SKEP, 'bin/skep.js'), 'serve', '--port', String(port), '--data', dataDir, '--log-level', 'info'], {
    cwd: SKEP,
    env: { ...process.env, NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(EVENT_LOOP_PROBE)}`, SKEP_ROOT_ACCESS_KEY_ID: SKEP_KEY.accessKeyId, SKEP_ROOT_SECRET_ACCESS_KEY: SKEP_KEY.secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Stopped also if the bench is interrupted, or if the server exits before it listens.
  const stopServer = stoppedOnInterrupt(() => stopChild(child));
  let listening!: () => void;
  const ready = new Promise<void>((resolveReady, reject) => {
    listening = resolveReady;
    child.once('exit', (code, signal) => reject(new Error(`skep exited before listening (${signal ?? code})`)));
  });
  let buf = '';
  const read = (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.includes('listening on')) listening();
      onLog(line);
    }
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  await ready.catch(async (err: unknown) => {
    await stopServer();
    throw err;
  });
  const client = new S3Http(`http://127.0.0.1:${port}`, new Signer(SKEP_KEY), 4);
  return {
    child,
    client,
    async stop() {
      client.close();
      await stopServer();
    },
  };
}

/** N rows like the template's, each with a blob file of its own; and orphan files. */
function populate(dataDir: string): void {
  const db = new (sqliteDriver())(join(dataDir, 'metadata.sqlite'));
  const blobDir = join(dataDir, 'blobs');
  const made = new Set<string>();
  const file = (ref: string) => {
    const folder = join(blobDir, ref.slice(0, 2), ref.slice(2, 4));
    if (!made.has(folder)) mkdirSync(folder, { recursive: true }), made.add(folder);
    const path = join(folder, ref);
    closeSync(openSync(path, 'w'));
    utimesSync(path, TWO_HOURS_AGO, TWO_HOURS_AGO);
  };
  // Like the blob store's refs: runs of 256 share a fan-out folder.
  let prefix = '';
  const newRef = (i: number) => {
    if (i % 256 === 0) prefix = randomBytes(2).toString('hex');
    return prefix + randomBytes(14).toString('hex');
  };
  try {
    db.pragma('journal_mode = WAL');
    const template = db.prepare(`select * from objects limit 1`).get() as Record<string, unknown>;
    const columns = Object.keys(template);
    const insert = db.prepare(`insert into objects (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`);
    const t0 = performance.now();
    const batch = 100_000;
    for (let from = 0; from < N; from += batch) {
      db.transaction(() => {
        for (let i = from; i < Math.min(N, from + batch); i++) {
          const ref = newRef(i);
          insert.run(columns.map((c) => (c === 'key' ? `k/${String(i).padStart(8, '0')}` : c === 'blobs' ? JSON.stringify([{ ref, size: 0 }]) : template[c])));
          file(ref);
        }
      })();
      console.log(`  ${Math.min(N, from + batch).toLocaleString('en-US')} objects`);
    }
    for (let i = 0; i < ORPHANS; i++) file(newRef(i));
    db.pragma('wal_checkpoint(TRUNCATE)');
    console.log(`populated in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    db.close();
  }
}

/** Blob files (this bench's blobs are all files): the fan-out folders' entries, not tmp/ or inline.sqlite. */
async function countBlobs(dir: string): Promise<number> {
  let n = 0;
  for (const a of await readdir(dir)) {
    if (!/^[0-9a-f]{2}$/.test(a)) continue;
    for (const b of await readdir(join(dir, a))) n += (await readdir(join(dir, a, b))).length;
  }
  return n;
}

async function main() {
  const { path: dataDir, remove } = await temporaryFolder('skep-sweep-scale-');
  try {
    let s = await serve(dataDir, () => undefined);
    expectOk(await s.client.request({ method: 'PUT', path: '/scale' }), 'create bucket');
    expectOk(await s.client.request({ method: 'PUT', path: '/scale/template', body: randomBytes(4096) }), 'PUT template');
    await s.stop();
    populate(dataDir);
    const blobsBefore = await countBlobs(join(dataDir, 'blobs'));

    let swept: { at: number; removed: number } | undefined;
    const t0 = performance.now();
    const loopMax = { during: 0, after: 0 };
    let live = false; // start-up (loading, migrations) is not the sweep's
    s = await serve(dataDir, (line) => {
      const delay = /^event-loop-max-ms ([\d.]+)/.exec(line);
      if (line.includes('listening on')) live = true;
      else if (delay && live) {
        const w = swept ? 'after' : 'during';
        loopMax[w] = Math.max(loopMax[w], Number(delay[1]));
      } else if (line.includes('collected blobs')) swept = { at: performance.now(), removed: JSON.parse(line).removed };
      else if (line.includes('blob collection failed')) console.log(line);
    });
    const started = performance.now();
    const sampler = new RssSampler(s.child.pid!, 50).start();
    // The scratch file of the sweep's reference snapshot (skep since it has one), at its largest.
    let scratchBytes = 0;
    const scratch = setInterval(() => {
      try {
        scratchBytes = Math.max(scratchBytes, statSync(join(dataDir, 'metadata.sqlite.orphan-sweep')).size);
      } catch {
        // not there (yet, or any more)
      }
    }, 50);
    const during: number[] = [];
    const afterwards: number[] = [];
    let stopAt = Infinity;
    const loop = async () => {
      while (performance.now() < stopAt) {
        const t = performance.now();
        expectOk(await s.client.request({ method: 'GET', path: '/scale/template' }), 'GET');
        (swept ? afterwards : during).push(performance.now() - t);
        if (swept && stopAt === Infinity) stopAt = performance.now() + 3000;
        if (!swept && performance.now() - started > 30 * 60_000) throw new Error('no sweep within 30 min');
      }
    };
    await Promise.all([loop(), loop()]);
    sampler.stop();
    clearInterval(scratch);
    const hwm = readMemory(s.child.pid!)?.hwmMiB;
    await s.stop();
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `${xs.length} GETs, p50 ${sorted[Math.floor(xs.length / 2)]?.toFixed(1)} ms, p99 ${sorted[Math.floor(xs.length * 0.99)]?.toFixed(1)} ms, max ${sorted[xs.length - 1]?.toFixed(1)} ms`;
    };
    console.log(`skep ${SKEP}: ${N.toLocaleString('en-US')} objects, ${ORPHANS} orphans`);
    console.log(`  sweep: ${((swept!.at - started) / 1000).toFixed(1)} s from listening (start-up ${((started - t0) / 1000).toFixed(1)} s), removed ${swept!.removed}; blobs ${blobsBefore} -> ${await countBlobs(join(dataDir, 'blobs'))}`);
    if (scratchBytes > 0) console.log(`  scratch file: up to ${(scratchBytes / 2 ** 20).toFixed(0)} MiB (${(scratchBytes / N).toFixed(0)} bytes per object)`);
    console.log(`  server RSS: peak ${sampler.maxRssMiB.toFixed(0)} MiB sampled, VmHWM ${hwm?.toFixed(0)} MiB`);
    console.log(`  GET during the sweep: ${stats(during)}`);
    console.log(`  GET after the sweep:  ${stats(afterwards)}`);
    console.log(`  server's longest event-loop delay: ${loopMax.during.toFixed(1)} ms during the sweep, ${loopMax.after.toFixed(1)} ms after`);
  } finally {
    await remove();
  }
}

await main();
