#!/usr/bin/env node
// Another Node.js release for the smoke tests, without nodejs.org: the npm registry's `node`
// package (whose install step fetches `node-<os>-<arch>`, the official binary, from the same
// registry) goes into .cache/node-lts/<major>/, once. Nothing else is built for it: on 22 and
// later skep's SQLite driver is better-sqlite3 13, a Node-API addon whose package ships its
// binaries (src/storage/metadata/sqlite-driver.ts); the other addons are Node-API too.
//
//   node scripts/node-lts.mjs 24      prepares Node 24 and prints its path

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = join(ROOT, '.cache', 'node-lts');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

/** Installs node@<major> from the npm registry (once); returns its binary and version. */
export function prepareNode(major) {
  const prefix = join(CACHE, String(major));
  const node = join(prefix, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`node-lts: installing Node.js ${major} from the npm registry's "node" package into ${prefix}\n`);
    mkdirSync(prefix, { recursive: true });
    writeFileSync(join(prefix, 'package.json'), '{"private":true}\n');
    run('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `node@${major}`]);
    if (!existsSync(node)) throw new Error(`npm installed node@${major} but ${node} is missing`);
  }
  return { node, version: run(node, ['--version']) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { node, version } = prepareNode(process.argv[2] ?? '24');
    process.stdout.write(`${node} (${version})\n`);
  } catch (err) {
    process.stderr.write(`node-lts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
