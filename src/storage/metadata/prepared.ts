import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';

// Queries of the request path whose shape never changes (the credential, the bucket, the object
// row), compiled once per database handle instead of on every call. Building and compiling a
// Kysely query costs more than SQLite takes to run it: freezing a tree of nodes and printing SQL,
// three or four times per request. The builder runs once with placeholder arguments; each call
// then reuses its SQL and puts the real values where the placeholders went.
//
// Only for builders whose SQL does not depend on the argument values: each argument must be
// used once, as a plain parameter (`where(col, '=', arg)`), never to pick a column, a table or a
// list's length. The first compilation checks that every argument became exactly one parameter.
// (compiledOnce with `anyUses` lets an argument fill several parameters, or none: the delimiter
// walks use a value in several places, and some of their shapes leave one out.)

/**
 * Runs a read-only statement at once when the database can (SQLite, its connection idle), by
 * dialect adapter; undefined sends the query through Kysely's executor as usual.
 */
type ImmediateRead = (sql: string, parameters: readonly unknown[]) => QueryResult<unknown> | undefined;
const immediateReads = new WeakMap<object, ImmediateRead>();

export function registerImmediateReads(adapter: object, read: ImmediateRead): void {
  immediateReads.set(adapter, read);
}

const PLACEHOLDER = '\u0000skep-prepared-argument:';

interface Template {
  sql: string;
  query: CompiledQuery['query'];
  queryId: CompiledQuery['queryId'];
  /** For each parameter: the index of the argument that fills it, or a constant of the builder. */
  slots: Array<number | { value: unknown }>;
}

type Build<DB, A extends unknown[], R> = (db: Kysely<DB>, ...args: A) => Compilable<R>;

/**
 * `build` compiled once per database, and shared by its transactions (they compile alike); a
 * handle with plugins of its own is compiled for itself, and a transaction of one each time.
 * Each call returns the statement with its own arguments in place.
 */
export function compiledOnce<DB, A extends unknown[], R>(build: Build<DB, A, R>, opts: { anyUses?: boolean } = {}): (db: Kysely<DB>, ...args: A) => CompiledQuery<R> {
  const templates = new WeakMap<object, Template>();
  return (db, ...args) => {
    const key = compilerKey(db);
    let t = key && templates.get(key);
    if (!t) {
      t = compileTemplate(build, db, args.length, opts.anyUses ?? false);
      if (key) templates.set(key, t);
    }
    const parameters = t.slots.map((s) => (typeof s === 'number' ? args[s] : s.value));
    return { sql: t.sql, query: t.query, queryId: t.queryId, parameters };
  };
}

/** A query function: `build` compiled once (compiledOnce), then run; a read on an idle SQLite connection runs at once. */
export function prepared<DB, A extends unknown[], R>(build: Build<DB, A, R>): (db: Kysely<DB>, ...args: A) => Promise<QueryResult<R>> {
  const compile = compiledOnce(build);
  return async (db, ...args) => {
    const compiled = compile(db, ...args);
    const key = db.isTransaction ? null : compilerKey(db);
    const now = key ? immediateReads.get(key)?.(compiled.sql, compiled.parameters) : undefined;
    if (now) return now as QueryResult<R>;
    return db.executeQuery<R>(compiled);
  };
}

/**
 * What a handle's SQL depends on: its database's dialect adapter (one per Kysely instance, the
 * same object in its transactions), unless plugins may rewrite the queries; then the handle
 * itself, if it lasts.
 */
function compilerKey<DB>(db: Kysely<DB>): object | null {
  const executor = db.getExecutor();
  if (executor.plugins.length === 0) return executor.adapter;
  return db.isTransaction ? null : db;
}

function compileTemplate<DB, A extends unknown[], R>(build: Build<DB, A, R>, db: Kysely<DB>, arity: number, anyUses: boolean): Template {
  const placeholders = Array.from({ length: arity }, (_, i) => `${PLACEHOLDER}${i}`) as A;
  const compiled = build(db, ...placeholders).compile();
  // Only a placeholder as it was passed is an argument's slot; anything else is a constant.
  const slots = compiled.parameters.map((p): number | { value: unknown } => {
    const i = placeholders.indexOf(p as A[number]);
    return i >= 0 ? i : { value: p };
  });
  for (let i = 0; i < arity && !anyUses; i++) {
    const uses = slots.filter((s) => s === i).length;
    if (uses !== 1) throw new Error(`prepared query: argument ${i} became ${uses} parameters (it must be used once, as a value): ${compiled.sql}`);
  }
  // A constant made from a placeholder (a suffix added, a character changed) would keep the first call's value.
  if (slots.some((s) => typeof s !== 'number' && typeof s.value === 'string' && s.value.includes(PLACEHOLDER))) {
    throw new Error(`prepared query: an argument was changed before it became a parameter: ${compiled.sql}`);
  }
  if (compiled.sql.includes(PLACEHOLDER)) throw new Error(`prepared query: an argument was written into the SQL itself: ${compiled.sql}`);
  return { sql: compiled.sql, query: compiled.query, queryId: compiled.queryId, slots };
}
