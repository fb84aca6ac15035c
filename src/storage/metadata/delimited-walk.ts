import { sql, type CompiledQuery, type Kysely, type RawBuilder } from 'kysely';
import { compiledOnce } from './prepared.js';
import type { DelimitedEntry, DelimitedListQuery, VersionPrefixes } from './metadata-store.js';
import type { Database } from './schema.js';
import { prefixSuccessor, tightestLowerBound, type KeyBound } from './key-order.js';
import type { ArrayRowReader } from './sqlite-array-rows.js';
import { SUMMARY_COLUMNS, summaryFromValues, toObjectSummary, type SummaryColumns } from './summary-rows.js';

// A delimiter listing page in one statement: a recursive query walks the keys from the start,
// and at each step either passes one key (the next seek is just past it) or, when the key has the
// delimiter after the prefix, passes its whole common prefix with one seek to the first key after
// it: the prefix up to the delimiter, then the delimiter's successor. Done from code, each of those
// seeks was a statement of its own (a call into the driver, SQLite's read locks, or a round trip
// to PostgreSQL), 16-54 ms for a page of 1000 common prefixes; here it is a B-tree seek.
//
// Positions are found by the database's own substr/length/instr (SQLite) or strpos (PostgreSQL),
// so they count in its units whatever they are; keys compare by bytes (BINARY, COLLATE "C").

/** The SQL the walks are written in: SQLite's or PostgreSQL's (text search, joins). */
export type WalkDialect = 'sqlite' | 'postgres';

/** What a walk's SQL depends on; each distinct shape is compiled once per database. */
interface WalkShape {
  dialect: WalkDialect;
  tables: ReadonlyArray<'objects' | 'object_versions'>;
  /** The walk starts at its lower bound (>=) rather than just past it (>). */
  inclusive: boolean;
  /** The range has an upper bound (key < upper). */
  bounded: boolean;
}

/** The values a walk's SQL takes as parameters (and nothing else does). */
interface WalkValues {
  bucketId: string;
  prefix: string;
  delimiter: string;
  /** The delimiter's successor: where the keys after a common prefix begin. */
  past: string;
  lower: string;
  upper: string;
  limit: number;
}

const WALK_VALUES = ['bucketId', 'prefix', 'delimiter', 'past', 'lower', 'upper', 'limit'] as const satisfies ReadonlyArray<keyof WalkValues>;

/** The shape and values of a listing's walk, or null when it cannot be walked this way. */
function walkOf(bucketId: string, q: DelimitedListQuery): { shape: Omit<WalkShape, 'dialect' | 'tables'>; values: WalkValues } | null {
  const { prefix, delimiter } = q;
  if (!delimiter || !plainText(prefix) || !plainText(delimiter)) return null;
  const past = prefixSuccessor(delimiter);
  if (past === null) return null;
  const upper = q.range ? prefixSuccessor(q.range) : null;
  const bounds: KeyBound[] = [];
  if (q.from !== undefined) bounds.push({ key: q.from, inclusive: true });
  if (q.after !== undefined) bounds.push({ key: q.after, inclusive: false });
  const lower = tightestLowerBound([q.range ? { key: q.range, inclusive: true } : undefined, ...bounds]) ?? { key: '', inclusive: true };
  return {
    shape: { inclusive: lower.inclusive, bounded: upper !== null },
    values: { bucketId, prefix, delimiter, past, lower: lower.key, upper: upper ?? '', limit: q.limit },
  };
}

