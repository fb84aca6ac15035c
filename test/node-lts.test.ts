import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3';
import { prepareNode } from '../scripts/node-lts.mjs';
import { sqliteDriverName } from '../src/storage/metadata/sqlite-driver.js';

// skep runs on the Node.js LTS releases package.json names. The test command runs a smoke group
// on Node 24 (from the npm registry's `node` package); SQLite's driver is the one that is safe on
// the release; and the AWS SDK's warning about Node 20 stays out of the test output.

test('engines names the supported releases: 20.19+, 22 and 24', async () => {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.engines.node, '^20.19.0 || ^22.12.0 || >=24.0.0');
  assert.equal(sqliteDriverName(20), 'better-sqlite3');
  assert.equal(sqliteDriverName(22), 'better-sqlite3-napi');
  assert.equal(sqliteDriverName(24), 'better-sqlite3-napi');
});

test('on Node 24 from the npm registry, the SQLite store survives many collected statements and a plain exit', { timeout: 300_000 }, () => {
  const { node, version } = prepareNode('24');
  assert.match(version, /^v24\./);
  // better-sqlite3 12 aborts the process here on Node 24 (a statement freed by the collector):
  // thousands of statements made and dropped, collections forced, then an exit without close().
  const script = `
    const { openSqliteStore } = await import('./src/storage/metadata/sqlite-store.ts');
    const { sqliteDriverName } = await import('./src/storage/metadata/sqlite-driver.ts');
    const s = await openSqliteStore(':memory:');
    await s.createProject({ id: 'p', name: 'on node 24', createdAt: new Date(), maxTokenDays: null });
    for (let i = 0; i < 3000; i++) await s.getProject('p');
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    console.log(process.version, sqliteDriverName(), (await s.listProjects())[0].name);`;
  const r = spawnSync(node, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
  assert.match(r.stdout, /^v24\.\d+\.\d+ better-sqlite3-napi on node 24$/m);
});

test("the AWS SDK's Node-version warning is silenced in test runs", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  const client = new S3Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
  try {
    await client.send(new ListBucketsCommand({})).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
  } finally {
    client.destroy();
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings.filter((w) => /NodeVersionSupportWarning/.test(w)), []);
});
