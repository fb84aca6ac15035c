import { randomUUID } from 'node:crypto';
import type { MetadataStore, ProjectRole, ProjectRow } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { MAX_EXPIRY_DAYS, type TokenService } from '../credentials/token-service.js';
import { revokeConsoleTokens } from '../credentials/console-token.js';
import type { RequestSource } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';

// Projects own buckets and tokens; console users are their members (owner or member).

export interface ProjectView {
  id: string;
  name: string;
  createdAt: string;
  maxTokenDays: number | null;
}

export function projectView(row: ProjectRow): ProjectView {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString(), maxTokenDays: row.maxTokenDays };
}

function checkName(name: string | undefined): string {
  const trimmed = name?.trim() ?? '';
  if (!trimmed) throw new DomainError('invalid-argument', 'A project needs a name.', 'name');
  if (trimmed.length > 100) throw new DomainError('invalid-argument', 'A project name is at most 100 characters.', 'name');
  return trimmed;
}

function checkMaxDays(days: number | null | undefined): number | null | undefined {
  if (days === undefined || days === null) return days;
  if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) {
    throw new DomainError('invalid-argument', `The maximum token lifetime is a whole number of days from 1 to ${MAX_EXPIRY_DAYS}.`, 'maxTokenDays');
  }
  return days;
}

export interface MemberView {
  userId: string;
  email: string;
  role: ProjectRole;
}

/** What an update changed, for the audit log ("max token days: 90 -> 30"), or null if nothing. */
function describeChange(before: ProjectRow, after: { name?: string; maxTokenDays?: number | null }): string | null {
  const parts: string[] = [];
  if (after.name !== undefined && after.name !== before.name) parts.push(`name: ${JSON.stringify(before.name)} -> ${JSON.stringify(after.name)}`);
  if (after.maxTokenDays !== undefined && after.maxTokenDays !== before.maxTokenDays) {
    parts.push(`max token days: ${before.maxTokenDays ?? 'none'} -> ${after.maxTokenDays ?? 'none'}`);
  }
  return parts.length ? parts.join('; ') : null;
}

export class ProjectService {
  constructor(
    private readonly meta: MetadataStore,
    private readonly audit: AuditService,
    private readonly tokens: TokenService,
  ) {}

  /** A new project; audited as project.created when `by` is given (a person or the CLI asked). */
  async create(name: string, maxTokenDays: number | null = null, by?: RequestSource): Promise<ProjectView> {
    const row: ProjectRow = { id: randomUUID(), name: checkName(name), createdAt: new Date(), maxTokenDays: checkMaxDays(maxTokenDays) ?? null };
    await this.meta.createProject(row);
    if (by) await this.audit.record({ action: 'project.created', actor: by.actor, projectId: row.id, source: by.source, detail: row.name });
    return projectView(row);
  }

  async list(): Promise<ProjectView[]> {
    return (await this.meta.listProjects()).map(projectView);
  }

  async require(id: string): Promise<ProjectView> {
    const row = await this.meta.getProject(id);
    if (!row) throw new DomainError('not-found', `No project ${id}.`, 'project');
    return projectView(row);
  }

  /** Finds a project by id or by name (names are not unique: an ambiguous name is an error). */
  async resolve(idOrName: string): Promise<ProjectView> {
    const all = await this.meta.listProjects();
    const byId = all.find((p) => p.id === idOrName);
    if (byId) return projectView(byId);
    const byName = all.filter((p) => p.name === idOrName);
    if (byName.length === 1) return projectView(byName[0]);
    if (byName.length > 1) throw new DomainError('conflict', `Several projects are named "${idOrName}"; use the project id.`, 'project');
    throw new DomainError('not-found', `No project "${idOrName}".`, 'project');
  }

