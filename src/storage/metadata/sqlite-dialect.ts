// Kysely's SqliteDialect with three adjustments measured or needed for skep's load:
// - a FIFO hand-off of the single connection: Kysely's own mutex wakes every waiter on each
//   release (all re-check, one wins), which is quadratic under many concurrent requests
//   (20,000 concurrent getObject calls: ~400/s with it, ~70,000/s without);
// - prepared statements cached by SQL text (Kysely's driver prepares again on every query);
// - `begin immediate` instead of `begin` (except for read-only transactions), so a transaction
//   that reads then writes takes the write lock up front and waits (busy_timeout) rather than
//   failing with SQLITE_BUSY when another process wrote to the file between its read and write;
// - errors translated into StoreError where the statement runs (synchronously: no extra promise
//   per query, as a wrapped driver would cost; see store-errors.ts);
// - with a WalSync, a query or transaction that wrote resolves only once the WAL is flushed
//   (group commit, see wal-sync.ts); the flush is awaited after the connection is handed on, so
//   other requests use the database meanwhile and commit into the same flush.

import type BetterSqlite3 from 'better-sqlite3';
import type { WalSync } from './wal-sync.js';
import type { WalCheckpointer } from './wal-checkpointer.js';
import type { DurableSqlite } from './durable-sqlite.js';
import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
  type TransactionSettings,
  type DialectAdapter,
  type QueryResult,
} from 'kysely';
import { registerImmediateReads } from './prepared.js';

const STATEMENT_CACHE_SIZE = 256;

export class SkepSqliteDialect extends SqliteDialect {
  private readonly driverConfig: SqliteDialectConfig;

  private readonly writes: { pending: boolean };

  private driver: FifoSqliteDriver | null = null;

  /**
   * `translate` turns a statement's error into the one to throw (StoreError or itself); `durable`
   * makes writes durable before they resolve and checkpoints the WAL off the event loop once the
   * driver starts (none: an in-memory database).
   */
  constructor(
    raw: BetterSqlite3.Database,
    translate: (err: unknown) => unknown = (err) => err,
    private readonly durable: DurableSqlite | null = null,
  ) {
    const writes = { pending: false };
    const config: SqliteDialectConfig = { database: cachingStatements(raw, translate, writes) };
    super(config);
    this.driverConfig = config;
    this.writes = writes;
  }

  override createDriver(): Driver {
    const driver = new FifoSqliteDriver(this.driverConfig, this.writes, this.durable?.walSync ?? null, this.durable?.startCheckpoints() ?? null);
    this.driver = driver;
    return driver;
  }

  /** Kysely makes the driver, then the adapter: the adapter is the key prepared() finds reads by. */
  override createAdapter(): DialectAdapter {
    const adapter = super.createAdapter();
    const driver = this.driver;
    if (driver) registerImmediateReads(adapter, (sql, parameters) => driver.readNow(sql, parameters));
    return adapter;
  }
}

class FifoSqliteDriver extends SqliteDriver {
  private readonly lock = new FifoLock();
  private readonly statements: CachingStatements;
  private destroyed = false;

  constructor(
    config: SqliteDialectConfig,
    /** Set by any statement that writes; taken by the holder of the connection when it lets go. */
    private readonly writes: { pending: boolean },
    private readonly walSync: WalSync | null,
    private readonly checkpointer: WalCheckpointer | null,
  ) {
    super(config);
    this.statements = config.database as CachingStatements;
  }

  /**
   * A read-only statement run at once, when nobody holds the connection (so no transaction is
   * open on it): what acquire, run and release would do, without their promises, which cost a
   * point read more than SQLite does. undefined: take the queue (the connection is busy, or the
   * statement writes).
   */
  readNow(sql: string, parameters: readonly unknown[]): QueryResult<unknown> | undefined {
    if (this.destroyed || !this.lock.free) return undefined;
    const stmt = this.statements.prepare(sql);
    if (!stmt.readonly) return undefined;
    return { rows: stmt.all(parameters) };
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire();
    // Only the lock holder gets here, so the parent's own mutex is always free.
    return super.acquireConnection();
  }

