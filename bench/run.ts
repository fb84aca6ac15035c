// npm run bench [-- options]
//
// Measures skep (the compiled build, as a child process), s3rver and a bare-node "ceiling"
// server side by side with the same lean SigV4 client, and prints one table. See bench/README.md.
//
// options:
//   --json                 also print the raw results as JSON
//   --large                also PUT (and read back) one 5 GiB object and one 10 GiB multipart
//                          upload into skep, reporting the peak RSS of each (goal < 300 MiB)
//   --large-only           only those runs
//   --large-size-gib N     size of the single PUT (default 5; 0 skips it)
//   --multipart-size-gib N size of the multipart upload (default 10; 0 skips it)
//   --targets a,b          subset of skep,s3rver,ceiling (and skep-pg-ceph,skep-pg-ceph-x3)
//   --backend postgres,ceph
//                          also skep on the distributed configuration: metadata in PostgreSQL and
//                          blobs in Ceph (a throwaway cluster of each, started here), one node and
//                          three nodes, in the same table
//   --scenarios a,b        subset of put-small,put-versioned,get-small,head-small,put-encrypted,
//                          get-encrypted,list,put-large,put-large-trailer,put-large-signed,get-large
//   --quick                fewer operations, one round (a smoke run)
//   --rounds N             rounds per scenario and target (default 3; the best is reported)
//   --cpu-prof             write V8 CPU profiles of skep and s3rver and print where the time goes
//   --profile              the same, summarised per row: only the samples taken during that row's
//                          timed runs, with the main thread's busy time per operation
//   --threadpool N         UV_THREADPOOL_SIZE for every server (default: Node's 4)
//   --scale                the cost curves (never in CI; see bench/scale.ts): 10^3, 10^6 and 10^7
//                          objects in one bucket (metadata bytes per object, start-up time, list,
//                          delimiter list, PUT and GET at each size), 10^4 buckets, 10^4 tokens,
//                          1000 concurrent connections
//   --scale-objects N,M    the object counts (default 1000,1000000,10000000)
//   --scale-prefixes N     common prefixes the keys spread over (default 100000)
//   --scale-metadata LIST  sqlite (default), postgres, or both (sqlite,postgres): where the object
//                          rows keep their metadata; postgres starts a PostgreSQL (fsync on) for them
//   --client-overhead      compare the CPU cost per request of this client and the AWS SDK v3
//   --no-build             do not rebuild dist/ even if src/ is newer
//   --skep-dir DIR         benchmark another (already built) skep checkout, e.g. a snapshot of HEAD
//   --baseline DIR         also run that (built) checkout as "skep base", beside this one, in the
//                          same interleaved rounds: a before/after comparison on one machine state

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Contents, GiB, KiB, MiB } from './data.js';
import { ScenarioRunner, SCENARIOS, type BenchConfig, type ScenarioId, type TargetResult } from './scenarios.js';
import { DISTRIBUTED_TARGETS, ROOT, TARGETS, startTarget, type DistributedEngines, type TargetName } from './targets.js';
import { stoppedOnInterrupt } from './interrupt.js';
import { startPostgres, type PostgresEngine } from '../test/engines/postgres.js';
import { startCeph, type CephEngine } from '../test/engines/ceph.js';
import { isAlive } from '../test/engines/process-util.js';
import { buildRows, renderCpuTable, renderTable } from './report.js';
import { mainThreadProfile, rowProfiles, summariseProfile, summariseProfileScopes } from './profile.js';
import { renderScale, runScale } from './scale.js';
import { runLarge } from './large.js';
import { clientOverhead } from './client-overhead.js';
import { cheaper, measureHashing, REQUIRED_HASHES, type HashCosts } from './required-hashing.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    large: { type: 'boolean', default: false },
    'large-only': { type: 'boolean', default: false },
    'large-size-gib': { type: 'string', default: '5' },
    'multipart-size-gib': { type: 'string', default: '10' },
    targets: { type: 'string' },
    scenarios: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    'scale-objects': { type: 'string', default: '1000,1000000,10000000' },
    'scale-prefixes': { type: 'string', default: '100000' },
    'scale-metadata': { type: 'string', default: 'sqlite' },
    'scale-buckets': { type: 'string', default: '10000' },
    'scale-tokens': { type: 'string', default: '10000' },
    'scale-connections': { type: 'string', default: '1000' },
    threadpool: { type: 'string' },
    'client-overhead': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'skep-dir': { type: 'string' },
    rounds: { type: 'string' },
    backend: { type: 'string' },
    baseline: { type: 'string' },
  },
  strict: true,
});

