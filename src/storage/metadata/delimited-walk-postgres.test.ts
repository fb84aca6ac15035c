// test-engines: postgres
// The walks' plans on PostgreSQL: every seek can use the (bucket_id, key) indexes, i.e. each
// comparison is made in the keys' byte-order collation (COLLATE "C"), never the database's own
// (ICU en-US in the test cluster). Sequential scans are turned off so that a small table's plan
// says what the index allows, not what is cheapest for a few rows.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { engine, freshSchemaUrl } from '../../../test/helpers/engines.js';
import { openPostgresStore } from './postgres-store.js';
import { delimitedWalkQuery, versionPrefixWalkQuery } from './delimited-walk.js';
import type { Database } from './schema.js';

const available = engine('postgres');

test('the walks seek the key indexes in byte order and scan no table', { skip: available.skip }, async () => {
  available.require();
  const url = await freshSchemaUrl();
  await (await openPostgresStore(url, { poolSize: 1 })).close(); // creates the schema
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  // Only compiles here; the plans are read on a client of its own.
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('set enable_seqscan = off');
    const q = { range: 'photos/', prefix: 'photos/', delimiter: '/', after: 'photos/a', limit: 1001 };
    for (const query of [delimitedWalkQuery('bucket', q, 'postgres')!, versionPrefixWalkQuery('bucket', q, 'postgres')!]) {
      const compiled = query.compile(db);
      const plan = (await client.query(`explain ${compiled.sql}`, [...compiled.parameters])).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      // The first key: a bound on the key in the index, not a filter applied row by row. (The
      // plan does not show the steps' subqueries; they are the same seek from the row before.)
      assert.match(plan, /Index Only Scan using objects_pk on objects\b[^\n]*\n\s+Index Cond: \(\(bucket_id = .*\) AND \(key > .*\) AND \(key < .*\)\)/, plan);
      if (compiled.sql.includes('object_versions')) {
        assert.match(plan, /Index Only Scan using object_versions_\w+ on object_versions\b[^\n]*\n\s+Index Cond: \(\(bucket_id = .*\) AND \(key > .*\) AND \(key < .*\)\)/, plan);
      } else {
        // The objects' columns: one index lookup per key, never a hash of the bucket's rows.
        assert.match(plan, /Nested Loop Left Join[\s\S]*Index Scan using objects_pk on objects\b[^\n]*\n\s+Index Cond: \(\(bucket_id = .*\) AND \(key = CASE/, plan);
        assert.doesNotMatch(plan, /Hash/, plan);
      }
    }
  } finally {
    await client.end();
    await db.destroy();
  }
});
