#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's built-in test runner (through tsx), on
// the machine's Node.js; then, on a full run, a smoke group on each other supported LTS release
// (SKEP_SMOKE_NODES, default "24"; "none" skips it), taken from the npm registry by
// scripts/node-lts.mjs. Arguments narrow the machine's run to files whose path contains any of
// them: `npm test -- sigv4 blob` (the smoke group is then skipped).
//
// A test file that needs a real engine says so in a comment line near its top:
//   // test-engines: postgres ceph
// When any selected file does, the engines are started once for the whole run (by
// test/engines/supervisor.ts), their connection settings reach every test through the
// environment, and they are stopped at the end. A daemon that dies during the run is reported
// by name with the tail of its log, and fails the run.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { prepareNode } from './node-lts.mjs';

/** What the smoke group covers on another release: SQLite (its driver differs by release),
 * argon2 and CRC32C (Node-API addons), S3 through the SDK, the REST API, the CLI as a process. */
const SMOKE = [
  'src/storage/metadata/sqlite-store.test.ts',
  'src/checksums/digest.test.ts',
  'test/s3-objects.test.ts',
  'test/api-session.test.ts',
  'test/cli-buckets.test.ts',
];

const ENGINE_MARKER = /^\/\/ test-engines:(.*)$/m;
const ENGINE_START_TIMEOUT_MS = 240_000;

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function enginesOf(file) {
  const head = readFileSync(file, 'utf8').slice(0, 4000);
  const m = ENGINE_MARKER.exec(head);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

/** Starts the supervisor; resolves with { env, errors, dead: [], stop() } once the engines are up. */
function startEngines(names) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/engines/supervisor.ts', ...names], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const dead = [];
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish({ env: {}, errors: Object.fromEntries(names.map((n) => [n, 'did not start in time'])) }), ENGINE_START_TIMEOUT_MS);
    let settled = false;
    function finish(state) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        ...state,
        dead,
        async stop() {
          child.stdin.end();
          await exited;
        },
      });
    }
    child.once('exit', (code) =>
      finish({ env: {}, errors: Object.fromEntries(names.map((n) => [n, `the engine supervisor exited (${code})`])) }),
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const space = line.indexOf(' ');
      const kind = line.slice(0, space);
      if (kind === 'ENGINES') finish(JSON.parse(line.slice(space + 1)));
      else if (kind === 'DEAD') {
        const d = JSON.parse(line.slice(space + 1));
        dead.push(d);
        process.stderr.write(`\nENGINE DIED during the test run: ${d.name} (pid ${d.pid}); the failures that follow may be its doing.\n`);
      } else if (line.trim()) process.stderr.write(`engines: ${line}\n`);
    });
  });
}

const filters = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((d) => walk(d, []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const needed = [...new Set(files.flatMap(enginesOf))].sort();
// The AWS SDK warns on Node.js < 22 that its 2027 releases will need 22; the tests know.
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
let engines;
if (needed.length > 0) {
  const started = Date.now();
  process.stderr.write(`starting test engines: ${needed.join(', ')}\n`);
  engines = await startEngines(needed);
  Object.assign(env, engines.env);
  const failed = Object.entries(engines.errors ?? {});
  if (failed.length > 0) {
    env.SKEP_TEST_ENGINE_ERRORS = JSON.stringify(engines.errors);
    for (const [name, why] of failed) process.stderr.write(`test engine ${name} is not available: ${why}\n`);
  }
  process.stderr.write(`test engines ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

const stopEngines = () => engines?.stop();
process.once('SIGINT', () => void stopEngines());
process.once('SIGTERM', () => void stopEngines());

const concurrency = process.env.SKEP_TEST_CONCURRENCY ?? '2';
function runTests(node, testFiles, extraEnv = {}) {
  return new Promise((resolve) => {
    const child = spawn(node, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...testFiles], { stdio: 'inherit', env: { ...env, ...extraEnv } });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const smokeNodes = (process.env.SKEP_SMOKE_NODES ?? '22,24').split(',').map((s) => s.trim()).filter((s) => s && s !== 'none');
const others = filters.length === 0 ? smokeNodes.filter((major) => process.versions.node.split('.')[0] !== major) : [];
const prepared = others.map((major) => ({ major, ...prepareNode(major) }));

let status = await runTests(process.execPath, files);
if (engines) {
  await engines.stop();
  if (engines.dead.length > 0) {
    for (const d of engines.dead) {
      process.stderr.write(`\nENGINE DIED during the test run: ${d.name} (pid ${d.pid}). Last lines of its log:\n${d.log}\n`);
    }
    status = status || 1;
  }
}
for (const p of prepared) {
  console.log(`\n# smoke group on Node.js ${p.version} (${p.node})`);
  const smoke = await runTests(p.node, SMOKE);
  if (smoke !== 0) status = smoke;
}
process.exit(status);