/** The pieces both walks are made of, from the values (or stand-ins for them, when compiling). */
function walkParts(v: WalkValues, shape: WalkShape) {
  const text = (value: string) => sql`cast(${value} as text)`;
  const find = sql.raw(shape.dialect === 'sqlite' ? 'instr' : 'strpos');
  // The position of the delimiter in what follows the prefix (0: none).
  const delimiterAt = (k: RawBuilder<unknown>) => sql`${find}(substr(${k}, length(${text(v.prefix)}) + 1), ${text(v.delimiter)})`;
  const below = shape.bounded ? sql`and key < ${v.upper}` : sql``;
  const first = (table: string, op: '>' | '>=', bound: RawBuilder<unknown> | string) =>
    sql`(select key from ${sql.table(table)} where bucket_id = ${v.bucketId} and key ${sql.raw(op)} ${bound} ${below} order by key limit 1)`;
  // The first key past `bound` in the tables (several: the smallest of their first keys).
  const next = (op: '>' | '>=', bound: RawBuilder<unknown> | string) =>
    shape.tables.length === 1
      ? first(shape.tables[0], op, bound)
      : sql`(select min(k) from (${sql.join(shape.tables.map((t) => sql`select ${first(t, op, bound)} as k`), sql` union all `)}) as firsts)`;
  const k = sql.ref('w.k');
  // What precedes the delimiter in the common prefix, then the delimiter's successor.
  const pastCommonPrefix = sql`substr(${k}, 1, length(${text(v.prefix)}) + ${delimiterAt(k)} - 1) || ${text(v.past)}`;
  return { delimiterAt, next, k, start: next(shape.inclusive ? '>=' : '>', v.lower), pastCommonPrefix };
}

function objectsWalk(v: WalkValues, shape: WalkShape): RawBuilder<SummaryColumns> {
  const { delimiterAt, next, k, start, pastCommonPrefix } = walkParts(v, shape);
  // The objects' columns are joined for keys only: a null key (a common prefix) skips the lookup.
  // On PostgreSQL a lateral join (its limit keeps the planner from flattening it into a plain
  // join), so that each is an index lookup, never a hash of the bucket's rows.
  const key = sql`(case when ${delimiterAt(k)} = 0 then w.k end)`;
  // The summary columns but the key, which the walk gives (toObjectSummary reads them by name).
  const valueColumns = SUMMARY_COLUMNS.filter((c) => c !== 'key');
  const objectColumns =
    shape.dialect === 'sqlite'
      ? sql`left join objects o on o.bucket_id = ${v.bucketId} and o.key = ${key}`
      : sql`left join lateral (select ${sql.join(valueColumns.map((c) => sql.ref(c)))} from objects where bucket_id = ${v.bucketId} and key = ${key} limit 1) o on true`;
  return sql<SummaryColumns>`
    with recursive walk(n, k) as (
      select 1, ${start}
      union all
      select w.n + 1, case when ${delimiterAt(k)} = 0 then ${next('>', k)} else ${next('>=', pastCommonPrefix)} end
      from walk w where w.k is not null and w.n < ${v.limit}
    )
    select w.k as key, ${sql.join(valueColumns.map((c) => sql.ref(`o.${c}`)))}
    from walk w ${objectColumns}
    where w.k is not null
    order by w.n`;
}

function versionPrefixWalk(v: WalkValues, shape: WalkShape): RawBuilder<{ key: string }> {
  const { delimiterAt, next, k, start, pastCommonPrefix } = walkParts(v, shape);
  return sql<{ key: string }>`
    with recursive walk(n, k) as (
      select 1, ${start}
      union all
      select w.n + 1, ${next('>=', pastCommonPrefix)}
      from walk w where w.k is not null and w.n < ${v.limit} and ${delimiterAt(k)} > 0
    )
    select w.k as key from walk w where w.k is not null order by w.n`;
}

type WalkBuild<R> = (v: WalkValues, shape: WalkShape) => RawBuilder<R>;
type WalkStatement = (db: Kysely<Database>, ...values: unknown[]) => CompiledQuery<unknown>;

/** Each walk's statements, by shape. */
const statements = new WeakMap<WalkBuild<unknown>, Map<string, WalkStatement>>();

/**
 * Building and compiling a walk costs more than a tenth of a page's CPU, and its SQL depends only
 * on its shape: each shape is compiled once (compiledOnce), its values passed as parameters.
 */
function compiledWalk<R>(db: Kysely<Database>, build: WalkBuild<R>, values: WalkValues, shape: WalkShape): CompiledQuery<R> {
  let byShape = statements.get(build);
  if (!byShape) statements.set(build, (byShape = new Map()));
  const name = `${shape.dialect} ${shape.tables.join(',')} ${shape.inclusive} ${shape.bounded}`;
  let statement = byShape.get(name);
  if (!statement) {
    // The values by name, from arguments in WALK_VALUES' order; a value may fill several parameters (or none).
    const named = (args: unknown[]) => Object.fromEntries(WALK_VALUES.map((n, i) => [n, args[i]])) as unknown as WalkValues;
    statement = compiledOnce((d: Kysely<Database>, ...args: unknown[]) => ({ compile: () => build(named(args), shape).compile(d) }), { anyUses: true });
    byShape.set(name, statement);
  }
  return statement(db, ...WALK_VALUES.map((n) => values[n])) as CompiledQuery<R>;
}

