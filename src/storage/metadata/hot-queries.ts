import type { DeleteResult, Kysely, QueryResult, UpdateResult } from 'kysely';
import { prepared } from './prepared.js';
import type { Database, ObjectsTable } from './schema.js';

// The statements every signed request runs (its credential, its bucket) and every small PUT and
// GET runs (the object row), compiled once per database (see prepared.ts).

type Db = Kysely<Database>;

/** A token by access key ID, with its project's token-lifetime cap. */
export const credentialByAccessKey = prepared((db: Db, accessKeyId: string) =>
  db
    .selectFrom('tokens')
    .innerJoin('projects', 'projects.id', 'tokens.project_id')
    .selectAll('tokens')
    .select('projects.max_token_days as project_max_token_days')
    .where('tokens.access_key_id', '=', accessKeyId),
);

/** A bucket, one row per setting (one row of nulls on the right without any), with its project's quota. */
export const bucketWithSettings = prepared((db: Db, projectId: string, name: string) =>
  db
    .selectFrom('buckets as b')
    .innerJoin('projects as p', 'p.id', 'b.project_id')
    .leftJoin('bucket_settings as s', 's.bucket_id', 'b.id')
    .select(['b.id', 'b.project_id', 'b.name', 'b.region', 'b.created_at', 's.name as setting', 's.value', 'p.quota_bytes', 'p.quota_objects'])
    .where('b.project_id', '=', projectId)
    .where('b.name', '=', name),
);

/** The current object row of a key. */
export const objectByKey = prepared((db: Db, bucketId: string, key: string) => db.selectFrom('objects').selectAll().where('bucket_id', '=', bucketId).where('key', '=', key));

/** What a compare-and-swap write of a key needs of the row it replaces. */
export const objectVersionOf = prepared((db: Db, bucketId: string, key: string) =>
  db.selectFrom('objects').select(['etag', 'blobs', 'version_id']).where('bucket_id', '=', bucketId).where('key', '=', key),
);

/** Every column of objects, in the order whole-row statements bind them. */
export const OBJECT_COLUMNS = [
  'bucket_id', 'key', 'size', 'etag', 'last_modified', 'headers', 'user_metadata', 'checksum', 'blobs', 'parts_count',
  'tags', 'storage_class', 'version_id', 'seq', 'encryption', 'lock_mode', 'lock_until', 'legal_hold', 'acl',
] as const satisfies ReadonlyArray<keyof ObjectsTable>;
/** Compiles only while OBJECT_COLUMNS names every column of the table: the insert writes whole rows. */
const everyColumn: [Exclude<keyof ObjectsTable, (typeof OBJECT_COLUMNS)[number]>] extends [never] ? true : never = true;
void everyColumn;

const insertObjectRow = prepared((db: Db, ...values: unknown[]) =>
  db
    .insertInto('objects')
    .values(Object.fromEntries(OBJECT_COLUMNS.map((c, i) => [c, values[i]])) as unknown as ObjectsTable)
    .onConflict((oc) => oc.columns(['bucket_id', 'key']).doNothing()),
);

/** Inserts an object row unless the key has one; true when it did. */
export async function insertObjectIfAbsent(db: Db, row: ObjectsTable): Promise<boolean> {
  return rowsChanged(await insertObjectRow(db, ...OBJECT_COLUMNS.map((c) => row[c])));
}

/** Whether a write changed any row (an insert, update or delete, compiled or built). */
export function rowsChanged(r: QueryResult<unknown> | UpdateResult | DeleteResult): boolean {
  const n = 'numUpdatedRows' in r ? r.numUpdatedRows : 'numDeletedRows' in r ? r.numDeletedRows : r.numAffectedRows;
  return Number(n ?? 0) > 0;
}
