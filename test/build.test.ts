import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { buildServer, serverSources } from '../scripts/build.mjs';

// The build `npm ci` runs through "prepare" (scripts/build.mjs), made into a scratch checkout:
// every source module lands at its own path in dist/, bin/skep.js serves from it, the scale-out
// stores (pg, the AWS SDK) stay behind their dynamic imports on the embedded default, and the
// install does not type-check (the suite does: test/typecheck.test.ts).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const LAZY = /[\\/]node_modules[\\/](pg|@aws-sdk[\\/]client-s3)[\\/]/;

let scratch: string;
let app: string;
let modules: number;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'skep-build-'));
  app = join(scratch, 'skep');
  await mkdir(join(app, 'bin'), { recursive: true });
  await copyFile(join(ROOT, 'bin', 'skep.js'), join(app, 'bin', 'skep.js'));
  // The checkout's files keep their times, older than the build below (as after a clone and `npm ci`).
  for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'src', 'console']) await cp(join(ROOT, path), join(app, path), { recursive: true, preserveTimestamps: true });
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  // What an earlier build left: a module whose source is gone, and the console's bundle.
  await mkdir(join(app, 'dist', 'util'), { recursive: true });
  await writeFile(join(app, 'dist', 'util', 'removed-module.js'), 'export {};\n');
  await mkdir(join(app, 'dist', 'console-app', 'assets'), { recursive: true });
  await writeFile(join(app, 'dist', 'console-app', 'assets', 'index.js'), 'export {};\n');
  await writeFile(join(app, 'dist', 'console-app', 'index.html'), '<div id="root"></div>\n');
  modules = await buildServer(join(app, 'dist'));
  // Prints, at exit, which of the lazily loaded packages the process loaded.
  await writeFile(
    join(scratch, 'loaded.mjs'),
    `import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => process.stdout.write('LOADED ' + JSON.stringify([...new Set(Object.keys(cache).filter((p) => ${LAZY}.test(p)).map((p) => ${LAZY}.exec(p)[1]))]) + '\\n'));
`,
  );
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs node ARGS in the scratch checkout; `until` (on stdout) triggers SIGTERM once it matches. */
function node(args: string[], until?: (stdout: string) => boolean): Promise<Run & { matched: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SKEP_')));
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(scratch, 'loaded.mjs')).href, ...args], { cwd: app, env });
  let stdout = '';
  let stderr = '';
  let matched = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (until && !matched && until(stdout)) {
      matched = stdout;
      child.kill('SIGTERM');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, matched });
    }),
  );
}

function loaded(out: string): string[] {
  const line = /^LOADED (.*)$/m.exec(out);
  assert.ok(line, `no LOADED line in:\n${out}`);
  return JSON.parse(line[1]) as string[];
}

describe('the build (scripts/build.mjs, run by npm ci)', () => {
  test('each source module becomes dist/<its path>.js with a source map; what a removed source left goes, the console stays', () => {
    const sources = serverSources();
    assert.equal(modules, sources.length);
    assert.ok(sources.some((s: string) => s.endsWith(join('cli', 'main.ts'))) && !sources.some((s: string) => s.endsWith('.test.ts')));
    for (const source of sources) {
      const out = join(app, 'dist', relative(SRC, source).replace(/\.ts$/, '.js'));
      assert.ok(existsSync(out), `${out} is built`);
      assert.ok(existsSync(`${out}.map`), `${out}.map is built`);
    }
    assert.ok(!existsSync(join(app, 'dist', 'util', 'removed-module.js')));
    assert.ok(existsSync(join(app, 'dist', 'console-app', 'assets', 'index.js')));
  });

  test('bin/skep.js serves the embedded default from the build, and loads neither pg nor the AWS SDK for it', async () => {
    const help = await node(['bin/skep.js', 'help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: skep <command>/m);

    const data = join(scratch, 'data');
    const served = await node(['bin/skep.js', 'serve', '--port', '0', '--data', data, '--log-level', 'warn'], (out) => /skep listening on \S+/.test(out));
    assert.match(served.matched, /skep listening on http:\/\/127\.0\.0\.1:\d+/, `stdout: ${served.stdout}\nstderr: ${served.stderr}`);
    assert.equal(served.code, 0, served.stderr);
    assert.ok(existsSync(join(data, 'metadata.sqlite')), 'the SQLite metadata was created');
    assert.deepEqual(loaded(served.stdout), [], 'the embedded default loads no scale-out client');

    // The same probe sees them when the scale-out stores are loaded, so the empty list above means something.
    const stores = await node(['--input-type=module', '-e', `await import('./dist/storage/metadata/postgres-store.js'); await import('./dist/storage/blob/s3-blob-store.js');`]);
    assert.equal(stores.code, 0, stores.stderr);
    assert.deepEqual(loaded(stores.stdout).sort(), ['@aws-sdk/client-s3', 'pg']);
  });

  test('npx skep in the checkout runs its own bin, offline, without building again', async () => {
    const main = join(app, 'dist', 'cli', 'main.js');
    const builtAt = (await stat(main)).mtimeMs;
    // The first npx in a checkout installs it into npm's npx cache (here a scratch one), and that runs "prepare".
    const env = { ...process.env, npm_config_cache: join(scratch, 'npm-cache'), npm_config_offline: 'true', npm_config_update_notifier: 'false' };
    for (const round of ['first', 'second']) {
      // --foreground-scripts: what "prepare" prints reaches the output checked below.
      const child = spawn('npx', ['--foreground-scripts', 'skep', 'help'], { cwd: app, env });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.equal(code, 0, `${round} npx skep help:\n${out}`);
      assert.match(out, /^usage: skep <command>/m);
      assert.doesNotMatch(out, /skep: build/, `the ${round} run did not build`);
    }
    assert.equal((await stat(main)).mtimeMs, builtAt, 'dist/ was left as it was');
  });

  test('npm ci does not type-check: prepare runs the build alone, and npm test runs npm run typecheck', async () => {
    const { scripts } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // prepare, with every `npm run X` it calls spelled out.
    const expand = (command: string, depth = 0): string =>
      depth > 5 ? command : command.replace(/npm run (?:--silent )?([\w:-]+)/g, (_, name: string) => expand(scripts[name] ?? '', depth + 1));
    const prepare = expand(scripts.prepare);
    assert.match(prepare, /node scripts\/build\.mjs/);
    assert.doesNotMatch(prepare, /\btsc\b|typecheck/);
    for (const config of ['tsconfig.tests.json', 'console/tsconfig.json', 'tsconfig.console-tests.json']) {
      assert.ok(scripts.typecheck.split(' && ').includes(`tsc -p ${config}`), `typecheck runs tsc -p ${config}`);
    }
    // The first of them holds the server, its tests and the bench to the server's options.
    const text = await readFile(join(ROOT, 'tsconfig.tests.json'), 'utf8');
    const tests = JSON.parse(text.replace(/^\s*\/\/.*$/gm, '')) as { extends: string; include: string[] };
    assert.equal(tests.extends, './tsconfig.json');
    assert.deepEqual(tests.include, ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts']);
    assert.match(await readFile(join(ROOT, 'test', 'typecheck.test.ts'), 'utf8'), /npm', \['run', '--silent', 'typecheck'\]/);
  });
});
