import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

// The SQLite driver for the Node.js release skep runs on. better-sqlite3 13 is a Node-API addon
// that ships its binaries and works on Node.js 22 and later, but crashes on 20; better-sqlite3
// 12 is built for one Node ABI, and on Node.js 24 its object wrappers abort the process when the
// garbage collector frees a statement at the wrong moment (a known crash of 12.x on 24). So 20
// uses 12, and 22 and later use 13 (installed under the name better-sqlite3-napi).
//
// Both are pinned to releases that bundle SQLite 3.53 (12.11.1: 3.53.2; 13.0.3: 3.53.4). From
// 3.54 on, a statement with a join or an ORDER BY and a `column = ?` term is parsed and planned
// again on its next run whenever its bindings are cleared, and the driver clears them after every
// run: the credential and bucket lookups of every request cost 3-4x (31 and 18 us against 7), a
// HEAD on Node.js 24 nearly twice its CPU. MAX_SQLITE_RELEASE holds the line
// (sqlite-store.test.ts); raise it only once a release keeps such statements prepared (compare
// `npm run bench` on Node.js 24).

/** The newest SQLite minor release known to keep joined and ordered statements prepared across runs. */
export const MAX_SQLITE_RELEASE = [3, 53] as const;

const require = createRequire(import.meta.url);

export type SqliteDriver = typeof BetterSqlite3;

/** The package name of the driver for a Node.js major version. */
export function sqliteDriverName(nodeMajor = Number(process.versions.node.split('.')[0])): 'better-sqlite3' | 'better-sqlite3-napi' {
  return nodeMajor >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';
}

let loaded: SqliteDriver | undefined;

/** The driver's Database class (loaded once). */
export function sqliteDriver(): SqliteDriver {
  loaded ??= require(sqliteDriverName()) as SqliteDriver;
  return loaded;
}
