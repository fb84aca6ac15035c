import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// The type-check of the server and the console (TypeScript strict): `npm ci` builds without it
// (esbuild and vite only transpile, scripts/build.mjs), so the test suite is where it runs.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('npm run typecheck: the server and the console type-check', { timeout: 600_000 }, async () => {
  const child = spawn('npm', ['run', '--silent', 'typecheck'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, `npm run typecheck failed:\n${out}`);
});
