import { sql, type Compilable, type Kysely, type RawBuilder } from 'kysely';
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

/** The pieces both walks are made of, or null when the listing cannot be walked this way. */
function walkParts(bucketId: string, q: DelimitedListQuery, dialect: WalkDialect, tables: ReadonlyArray<'objects' | 'object_versions'>) {
  const { prefix, delimiter } = q;
  if (!delimiter || !plainText(prefix) || !plainText(delimiter)) return null;
  const past = prefixSuccessor(delimiter);
  if (past === null) return null;
  const text = (v: string) => sql`cast(${v} as text)`;
  const find = sql.raw(dialect === 'sqlite' ? 'instr' : 'strpos');
  // The position of the delimiter in what follows the prefix (0: none).
  const delimiterAt = (k: RawBuilder<unknown>) => sql`${find}(substr(${k}, length(${text(prefix)}) + 1), ${text(delimiter)})`;
  const upper = q.range ? prefixSuccessor(q.range) : null;
  const below = upper === null ? sql`` : sql`and key < ${upper}`;
  const first = (table: string, op: '>' | '>=', bound: RawBuilder<unknown> | string) =>
    sql`(select key from ${sql.table(table)} where bucket_id = ${bucketId} and key ${sql.raw(op)} ${bound} ${below} order by key limit 1)`;
  // The first key past `bound` in the tables (several: the smallest of their first keys).
  const next = (op: '>' | '>=', bound: RawBuilder<unknown> | string) =>
    tables.length === 1
      ? first(tables[0], op, bound)
      : sql`(select min(k) from (${sql.join(tables.map((t) => sql`select ${first(t, op, bound)} as k`), sql` union all `)}) as firsts)`;
  const bounds: KeyBound[] = [];
  if (q.from !== undefined) bounds.push({ key: q.from, inclusive: true });
  if (q.after !== undefined) bounds.push({ key: q.after, inclusive: false });
  const lower = tightestLowerBound([q.range ? { key: q.range, inclusive: true } : undefined, ...bounds]) ?? { key: '', inclusive: true };
  const k = sql.ref('w.k');
  // What precedes the delimiter in the common prefix, then the delimiter's successor.
  const pastCommonPrefix = sql`substr(${k}, 1, length(${text(prefix)}) + ${delimiterAt(k)} - 1) || ${text(past)}`;
  return { delimiterAt, next, k, start: next(lower.inclusive ? '>=' : '>', lower.key), pastCommonPrefix };
}

/**
 * The walk's query, or null when the listing cannot be walked this way (which depends on its
 * prefix and delimiter alone; each range starts with the prefix): no delimiter, a
 * delimiter made only of U+10FFFF (no successor within it), or a prefix or delimiter that is not
 * well-formed text or contains NUL (SQLite's length() stops there).
 */
export function delimitedWalkQuery(bucketId: string, q: DelimitedListQuery, dialect: WalkDialect): RawBuilder<SummaryColumns> | null {
  const parts = walkParts(bucketId, q, dialect, ['objects']);
  if (parts === null) return null;
  const { delimiterAt, next, k, start, pastCommonPrefix } = parts;
  // The objects' columns are joined for keys only: a null key (a common prefix) skips the lookup.
  // On PostgreSQL a lateral join (its limit keeps the planner from flattening it into a plain
  // join), so that each is an index lookup, never a hash of the bucket's rows.
  const key = sql`(case when ${delimiterAt(k)} = 0 then w.k end)`;
  // The summary columns but the key, which the walk gives (toObjectSummary reads them by name).
  const valueColumns = SUMMARY_COLUMNS.filter((c) => c !== 'key');
  const objectColumns =
    dialect === 'sqlite'
      ? sql`left join objects o on o.bucket_id = ${bucketId} and o.key = ${key}`
      : sql`left join lateral (select ${sql.join(valueColumns.map((c) => sql.ref(c)))} from objects where bucket_id = ${bucketId} and key = ${key} limit 1) o on true`;
  return sql<SummaryColumns>`
    with recursive walk(n, k) as (
      select 1, ${start}
      union all
      select w.n + 1, case when ${delimiterAt(k)} = 0 then ${next('>', k)} else ${next('>=', pastCommonPrefix)} end
      from walk w where w.k is not null and w.n < ${q.limit}
    )
    select w.k as key, ${sql.join(valueColumns.map((c) => sql.ref(`o.${c}`)))}
    from walk w ${objectColumns}
    where w.k is not null
    order by w.n`;
}

/**
 * ListObjectVersions' walk: from the position, the keys of the common prefixes in a row (up to
 * `limit`), each passed with one seek over both the current objects and the stored versions, and
 * then the first key outside a common prefix, if any (where the page's versions resume).
 */
export function versionPrefixWalkQuery(bucketId: string, q: DelimitedListQuery, dialect: WalkDialect): RawBuilder<{ key: string }> | null {
  const parts = walkParts(bucketId, q, dialect, ['objects', 'object_versions']);
  if (parts === null) return null;
  const { delimiterAt, next, k, start, pastCommonPrefix } = parts;
  return sql<{ key: string }>`
    with recursive walk(n, k) as (
      select 1, ${start}
      union all
      select w.n + 1, ${next('>=', pastCommonPrefix)}
      from walk w where w.k is not null and w.n < ${q.limit} and ${delimiterAt(k)} > 0
    )
    select w.k as key from walk w where w.k is not null order by w.n`;
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
  if (arrayRows) {
    const compilable: Compilable = { compile: () => query.compile(db) };
    // A row without the object's columns is a common prefix (size is never null).
    return (await arrayRows(compilable)).map((v) => (v[1] === null ? commonPrefix(v[0] as string) : summaryFromValues(v)));
  }
  return (await query.execute(db)).rows.map((r) => (r.size === null ? commonPrefix(r.key) : toObjectSummary(r)));
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
  for (const { key } of (await query.execute(db)).rows) {
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
