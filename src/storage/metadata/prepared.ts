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

const PLACEHOLDER = '\u0000skep-prepared-argument:';

interface Template {
  sql: string;
  query: CompiledQuery['query'];
  queryId: CompiledQuery['queryId'];
  /** For each parameter: the index of the argument that fills it, or a constant of the builder. */
  slots: Array<number | { value: unknown }>;
}

/** A query function: `build` compiled once per handle (a transaction is compiled each time: it is a handle of its own). */
export function prepared<DB, A extends unknown[], R>(build: (db: Kysely<DB>, ...args: A) => Compilable<R>): (db: Kysely<DB>, ...args: A) => Promise<QueryResult<R>> {
  const templates = new WeakMap<Kysely<DB>, Template>();
  return async (db, ...args) => {
    let t = templates.get(db);
    if (!t) {
      t = compileTemplate(build, db, args.length);
      if (!db.isTransaction) templates.set(db, t);
    }
    const parameters = t.slots.map((s) => (typeof s === 'number' ? args[s] : s.value));
    return db.executeQuery<R>({ sql: t.sql, query: t.query, queryId: t.queryId, parameters });
  };
}

function compileTemplate<DB, A extends unknown[], R>(build: (db: Kysely<DB>, ...args: A) => Compilable<R>, db: Kysely<DB>, arity: number): Template {
  const placeholders = Array.from({ length: arity }, (_, i) => `${PLACEHOLDER}${i}`) as A;
  const compiled = build(db, ...placeholders).compile();
  const slots = compiled.parameters.map((p): number | { value: unknown } =>
    typeof p === 'string' && p.startsWith(PLACEHOLDER) ? Number(p.slice(PLACEHOLDER.length)) : { value: p },
  );
  for (let i = 0; i < arity; i++) {
    const uses = slots.filter((s) => s === i).length;
    if (uses !== 1) throw new Error(`prepared query: argument ${i} became ${uses} parameters (it must be used once, as a value): ${compiled.sql}`);
  }
  if (compiled.sql.includes(PLACEHOLDER)) throw new Error(`prepared query: an argument was written into the SQL itself: ${compiled.sql}`);
  return { sql: compiled.sql, query: compiled.query, queryId: compiled.queryId, slots };
}
