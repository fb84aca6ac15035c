// For tests and the scale bench on the SQLite store: object rows written straight into its file,
// where the store's own writes (a group commit each) would take minutes, or days at 10^7 rows.

import { sqliteDriver } from './sqlite-driver.js';

export interface InsertObjectsOptions {
  /** Removes the bucket's rows first (after reading the template), so it holds exactly `count`. */
  replace?: boolean;
  /** Rows per transaction (default: all in one); keeps the WAL small for millions of rows. */
  rowsPerTransaction?: number;
  /** Called after each transaction with the rows inserted so far. */
  progress?: (rows: number) => void;
}

/**
 * Inserts `count` object rows like the bucket's first one, each with the columns `columns(i)`
 * gives (its key at least), then checkpoints the WAL: nothing is left in it for a checkpointer
 * to copy while the caller measures.
 */
export function insertObjectsLike(
  file: string,
  bucketId: string,
  count: number,
  columns: (i: number) => Record<string, unknown>,
  opts: InsertObjectsOptions = {},
): void {
  const db = new (sqliteDriver())(file);
  try {
    const template = db.prepare('select * from objects where bucket_id = ? limit 1').get(bucketId) as Record<string, unknown>;
    const names = Object.keys(template);
    const position = new Map(names.map((name, i) => [name, i]));
    const base = names.map((name) => template[name]);
    const insert = db.prepare(`insert into objects (${names.map((c) => `"${c}"`).join(', ')}) values (${names.map(() => '?').join(', ')})`);
    if (opts.replace) db.prepare('delete from objects where bucket_id = ?').run(bucketId);
    const perTransaction = opts.rowsPerTransaction ?? count;
    for (let from = 0; from < count; from += perTransaction) {
      const to = Math.min(count, from + perTransaction);
      db.transaction(() => {
        for (let i = from; i < to; i++) {
          const values = base.slice();
          for (const [name, value] of Object.entries(columns(i))) {
            const at = position.get(name);
            if (at === undefined) throw new Error(`objects has no column ${name}`);
            values[at] = value;
          }
          insert.run(values);
        }
      })();
      opts.progress?.(to);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
