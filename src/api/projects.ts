import { createRoute, z } from '@hono/zod-openapi';
import type { ProjectView } from '../projects/project-service.js';
import { projectS3Endpoint } from './public-url.js';
import type { ProjectRole } from '../storage/metadata/metadata-store.js';
import { clientAddress, requireCaller, requireProject, requireSession } from './caller.js';
import type { ApiApp, ApiDeps } from './context.js';
import { compareStrings, decodeCursor, keysetPage } from './cursor.js';
import {
  errorResponses,
  json,
  jsonBody,
  MAX_PAGE,
  NextCursor,
  pageQuery,
  ProjectIdParam,
  ProjectSchema,
  READ_SECURITY,
  SESSION_WRITE_SECURITY,
} from './schemas.js';

// GET /projects, POST /projects, GET /projects/{projectId}.

const ProjectList = z.object({ items: z.array(ProjectSchema), nextCursor: NextCursor }).openapi('ProjectList');
const ProjectsQuery = pageQuery(MAX_PAGE);

/** Projects are listed oldest first: by (creation time, id). */
type ProjectPosition = readonly [number, string];
const byCreation = (a: ProjectPosition, b: ProjectPosition) => a[0] - b[0] || compareStrings(a[1], b[1]);
const CreateProjectBody = z.strictObject({ name: z.string().min(1).max(100) }).openapi('CreateProject');

const listProjects = createRoute({
  method: 'get',
  path: '/projects',
  tags: ['projects'],
  summary: "Projects the caller sees: a user's memberships, or a bearer token's own project",
  security: READ_SECURITY,
  request: { query: ProjectsQuery },
  responses: { 200: json(ProjectList, 'Projects, oldest first, one page at a time'), ...errorResponses(400, 401, 403) },
});

const createProject = createRoute({
  method: 'post',
  path: '/projects',
  tags: ['projects'],
  summary: 'Create a project; the signed-in user becomes its owner',
  security: SESSION_WRITE_SECURITY,
  request: { body: jsonBody(CreateProjectBody) },
  responses: { 201: json(ProjectSchema, 'Created'), ...errorResponses(400, 401, 403) },
});

const getProject = createRoute({
  method: 'get',
  path: '/projects/{projectId}',
  tags: ['projects'],
  summary: 'One project (members, and bearer tokens of the project)',
  security: READ_SECURITY,
  request: { params: ProjectIdParam },
  responses: { 200: json(ProjectSchema, 'The project'), ...errorResponses(401, 403) },
});

export function registerProjects(app: ApiApp, deps: ApiDeps): void {
  app.openapi(listProjects, async (c) => {
    const caller = requireCaller(c);
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['number', 'string'] as const);
    const all: (ProjectView & { role?: ProjectRole })[] = [];
    if (caller.kind === 'bearer') {
      all.push(await deps.projects.require(caller.principal.projectId));
    } else {
      for (const m of await deps.users.projectsOf(caller.user.id)) all.push({ ...(await deps.projects.require(m.id)), role: m.role });
    }
    const position = (p: ProjectView): ProjectPosition => [Date.parse(p.createdAt), p.id];
    return c.json(keysetPage(all, position, byCreation, after, q.limit ?? MAX_PAGE), 200);
  });

  app.openapi(createProject, async (c) => {
    const caller = requireSession(c);
    const { name } = c.req.valid('json');
    const project = await deps.projects.create(name);
    await deps.users.addMember(project.id, caller.user.id, 'owner');
    await deps.tokens.audit({
      action: 'project.created',
      actor: caller.user.email,
      tokenId: null,
      projectId: project.id,
      source: clientAddress(c) ?? null,
      detail: project.name,
    });
    return c.json({ ...project, role: 'owner' as const }, 201);
  });

  app.openapi(getProject, async (c) => {
    const { projectId } = c.req.valid('param');
    const access = await requireProject(c, deps, projectId);
    const project = { ...(await deps.projects.require(projectId)), s3Endpoint: projectS3Endpoint(c, deps, projectId) };
    return c.json(access.role ? { ...project, role: access.role } : project, 200);
  });
}