  /**
   * Renames a project or changes its maximum token lifetime. A lower maximum applies at once to
   * existing tokens too (TokenService caps their expiry), so the change is audited.
   */
  async update(id: string, patch: { name?: string; maxTokenDays?: number | null }, by: RequestSource): Promise<ProjectView> {
    const clean = {
      name: patch.name === undefined ? undefined : checkName(patch.name),
      maxTokenDays: checkMaxDays(patch.maxTokenDays),
    };
    const before = await this.meta.getProject(id);
    if (!before || !(await this.meta.updateProject(id, clean))) throw new DomainError('not-found', `No project ${id}.`, 'project');
    const detail = describeChange(before, clean);
    if (detail) await this.audit.record({ action: 'project.updated', actor: by.actor, projectId: id, source: by.source, detail });
    return this.require(id);
  }

  // ---- members ----

  async members(projectId: string): Promise<MemberView[]> {
    return (await this.meta.listProjectMembers(projectId)).map((m) => ({ userId: m.userId, email: m.email, role: m.role }));
  }

  /** Adds an existing console user by email, or changes the role of one who is a member already. */
  async addMember(projectId: string, email: string, role: ProjectRole, by: RequestSource): Promise<MemberView> {
    await this.require(projectId);
    const user = await this.meta.getUserByEmail(email.trim().toLowerCase());
    if (!user) {
      throw new DomainError('not-found', `No console user ${email.trim()}. An operator creates users with: skep user create --email ${email.trim()}`, 'email');
    }
    const before = await this.meta.getMembership(projectId, user.id);
    if (before?.role === role) return { userId: user.id, email: user.email, role };
    if (before) return this.setRole(projectId, user.id, role, by);
    await this.meta.setMembership({ projectId, userId: user.id, role });
    await this.audit.record({ action: 'project.member-added', actor: by.actor, projectId, source: by.source, detail: `${user.email} as ${role}` });
    return { userId: user.id, email: user.email, role };
  }

  async setRole(projectId: string, userId: string, role: ProjectRole, by: RequestSource): Promise<MemberView> {
    const member = await this.requireMember(projectId, userId);
    if (member.role === role) return member;
    if (member.role === 'owner') await this.keepAnOwner(projectId, 'demote');
    await this.meta.setMembership({ projectId, userId, role });
    await this.audit.record({ action: 'project.member-role-changed', actor: by.actor, projectId, source: by.source, detail: `${member.email}: ${member.role} -> ${role}` });
    await this.endShareLinks(projectId, member.email, `${member.email}'s role changed: ${member.role} -> ${role}`, by);
    return { ...member, role };
  }

  async removeMember(projectId: string, userId: string, by: RequestSource): Promise<void> {
    const member = await this.requireMember(projectId, userId);
    if (member.role === 'owner') await this.keepAnOwner(projectId, 'remove');
    await this.meta.deleteMembership(projectId, userId);
    await this.audit.record({ action: 'project.member-removed', actor: by.actor, projectId, source: by.source, detail: `${member.email} (${member.role})` });
    await this.endShareLinks(projectId, member.email, `${member.email} left the project`, by);
  }

  /**
   * Revokes the console token that signed the member's share links (presigned URLs), after the
   * membership changed: those made before it then stop working with it. Tokens the member created
   * in the Tokens page are theirs to manage and stay.
   */
  private endShareLinks(projectId: string, email: string, why: string, by: RequestSource): Promise<void> {
    return revokeConsoleTokens(this.tokens, this.meta, { email, projectId, why }, by);
  }

  private async requireMember(projectId: string, userId: string): Promise<MemberView> {
    const member = (await this.members(projectId)).find((m) => m.userId === userId);
    if (!member) throw new DomainError('not-found', `No member ${userId} in this project.`);
    return member;
  }

  /** A project always keeps an owner: nobody could manage it otherwise. */
  private async keepAnOwner(projectId: string, verb: 'demote' | 'remove'): Promise<void> {
    const owners = (await this.members(projectId)).filter((m) => m.role === 'owner');
    if (owners.length <= 1) throw new DomainError('conflict', `Cannot ${verb} the last owner of the project: make another member an owner first.`);
  }
}
