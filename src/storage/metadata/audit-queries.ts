// Queries for the audit log, over any Kysely<Database>.

import type { Kysely, Transaction } from 'kysely';
import type { AuditAction, AuditQuery, AuditRow } from './metadata-store.js';
import type { AuditTable, Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function appendAudit(db: Db, row: AuditRow): Promise<void> {
  const values: AuditTable = {
    id: row.id,
    at: row.at.getTime(),
    action: row.action,
    actor: row.actor,
    token_id: row.tokenId,
    project_id: row.projectId,
    bucket: row.bucket,
    source: row.source,
    detail: row.detail,
  };
  await db.insertInto('audit').values(values).execute();
}

export async function listAudit(db: Db, q: AuditQuery): Promise<AuditRow[]> {
  let query = db.selectFrom('audit').selectAll();
  if (q.projectId !== undefined) query = query.where('project_id', '=', q.projectId);
  if (q.tokenId !== undefined) query = query.where('token_id', '=', q.tokenId);
  if (q.actor !== undefined) query = query.where('actor', '=', q.actor);
  if (q.bucket !== undefined) query = query.where('bucket', '=', q.bucket);
  if (q.actions !== undefined) {
    // An empty list selects nothing (IN () is not valid SQL).
    if (q.actions.length === 0) return [];
    query = query.where('action', 'in', q.actions);
  }
  if (q.since !== undefined) query = query.where('at', '>=', q.since.getTime());
  if (q.until !== undefined) query = query.where('at', '<', q.until.getTime());
  if (q.before !== undefined) {
    const at = q.before.getTime();
    const beforeId = q.beforeId;
    query = beforeId === undefined
      ? query.where('at', '<', at)
      : query.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', beforeId)])]));
  }
  const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    at: new Date(Number(r.at)),
    action: r.action as AuditAction,
    actor: r.actor,
    tokenId: r.token_id,
    projectId: r.project_id,
    bucket: r.bucket,
    source: r.source,
    detail: r.detail,
  }));
}

export async function pruneAudit(db: Db, before: Date): Promise<number> {
  const result = await db.deleteFrom('audit').where('at', '<', before.getTime()).executeTakeFirst();
  return Number(result.numDeletedRows);
}
