// Every metadata transaction runs through here: one place that runs it again when the database
// says it lost a race it could not order (PostgreSQL's serialization failures and deadlocks, as
// StoreError 'retryable'), with a short random back-off so the racers do not collide again.

import type { IsolationLevel, Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isStoreError, type StoreErrorKind } from './store-errors.js';

const MAX_ATTEMPTS = 8;

export interface TransactionOptions {
  isolation?: IsolationLevel;
  readOnly?: boolean;
  /** Other failures that mean "run again" for this transaction (e.g. 'foreign-key' when a row it deletes gained a child meanwhile). */
  alsoRetry?: StoreErrorKind[];
}

export async function inTransaction<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let builder = db.transaction();
    if (opts.isolation) builder = builder.setIsolationLevel(opts.isolation);
    if (opts.readOnly) builder = builder.setAccessMode('read only');
    try {
      return await builder.execute(fn);
    } catch (err) {
      const again = isStoreError(err) && (err.kind === 'retryable' || !!opts.alsoRetry?.includes(err.kind));
      if (!again || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}
