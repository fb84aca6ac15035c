#!/usr/bin/env node
// Builds what `skep` runs, in one pass each and without type-checking (`npm run typecheck` does
// that, and `npm test` runs it):
// - the server: esbuild transpiles every src/**/*.ts (tests aside) into dist/ file by file, same
//   layout, with source maps. Not a bundle on purpose: bin/skep.js loads dist/cli/main.js, paths
//   relative to a module (package.json, dist/console-app/) stay true, and the PostgreSQL and S3
//   stores, pg and the AWS SDK stay behind their dynamic imports, unloaded on the embedded default.
// - the console: vite bundles console/ into dist/console-app/.
// `npm ci` runs it through "prepare"; it says what it does, since an install is otherwise silent.
//
//   node scripts/build.mjs              the server and the console
//   node scripts/build.mjs server       dist/ only          node scripts/build.mjs console   dist/console-app/ only

import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
/** Where vite puts the console, inside dist/ but not the server's: the server build leaves it alone. */
const CONSOLE_OUT = 'console-app';

function files(dir, keep, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files(path, keep, out);
    else if (keep(entry.name)) out.push(path);
  }
  return out;
}

/** The modules the server is made of: src/**\/*.ts without tests and declaration files. */
export function serverSources() {
  return files(SRC, (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')).sort();
}

/** Transpiles the server into outdir (default dist/) and removes what a deleted source left there.
 * Resolves with the number of modules written. */
export async function buildServer(outdir = join(ROOT, 'dist')) {
  const { build } = await import('esbuild');
  const entryPoints = serverSources();
  const result = await build({
    entryPoints,
    outbase: SRC,
    outdir,
    bundle: false,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    tsconfig: join(ROOT, 'tsconfig.json'),
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'warning',
  });
  const written = new Set(Object.keys(result.metafile.outputs).map((p) => resolve(ROOT, p)));
  let stale = [];
  try {
    stale = files(outdir, (name) => name.endsWith('.js') || name.endsWith('.js.map')).filter(
      (p) => !written.has(p) && !relative(outdir, p).startsWith(CONSOLE_OUT + sep),
    );
  } catch {
    // outdir did not exist before
  }
  for (const p of stale) rmSync(p, { force: true });
  return entryPoints.length;
}

/** Bundles the console into dist/console-app/ with vite. */
export async function buildConsole() {
  const { build } = await import('vite');
  // The "runner" loader evaluates the config in memory: the default one writes a temporary file
  // under node_modules/, which makes npm think the tree changed and slows every later `npx skep`.
  await build({ configFile: join(ROOT, 'console', 'vite.config.ts'), configLoader: 'runner', logLevel: 'warn' });
}

function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, name) => (name === 'node_modules' ? m : Math.max(m, newest(join(path, name)))), s.mtimeMs);
}

/** Whether dist/ (server and console) is newer than everything it is built from. */
export function buildIsCurrent() {
  try {
    const builtAt = Math.min(statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs, statSync(join(ROOT, 'dist', CONSOLE_OUT, 'index.html')).mtimeMs);
    const inputs = [SRC, join(ROOT, 'console'), join(ROOT, 'package-lock.json'), join(ROOT, 'tsconfig.json'), fileURLToPath(import.meta.url)];
    return inputs.every((p) => newest(p) < builtAt);
  } catch {
    return false;
  }
}

async function timed(work) {
  const started = performance.now();
  const value = await work();
  return { value, seconds: ((performance.now() - started) / 1000).toFixed(1) };
}

async function main(what) {
  if (!['all', 'server', 'console'].includes(what)) throw new Error(`usage: node scripts/build.mjs [server|console] (got ${what})`);
  const parts = { server: 'the server (src/ -> dist/, esbuild)', console: 'the console (console/ -> dist/console-app/, vite)' };
  const picked = what === 'all' ? ['server', 'console'] : [what];
  console.log(`skep: building ${picked.map((p) => parts[p]).join(' and ')}...`);
  const started = performance.now();
  const [server, consoleApp] = await Promise.all([
    picked.includes('server') ? timed(() => buildServer()) : null,
    picked.includes('console') ? timed(() => buildConsole()) : null,
  ]);
  const done = [server && `the server (${server.value} modules, ${server.seconds} s)`, consoleApp && `the console (${consoleApp.seconds} s)`].filter(Boolean);
  console.log(`skep: built ${done.join(' and ')} in ${((performance.now() - started) / 1000).toFixed(1)} s; \`npm run typecheck\` type-checks`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // The first `npx skep` in a checkout installs it into npm's npx cache, which runs "prepare"
  // again: a build that is already current is left as it is, so the command starts at once.
  if (process.env.npm_command === 'exec' && process.env.npm_lifecycle_event === 'prepare' && buildIsCurrent()) process.exit(0);
  main(process.argv[2] ?? 'all').catch((err) => {
    console.error(`skep: the build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