/**
 * The walk's query, or null when the listing cannot be walked this way (which depends on its
 * prefix and delimiter alone; each range starts with the prefix): no delimiter, a
 * delimiter made only of U+10FFFF (no successor within it), or a prefix or delimiter that is not
 * well-formed text or contains NUL (SQLite's length() stops there).
 */
export function delimitedWalkQuery(bucketId: string, q: DelimitedListQuery, dialect: WalkDialect): { compile(db: Kysely<Database>): CompiledQuery<SummaryColumns> } | null {
  const walk = walkOf(bucketId, q);
  if (walk === null) return null;
  const shape: WalkShape = { ...walk.shape, dialect, tables: ['objects'] };
  return { compile: (db) => compiledWalk(db, objectsWalk, walk.values, shape) };
}

/**
 * ListObjectVersions' walk: from the position, the keys of the common prefixes in a row (up to
 * `limit`), each passed with one seek over both the current objects and the stored versions, and
 * then the first key outside a common prefix, if any (where the page's versions resume).
 */
export function versionPrefixWalkQuery(bucketId: string, q: DelimitedListQuery, dialect: WalkDialect): { compile(db: Kysely<Database>): CompiledQuery<{ key: string }> } | null {
  const walk = walkOf(bucketId, q);
  if (walk === null) return null;
  const shape: WalkShape = { ...walk.shape, dialect, tables: ['objects', 'object_versions'] };
  return { compile: (db) => compiledWalk(db, versionPrefixWalk, walk.values, shape) };
}

/** Runs the walk: entries in key order, or null when this listing must be paged from code. */
export async function listDelimited(
  db: Kysely<Database>,
  bucketId: string,
  q: DelimitedListQuery,
  dialect: WalkDialect,
  arrayRows: ArrayRowReader | undefined,
): Promise<DelimitedEntry[] | null> {
  const query = delimitedWalkQuery(bucketId, q, dialect);
  if (query === null) return null;
  if (q.limit <= 0) return [];
  const { prefix, delimiter } = q;
  const commonPrefix = (key: string) => key.slice(0, key.indexOf(delimiter, prefix.length) + delimiter.length);
  const compiled = query.compile(db);
  if (arrayRows) {
    // A row without the object's columns is a common prefix (size is never null).
    return (await arrayRows({ compile: () => compiled })).map((v) => (v[1] === null ? commonPrefix(v[0] as string) : summaryFromValues(v)));
  }
  return (await db.executeQuery(compiled)).rows.map((r) => (r.size === null ? commonPrefix(r.key) : toObjectSummary(r)));
}

/**
 * Runs the versions walk: up to `limit` common prefixes in a row from the position, and the key
 * where versions resume after them (none: the range ends there or the limit was reached); null
 * when this listing must be paged from code.
 */
export async function listVersionPrefixes(
  db: Kysely<Database>,
  bucketId: string,
  q: DelimitedListQuery,
  dialect: WalkDialect,
): Promise<VersionPrefixes | null> {
  const query = versionPrefixWalkQuery(bucketId, q, dialect);
  if (query === null) return null;
  const out: VersionPrefixes = { commonPrefixes: [] };
  if (q.limit <= 0) return out;
  for (const { key } of (await db.executeQuery(query.compile(db))).rows) {
    const idx = key.indexOf(q.delimiter, q.prefix.length);
    if (idx < 0) out.resume = key;
    else out.commonPrefixes.push(key.slice(0, idx + q.delimiter.length));
  }
  return out;
}

/** Well-formed UTF-16 (no lone surrogate) without NUL. */
function plainText(s: string): boolean {
  return !s.includes('\u0000') && Buffer.from(s, 'utf8').toString('utf8') === s;
}
