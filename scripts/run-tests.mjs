#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with Node's built-in test runner (through tsx), on
// the machine's Node.js; then, on a full run, a smoke group on each other supported LTS release
// (SKEP_SMOKE_NODES, default "24"; "none" skips it), taken from the npm registry by
// scripts/node-lts.mjs. Arguments narrow the machine's run to files whose path contains any of
// them: `npm test -- sigv4 blob` (the smoke group is then skipped).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
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

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
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
const concurrency = process.env.SKEP_TEST_CONCURRENCY ?? '2';
// The AWS SDK warns on Node.js < 22 that its 2027 releases will need 22; the tests know.
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

function runTests(node, testFiles, extraEnv = {}) {
  const r = spawnSync(node, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...testFiles], { stdio: 'inherit', env: { ...env, ...extraEnv } });
  return r.status ?? 1;
}

const smokeNodes = (process.env.SKEP_SMOKE_NODES ?? '24').split(',').map((s) => s.trim()).filter((s) => s && s !== 'none');
const others = filters.length === 0 ? smokeNodes.filter((major) => process.versions.node.split('.')[0] !== major) : [];
const prepared = others.map((major) => ({ major, ...prepareNode(major) }));

let status = runTests(process.execPath, files);
for (const p of prepared) {
  console.log(`\n# smoke group on Node.js ${p.version} (${p.node})`);
  const smoke = runTests(p.node, SMOKE);
  if (smoke !== 0) status = smoke;
}
process.exit(status);
