import { randomUUID } from 'node:crypto';
import type { AuditRow, MetadataStore, ProjectRow } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { MAX_EXPIRY_DAYS, type RequestSource } from '../credentials/token-service.js';

// Projects own buckets and tokens.

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

export type AuditSink = (e: Omit<AuditRow, 'id' | 'at'>) => Promise<void>;

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
    private readonly audit: AuditSink = async () => undefined,
  ) {}

  async create(name: string, maxTokenDays: number | null = null): Promise<ProjectView> {
    const row: ProjectRow = { id: randomUUID(), name: checkName(name), createdAt: new Date(), maxTokenDays: checkMaxDays(maxTokenDays) ?? null };
    await this.meta.createProject(row);
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
    if (detail) await this.audit({ action: 'project.updated', actor: by.actor, tokenId: null, projectId: id, source: by.source ?? null, detail });
    return this.require(id);
  }
}
