// Queries for console users, project memberships and sessions, over any Kysely<Database>.

import type { Kysely, Transaction } from 'kysely';
import type { MembershipRow, ProjectMemberRow, ProjectRole, SessionRow, UserRow } from './metadata-store.js';
import type { Database, SessionsTable, UsersTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

function toUser(r: UsersTable): UserRow {
  return { id: r.id, email: r.email, passwordHash: r.password_hash, createdAt: new Date(Number(r.created_at)) };
}

function toSession(r: SessionsTable): SessionRow {
  return {
    id: r.id,
    userId: r.user_id,
    csrfToken: r.csrf_token,
    createdAt: new Date(Number(r.created_at)),
    expiresAt: new Date(Number(r.expires_at)),
  };
}

export async function createUser(db: Db, row: UserRow): Promise<'created' | 'exists'> {
  const r = await db
    .insertInto('users')
    .values({ id: row.id, email: row.email.toLowerCase(), password_hash: row.passwordHash, created_at: row.createdAt.getTime() })
    .onConflict((oc) => oc.column('email').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0 ? 'created' : 'exists';
}

export async function getUserBy(db: Db, column: 'id' | 'email', value: string): Promise<UserRow | null> {
  const wanted = column === 'email' ? value.toLowerCase() : value;
  const r = await db.selectFrom('users').selectAll().where(column, '=', wanted).executeTakeFirst();
  return r ? toUser(r) : null;
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function setMembership(db: Db, row: MembershipRow): Promise<void> {
  await db
    .insertInto('project_members')
    .values({ project_id: row.projectId, user_id: row.userId, role: row.role })
    .onConflict((oc) => oc.columns(['project_id', 'user_id']).doUpdateSet({ role: row.role }))
    .execute();
}

export async function getMembership(db: Db, projectId: string, userId: string): Promise<MembershipRow | null> {
  const r = await db
    .selectFrom('project_members')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r ? { projectId: r.project_id, userId: r.user_id, role: r.role as ProjectRole } : null;
}

export async function listMemberships(db: Db, userId: string): Promise<MembershipRow[]> {
  const rows = await db
    .selectFrom('project_members')
    .innerJoin('projects', 'projects.id', 'project_members.project_id')
    .select(['project_members.project_id', 'project_members.user_id', 'project_members.role'])
    .where('project_members.user_id', '=', userId)
    .orderBy('projects.created_at')
    .orderBy('projects.id')
    .execute();
  return rows.map((r) => ({ projectId: r.project_id, userId: r.user_id, role: r.role as ProjectRole }));
}

export async function createSession(db: Db, row: SessionRow): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id: row.id,
      user_id: row.userId,
      csrf_token: row.csrfToken,
      created_at: row.createdAt.getTime(),
      expires_at: row.expiresAt.getTime(),
    })
    .execute();
}

export async function getSession(db: Db, id: string): Promise<SessionRow | null> {
  const r = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toSession(r) : null;
}

export async function deleteSession(db: Db, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

export async function deleteExpiredSessions(db: Db, now: Date): Promise<number> {
  const r = await db.deleteFrom('sessions').where('expires_at', '<=', now.getTime()).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function listProjectMembers(db: Db, projectId: string): Promise<ProjectMemberRow[]> {
  const rows = await db
    .selectFrom('project_members')
    .innerJoin('users', 'users.id', 'project_members.user_id')
    .select(['project_members.project_id', 'project_members.user_id', 'project_members.role', 'users.email'])
    .where('project_members.project_id', '=', projectId)
    .orderBy('users.email')
    .execute();
  return rows.map((r) => ({ projectId: r.project_id, userId: r.user_id, role: r.role as ProjectRole, email: r.email }));
}

export async function deleteMembership(db: Db, projectId: string, userId: string): Promise<boolean> {
  const r = await db.deleteFrom('project_members').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function updateUserPassword(db: Db, userId: string, passwordHash: string): Promise<boolean> {
  const r = await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteUserSessions(db: Db, userId: string, exceptId?: string): Promise<number> {
  let q = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  const r = await q.executeTakeFirst();
  return Number(r.numDeletedRows);
}
