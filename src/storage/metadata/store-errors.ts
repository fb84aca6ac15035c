// The one place where database errors become store errors. SQLite and PostgreSQL report the same
// conditions differently (SQLITE_CONSTRAINT_UNIQUE vs SQLSTATE 23505, ...); every statement's
// error goes through translate() — on SQLite where the statement runs (sqlite-dialect.ts), on
// PostgreSQL on the connections wrapped below — so the store and the services above it see one
// typed error whatever the engine, and transactions retry the failures that are only bad timing.

import type {
  DatabaseConnection,
  Dialect,
  Driver,
  CompiledQuery,
  QueryResult,
  TransactionSettings,
  Kysely,
} from 'kysely';
import { errorCode } from '../../util/error-code.js';

export type StoreErrorKind =
  /** A unique key or primary key is taken. */
  | 'unique'
  /** A row refers to one that does not exist (insert), or one still referred to was deleted. */
  | 'foreign-key'
  /** The transaction lost a race the database could not order (serialization failure, deadlock): run it again. */
  | 'retryable'
  /** A value PostgreSQL cannot take (text with NUL, a NOT NULL or CHECK broken): it fails again every time. */
  | 'data';

export class StoreError extends Error {
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export function isStoreError(err: unknown, kind?: StoreErrorKind): err is StoreError {
  return err instanceof StoreError && (kind === undefined || err.kind === kind);
}

/** better-sqlite3's SqliteError codes. */
export function classifySqliteError(err: unknown): StoreErrorKind | null {
  switch (errorCode(err)) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return 'unique';
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreign-key';
    default:
      return null;
  }
}

/** node-postgres errors carry the SQLSTATE in `code`. */
export function classifyPostgresError(err: unknown): StoreErrorKind | null {
  switch (errorCode(err)) {
    case '23505': // unique_violation
      return 'unique';
    case '23503': // foreign_key_violation
      return 'foreign-key';
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
      return 'retryable';
    default:
      // Class 22 (data exception) and the rest of class 23 (integrity constraint violation).
      return /^2[23][0-9A-Z]{3}$/.test(errorCode(err) ?? '') ? 'data' : null;
  }
}

type Classify = (err: unknown) => StoreErrorKind | null;

type OnError = ((err: unknown) => void) | undefined;

/** The StoreError for `err` when `classify` knows it; `onError` hears of the others. */
export function translate(err: unknown, classify: Classify, onError: OnError): unknown {
  if (err instanceof StoreError) return err;
  const kind = classify(err);
  // A value the database refused is a fault as much as an unreachable one: it is reported too.
  if (!kind || kind === 'data') onError?.(err);
  return kind ? new StoreError(kind, (err as Error).message, { cause: err }) : err;
}

/**
 * `dialect` with every statement's error translated by `classify`; `onError` hears of the others
 * (the database unreachable, a statement that failed for another reason).
 */
export function translatingErrors<D extends Dialect>(dialect: D, classify: Classify, onError?: OnError): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db: Kysely<any>) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => new TranslatingDriver(dialect.createDriver(), classify, onError),
  };
}

class TranslatingDriver implements Driver {
  private readonly wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly classify: Classify,
    private readonly onError: OnError,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let conn: DatabaseConnection;
    try {
      conn = await this.inner.acquireConnection();
    } catch (err) {
      throw translate(err, this.classify, this.onError);
    }
    let outer = this.wrapped.get(conn);
    if (!outer) {
      const { classify, onError } = this;
      outer = {
        async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
          try {
            return await conn.executeQuery<R>(q);
          } catch (err) {
            throw translate(err, classify, onError);
          }
        },
        streamQuery<R>(q: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
          return conn.streamQuery<R>(q, chunkSize);
        },
      };
      this.wrapped.set(conn, outer);
      inners.set(outer, conn);
    }
    return outer;
  }

  beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.guard(() => this.inner.beginTransaction(innerOf(conn), settings));
  }

  commitTransaction(conn: DatabaseConnection): Promise<void> {
    return this.guard(() => this.inner.commitTransaction(innerOf(conn)));
  }

  rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(innerOf(conn));
  }

  releaseConnection(conn: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf(conn));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }

  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      // A commit can fail with a serialization failure, too.
      throw translate(err, this.classify, this.onError);
    }
  }
}

const inners = new WeakMap<DatabaseConnection, DatabaseConnection>();
const innerOf = (conn: DatabaseConnection): DatabaseConnection => inners.get(conn) ?? conn;
