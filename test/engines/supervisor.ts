// Starts the engines a test run needs (PostgreSQL, Ceph), once per run, and stops them when the
// run ends. Started by scripts/run-tests.mjs as a child process:
//
//   node --import tsx test/engines/supervisor.ts postgres ceph
//
// It prints one line `ENGINES <json>` once every engine is up or has failed to start: the
// environment the tests read their connection settings from, and an error per engine that did
// not start. While the tests run it watches every daemon's PID, and prints `DEAD <json>` (with the
// tail of that daemon's log) the moment one exits, so a crashed gateway is reported as such
// rather than as a page of failed tests. It stops the engines when its standard input closes
// (the runner finished, or died) or on SIGINT/SIGTERM.

import { startCeph, type CephEngine } from './ceph.js';
import { startPostgres, type PostgresEngine } from './postgres.js';
import { isAlive, tail, type Daemon } from './process-util.js';
import { ENGINE_ENV, type EngineName } from './names.js';

const wanted = new Set(process.argv.slice(2) as EngineName[]);
const running: Array<{ stop(): Promise<void>; daemons: Daemon[] }> = [];
const env: Record<string, string> = {};
const errors: Partial<Record<EngineName, string>> = {};
let stopping = false;

function say(kind: 'ENGINES' | 'DEAD', value: unknown): void {
  process.stdout.write(`${kind} ${JSON.stringify(value)}\n`);
}

async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(running.map((e) => e.stop().catch((err: unknown) => process.stderr.write(`engines: stop failed: ${String(err)}\n`))));
  process.exit(0);
}

// However this process ends, no daemon outlives it.
process.on('exit', () => {
  for (const e of running) for (const d of e.daemons) if (isAlive(d.pid)) process.kill(d.pid, 'SIGKILL');
});
process.stdin.on('end', () => void stopAll());
process.stdin.on('error', () => void stopAll());
process.stdin.resume();
process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());

async function start(): Promise<void> {
  const tasks: Promise<void>[] = [];
  if (wanted.has('postgres')) {
    tasks.push(
      startPostgres().then(
        (pg: PostgresEngine) => {
          running.push(pg);
          env[ENGINE_ENV.postgresUrl] = pg.url;
        },
        (err: Error) => void (errors.postgres = err.message),
      ),
    );
  }
  if (wanted.has('ceph')) {
    tasks.push(
      startCeph().then(
        (ceph: CephEngine) => {
          running.push(ceph);
          env[ENGINE_ENV.cephEndpoint] = ceph.endpoint;
          env[ENGINE_ENV.cephAccessKeyId] = ceph.accessKeyId;
          env[ENGINE_ENV.cephSecretAccessKey] = ceph.secretAccessKey;
        },
        (err: Error) => void (errors.ceph = err.message),
      ),
    );
  }
  await Promise.all(tasks);
  if (stopping) return;
  say('ENGINES', { env, errors });
  const dead = new Set<number>();
  const watch = setInterval(() => {
    // Daemons stopping because the run ended are not deaths.
    if (stopping) return;
    for (const e of running) {
      for (const d of e.daemons) {
        if (dead.has(d.pid) || isAlive(d.pid)) continue;
        dead.add(d.pid);
        say('DEAD', { name: d.name, pid: d.pid, log: tail(d.logFile, 2500) });
      }
    }
  }, 1000);
  watch.unref();
}

void start();
