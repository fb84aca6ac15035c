import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Makes sure dist/console-app/ holds a console built from the current sources: `npm ci` and
// `npm run build` build it, but a test run after editing console/ should not test a stale one.

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CONSOLE_DIST = join(ROOT, 'dist', 'console-app');

function newestMtime(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

function builtAt(): number {
  try {
    return statSync(join(CONSOLE_DIST, 'index.html')).mtimeMs;
  } catch {
    return 0;
  }
}

export function ensureConsoleBuilt(): void {
  // The console also bundles these two pure modules from src/.
  const sources = [join(ROOT, 'console'), join(ROOT, 'src', 'objects', 'bucket-name.ts'), join(ROOT, 'src', 'auth', 'principal.ts'), join(ROOT, 'package-lock.json')];
  if (builtAt() > Math.max(...sources.map(newestMtime))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), 'console'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`building the console failed:\n${r.stdout}\n${r.stderr}`);
}
