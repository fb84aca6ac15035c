import { randomUUID } from 'node:crypto';
import type { MetadataStore, ProjectRow } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { MAX_EXPIRY_DAYS } from '../credentials/token-service.js';

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

export class ProjectService {
  constructor(private readonly meta: MetadataStore) {}

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

  async update(id: string, patch: { name?: string; maxTokenDays?: number | null }): Promise<ProjectView> {
    const clean = {
      name: patch.name === undefined ? undefined : checkName(patch.name),
      maxTokenDays: checkMaxDays(patch.maxTokenDays),
    };
    if (!(await this.meta.updateProject(id, clean))) throw new DomainError('not-found', `No project ${id}.`, 'project');
    return this.require(id);
  }
}
