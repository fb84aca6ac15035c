import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { MiB, baseEnv, commandTimeoutMs, machineLoad, run } from './helpers/clients.js';

// The external-client suites (AWS CLI, boto3, rclone, s3cmd) bound each command by the work it
// does and the machine's load, never a whole suite by one fixed budget: on a busy 2-core machine
// a fixed 100 s for a suite cancelled tests that were merely slow.

test('a command gets more time for more bytes and on a busier machine', () => {
  assert.equal(commandTimeoutMs({}, 1), 60_000);
  assert.equal(commandTimeoutMs({ bytes: 20 * MiB }, 1), 100_000);
  assert.equal(commandTimeoutMs({ bytes: 20 * MiB }, 3), 300_000);
  assert.ok(commandTimeoutMs({}) >= 60_000);
  const load = machineLoad();
  assert.ok(load >= 1 && load <= 8, String(load));
});

test('a command past its limit is stopped and the failure says it timed out, and at which limit', async () => {
  const started = Date.now();
  await assert.rejects(run('sleep', ['30'], { env: baseEnv(tmpdir()), timeoutMs: 1500 }), /sleep 30 failed \(timed out after 2 s, its limit at load \d+\.\d\)/);
  assert.ok(Date.now() - started < 10_000);
});

test('no client suite puts one time limit on all of its commands', async () => {
  for (const name of ['awscli', 'boto3', 'rclone', 's3cmd']) {
    const text = await readFile(new URL(`./clients-${name}.test.ts`, import.meta.url), 'utf8');
    assert.doesNotMatch(text, /describe\([^\n]*\{[^}\n]*timeout:/, `clients-${name}.test.ts`);
  }
});
