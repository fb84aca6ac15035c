// For tests on the SQLite store at scale: object rows written straight into its file, in one
// transaction, where the store's own writes (a group commit each) would take minutes.

import { sqliteDriver } from './sqlite-driver.js';

/**
 * Inserts `count` object rows like the bucket's first one, each with the columns `columns(i)`
 * gives (its key at least), then checkpoints the WAL: nothing is left in it for a checkpointer
 * to copy while the test measures.
 */
export function insertObjectsLike(file: string, bucketId: string, count: number, columns: (i: number) => Record<string, unknown>): void {
  const db = new (sqliteDriver())(file);
  try {
    const template = db.prepare('select * from objects where bucket_id = ? limit 1').get(bucketId) as Record<string, unknown>;
    const names = Object.keys(template);
    const insert = db.prepare(`insert into objects (${names.map((c) => `"${c}"`).join(', ')}) values (${names.map(() => '?').join(', ')})`);
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const row = { ...template, ...columns(i) };
        insert.run(names.map((c) => row[c]));
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
