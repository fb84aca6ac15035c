import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// The type-check (TypeScript strict) of the server, the console, their tests and the benchmark:
// `npm ci` builds without it (esbuild and vite only transpile, scripts/build.mjs), and tsx strips
// types when it runs the tests, so the test suite is where it runs.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('npm run typecheck: the server, the console, the tests and the bench type-check', { timeout: 600_000 }, async () => {
  const child = spawn('npm', ['run', '--silent', 'typecheck'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, `npm run typecheck failed:\n${out}`);
});