  override async releaseConnection(): Promise<void> {
    // Only the holder ran statements since it acquired the connection: the writes are its own.
    const wrote = this.writes.pending;
    this.writes.pending = false;
    await super.releaseConnection();
    this.lock.release();
    if (wrote && this.walSync) await this.walSync.sync();
  }

  override async destroy(): Promise<void> {
    this.destroyed = true;
    await this.walSync?.close();
    await this.checkpointer?.close();
    await super.destroy();
  }

  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    // A read-only transaction only needs a snapshot; it must not hold the write lock.
    const begin = settings?.accessMode === 'read only' ? 'begin' : 'begin immediate';
    await connection.executeQuery(CompiledQuery.raw(begin));
  }
}

/** A mutex that hands over to the longest waiter, waking only that one. */
class FifoLock {
  private held = false;
  private waiters: Array<() => void> = [];
  private head = 0;

  get free(): boolean {
    return !this.held;
  }

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head++];
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      next(); // ownership passes on; `held` stays true
    } else {
      this.waiters = [];
      this.head = 0;
      this.held = false;
    }
  }
}

/** A statement of the cache, with SQLite's own answer to whether it only reads. */
type CachedStatement = SqliteStatement & { readonly readonly: boolean };

interface CachingStatements extends SqliteDatabase {
  prepare(sql: string): CachedStatement;
}

function cachingStatements(raw: BetterSqlite3.Database, translate: (err: unknown) => unknown, writes: { pending: boolean }): CachingStatements {
  const cache = new Map<string, CachedStatement>();
  return {
    close: () => raw.close(),
    prepare(sql: string): CachedStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        const prepared = raw.prepare(sql);
        // SQLite's own answer: false for inserts, updates and deletes (with RETURNING or not).
        stmt = { ...translating(objectRows(prepared), translate, prepared.readonly ? null : writes), readonly: prepared.readonly };
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

/**
 * The statement, returning rows as objects built in JavaScript from its rows as arrays. The
 * driver builds each row object through V8's API, one property at a time, which cost a third of
 * a point read (the object row: 18 us against 12); a constructor compiled for the statement's
 * columns makes objects of one fixed shape.
 */
function objectRows(stmt: BetterSqlite3.Statement): SqliteStatement {
  if (!stmt.reader) return stmt as unknown as SqliteStatement;
  const rows = stmt.raw(true);
  const make = rowMaker(rows.columns().map((c) => c.name));
  return {
    reader: true,
    all: (parameters) => (rows.all(...parameters) as unknown[][]).map(make),
    run: (parameters) => rows.run(...parameters),
    *iterate(parameters) {
      for (const row of rows.iterate(...parameters) as IterableIterator<unknown[]>) yield make(row);
    },
  } as SqliteStatement;
}

/** `(row) => ({ name0: row[0], ... })` for these column names (a later duplicate name wins, as in the driver). */
function rowMaker(names: string[]): (row: unknown[]) => Record<string, unknown> {
  const fields = names.map((name, i) => `${JSON.stringify(name)}: row[${i}]`).join(', ');
  return new Function('row', `return { ${fields} };`) as (row: unknown[]) => Record<string, unknown>;
}

/** The statement, with the errors of its runs translated, and its runs noted in `writes` if it writes. */
function translating(stmt: SqliteStatement, translate: (err: unknown) => unknown, writes: { pending: boolean } | null): SqliteStatement {
  return {
    reader: stmt.reader,
    all(parameters) {
      if (writes) writes.pending = true;
      try {
        return stmt.all(parameters);
      } catch (err) {
        throw translate(err);
      }
    },
    run(parameters) {
      if (writes) writes.pending = true;
      try {
        return stmt.run(parameters);
      } catch (err) {
        throw translate(err);
      }
    },
    iterate(parameters) {
      try {
        return stmt.iterate(parameters);
      } catch (err) {
        throw translate(err);
      }
    },
  };
}