const log = (msg: string) => process.stderr.write(msg + '\n');

/** Rebuilds dist/ with `npm run build` when any compiled source is newer than dist/cli/main.js. */
function ensureBuild(): void {
  const marker = join(ROOT, 'dist/cli/main.js');
  const builtAt = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  const srcDir = join(ROOT, 'src');
  const newest = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .reduce((m, f) => Math.max(m, statSync(join(srcDir, f)).mtimeMs), 0);
  if (builtAt >= newest) return;
  log('dist/ is older than src/: npm run build');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    // A failed build emits nothing (scripts/build.mjs): go on only if dist/ was refreshed anyway.
    if (!existsSync(marker) || statSync(marker).mtimeMs < builtAt) throw new Error('npm run build failed');
    log('warning: npm run build reported errors; benchmarking what it emitted');
  }
}

function list<T extends string>(text: string | undefined, all: readonly T[]): T[] {
  if (!text) return [...all];
  const picked = text.split(',').map((s) => s.trim()) as T[];
  for (const p of picked) if (!all.includes(p)) throw new Error(`unknown value ${p}; expected one of ${all.join(', ')}`);
  return picked;
}

async function main(): Promise<void> {
  if (args['client-overhead']) {
    await clientOverhead(log);
    return;
  }
  const skepDir = args['skep-dir'] ? resolve(args['skep-dir']) : undefined;
  if (!args['no-build'] && !skepDir) ensureBuild();

  const quick = args.quick;
  const cfg: BenchConfig = {
    smallConcurrency: 16,
    largeConcurrency: 4,
    smallOps: quick ? 500 : 3000,
    smallWarmup: quick ? 100 : 500,
    largeCount: quick ? 4 : 8,
    largeSize: 64 * MiB,
    listKeys: 1000,
    listOps: quick ? 50 : 300,
    listMaxSeconds: quick ? 4 : 8,
    rounds: Number(args.rounds ?? (quick ? 1 : 3)),
    scenarios: new Set<ScenarioId>(list(args.scenarios, SCENARIOS)),
  };
  const distributedNames = Object.keys(DISTRIBUTED_TARGETS) as TargetName[];
  const backend = args.backend?.split(',').map((b) => b.trim()).sort().join(',');
  if (backend !== undefined && backend !== 'ceph,postgres') throw new Error(`--backend takes postgres,ceph (got ${args.backend})`);
  const baselineDir = args.baseline ? resolve(args.baseline) : undefined;
  const targets = args.targets
    ? list<TargetName>(args.targets, [...TARGETS, ...distributedNames, 'skep-base'])
    : backend
      ? (['skep', ...distributedNames, 's3rver', 'ceiling'] as TargetName[])
      : [...TARGETS];
  if (baselineDir && !targets.includes('skep-base')) targets.splice(1, 0, 'skep-base');
  const env: Record<string, string> = args.threadpool ? { UV_THREADPOOL_SIZE: args.threadpool } : {};
  const profDir = args['cpu-prof'] || args.profile ? mkdtempSync(join(tmpdir(), 'skep-bench-prof-')) : undefined;
  const contents = new Contents(4 * KiB);
  const results: TargetResult[] = [];
  const failures: string[] = [];
  const started = Date.now();
  let loadStart = NaN;
  let loadEnd = NaN;

  if (skepDir) log(`skep from ${skepDir}`);
  let engines: DistributedEngines | undefined;
  const engineProcesses: Array<PostgresEngine | CephEngine> = [];
  const stopEngines = stoppedOnInterrupt(async () => void (await Promise.all(engineProcesses.map((e) => e.stop()))));
  if (targets.some((t) => distributedNames.includes(t))) {
    log('starting PostgreSQL (fsync on) and a single-node Ceph cluster for the distributed targets...');
    const [pgEngine, cephEngine] = await Promise.all([startPostgres({ fsync: true }), startCeph()]);
    engineProcesses.push(pgEngine, cephEngine);
    engines = { postgresUrl: pgEngine.url, ceph: cephEngine };
  }
  log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); client: raw SigV4 node:http, keep-alive`);
  let hashing: HashCosts | undefined;
  if (!args['large-only'] && !args.scale) {
    // Timed before and after the rounds; the cheaper figure of each is the machine's.
    if ([...cfg.scenarios].some((id) => REQUIRED_HASHES[id])) hashing = measureHashing(cfg.largeSize);
    // All servers up at once (an idle one costs nothing); each scenario then runs on each target
    // in turn, in alternating order, `rounds` times.
    const running: ScenarioRunner[] = [];
    const dead = new Set<string>();
    try {
      for (const name of targets) {
        const target = await startTarget(name, {
          cpuProfDir: profDir && name !== 'ceiling' && !distributedNames.includes(name) ? join(profDir, name) : undefined,
          env,
          skepDir,
          engines,
          baselineDir,
        });
        running.push(new ScenarioRunner(target, cfg, contents, log));
      }
      loadStart = loadavg()[0];
      log(`servers: ${running.map((r) => `${r.target.name} pid ${r.target.pid}`).join(', ')}; load average ${loadStart.toFixed(2)}`);
      for (let round = 1; round <= cfg.rounds; round++) {
        log(`\n== round ${round} of ${cfg.rounds}`);
        const order = round % 2 === 1 ? running : [...running].reverse();
        for (const id of SCENARIOS) {
          if (!cfg.scenarios.has(id)) continue;
          for (const runner of order) {
            const name = runner.target.name;
            if (dead.has(name) || !runner.supports(id)) continue;
            try {
              const r = await runner.phase(id, round);
              if (r.error) failures.push(`${name} ${id} round ${round}: ${r.error}`);
              else if (r.failedOps > 0) failures.push(`${name} ${id} round ${round}: ${r.failedOps} operations failed; first: ${r.firstError}`);
            } catch (err) {
              dead.add(name);
              failures.push(`${name} ${id} round ${round}: ${(err as Error).message}`);
              log(`  ${id} ${name} FAILED: ${(err as Error).message}\n  server stderr: ${runner.target.stderr().slice(-1500)}`);
            }
          }
        }
      }
    } finally {
      for (const runner of running) {
        const result = runner.finish();
        results.push(result);
        await runner.target.stop();
        log(`${result.target}: RSS start ${result.rssStartMiB.toFixed(0)} MiB, peak ${result.rssPeakMiB.toFixed(0)} MiB, end ${result.rssEndMiB.toFixed(0)} MiB; ${result.checks} checks passed`);
        const errText = runner.target.stderr().trim();
        if (errText) log(`  ${result.target} stderr (tail):\n${errText.slice(-1500)}`);
      }
      // A gateway that died explains failed operations better than the failures do.
      for (const e of engineProcesses) {
        for (const d of e.daemons) if (!isAlive(d.pid)) failures.push(`engine ${d.name} (pid ${d.pid}) died during the run`);
      }
      await stopEngines();
    }
    loadEnd = loadavg()[0];
    if (hashing) hashing = cheaper(hashing, measureHashing(cfg.largeSize));

    const rows = buildRows({ ...cfg, largeSizeMiB: cfg.largeSize / MiB });
    process.stdout.write('\n' + renderTable(results, rows) + '\n\n' + renderCpuTable(results, hashing) + '\n');
    const busy = loadStart > 1.5 || loadEnd > 1.5;
    process.stdout.write(
      `\n1-minute load average: ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end, on ${cpus().length} CPUs` +
        (busy ? ' -- other work was running on this machine; treat absolute numbers with care (the interleaved rounds keep the columns comparable)\n' : '\n'),
    );
  }

  let large: Awaited<ReturnType<typeof runLarge>> | undefined;
  if (args.large || args['large-only']) {
    const sizes = { singleBytes: Number(args['large-size-gib']) * GiB, multipartBytes: Number(args['multipart-size-gib']) * GiB };
    large = await runLarge(sizes, contents, log, { env, skepDir });
    process.stdout.write('\n' + large.summary + '\n');
    for (const e of large.errors) failures.push(`large: ${e}`);
  }

  if (args.scale) {
    const counts = (text: string) => text.split(',').map((t) => Number(t.trim())).filter((v) => Number.isSafeInteger(v) && v > 0);
    const stores = list(args['scale-metadata'], ['sqlite', 'postgres'] as const);
    let postgres: PostgresEngine | undefined;
    if (stores.includes('postgres')) {
      log('starting PostgreSQL (fsync on) for the object rows on PostgreSQL...');
      const engine = await startPostgres({ fsync: true });
      postgres = { ...engine, stop: stoppedOnInterrupt(() => engine.stop()) };
    }
    let scaled: Awaited<ReturnType<typeof runScale>>;
    try {
      scaled = await runScale(
        {
          objects: counts(args['scale-objects']!),
          prefixes: Number(args['scale-prefixes']),
          buckets: Number(args['scale-buckets']),
          tokens: Number(args['scale-tokens']),
          connections: Number(args['scale-connections']),
          sqlite: stores.includes('sqlite'),
          postgres: postgres && { serverUrl: postgres.url, postmasterPid: postgres.daemons[0].pid },
        },
        contents,
        log,
        { env, skepDir, cpuProfDir: profDir },
      );
    } finally {
      await postgres?.stop();
    }
    process.stdout.write(`\n${renderScale(scaled)}\n\n1-minute load average at the end: ${loadavg()[0].toFixed(2)} on ${cpus().length} CPUs\n`);
    for (const e of scaled.errors) failures.push(e);
    if (args.profile) {
      for (const { dir, scopes } of scaled.profiles) {
        if (!existsSync(dir)) continue;
        const main = mainThreadProfile(dir, readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')));
        if (main && scopes.length > 0) process.stdout.write(`\n${summariseProfileScopes(main, scopes).join('\n\n')}\n`);
      }
    }
  }

  if (profDir && !args.scale) {
    for (const name of readdirSync(profDir)) {
      const files = readdirSync(join(profDir, name)).filter((f) => f.endsWith('.cpuprofile'));
      if (args.profile) {
        const result = results.find((r) => r.target === name);
        const main = mainThreadProfile(join(profDir, name), files);
        if (result && main) process.stdout.write(`\n${rowProfiles(name, main, result)}\n`);
        continue;
      }
      for (const f of files) process.stdout.write(`\n[${name}] ${summariseProfile(join(profDir, name, f))}\n`);
    }
    log(`\nprofiles kept in ${profDir} (open them in Chrome DevTools > Performance)`);
  }

  if (args.json) process.stdout.write('\n' + JSON.stringify({ node: process.version, config: { ...cfg, scenarios: [...cfg.scenarios] }, results, requiredHashingMs: hashing, large }, null, 2) + '\n');
  log(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  // s3rver's own errors (it answers some concurrent listings with 500) are reported, but only a
  // failure of skep (or of the bench itself, seen on the ceiling) fails the run.
  const own = failures.filter((f) => !f.startsWith('s3rver '));
  const theirs = failures.filter((f) => f.startsWith('s3rver '));
  if (theirs.length > 0) log(`\ns3rver errors (a table cell marked ! holds the figures of the operations that succeeded):\n  ${theirs.join('\n  ')}`);
  if (own.length > 0) {
    log(`\nFAILURES:\n  ${own.join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
