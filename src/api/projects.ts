import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ProjectView } from '../projects/project-service.js';
import { projectS3Endpoint } from './public-url.js';
import type { ProjectRole } from '../storage/metadata/metadata-store.js';
import { userActor } from '../audit/actor.js';
import { MAX_EXPIRY_DAYS } from '../credentials/token-service.js';
import { clientAddress, requestSource, requireCaller, requireOwner, requireProject, requireSession } from './caller.js';
import type { ApiApp, ApiDeps, ApiEnv } from './context.js';
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
  RoleSchema,
  SESSION_READ_SECURITY,
  SESSION_WRITE_SECURITY,
  Text,
} from './schemas.js';

// GET /projects, POST /projects, GET and PATCH /projects/{projectId}, and the project's members.

const ProjectList = z.object({ items: z.array(ProjectSchema), nextCursor: NextCursor }).openapi('ProjectList');
const ProjectsQuery = pageQuery(MAX_PAGE);

/** Projects are listed oldest first: by (creation time, id). */
type ProjectPosition = readonly [number, string];
const byCreation = (a: ProjectPosition, b: ProjectPosition) => a[0] - b[0] || compareStrings(a[1], b[1]);
const CreateProjectBody = z.strictObject({ name: Text.min(1).max(100) }).openapi('CreateProject');

const UpdateProjectBody = z
  .strictObject({
    name: Text.min(1).max(100).optional(),
    maxTokenDays: z.number().int().min(1).max(MAX_EXPIRY_DAYS).nullable().optional().openapi({
      description: `The longest a token of the project may last, 1-${MAX_EXPIRY_DAYS} days; null: no project limit. Lowering it caps existing tokens too.`,
    }),
  })
  .openapi('UpdateProject');

const MemberSchema = z.object({ userId: z.string(), email: z.string(), role: RoleSchema }).openapi('Member');
const MemberList = z.object({ items: z.array(MemberSchema) }).openapi('MemberList');
const AddMemberBody = z.strictObject({ email: Text.min(3).max(254), role: RoleSchema }).openapi('AddMember');
const SetRoleBody = z.strictObject({ role: RoleSchema }).openapi('SetMemberRole');
const MemberParams = ProjectIdParam.extend({ userId: Text.min(1).openapi({ param: { name: 'userId', in: 'path' } }) });

const updateProject = createRoute({
  operationId: 'updateProject',
  method: 'patch',
  path: '/projects/{projectId}',
  tags: ['projects'],
  summary: 'Rename the project or change its maximum token lifetime (owners)',
  security: SESSION_WRITE_SECURITY,
  request: { params: ProjectIdParam, body: jsonBody(UpdateProjectBody) },
  responses: { 200: json(ProjectSchema, 'The project after the change'), ...errorResponses(400, 401, 403) },
});

const listMembers = createRoute({
  operationId: 'listMembers',
  method: 'get',
  path: '/projects/{projectId}/members',
  tags: ['projects'],
  summary: "The project's console users and their roles (members)",
  security: SESSION_READ_SECURITY,
  request: { params: ProjectIdParam },
  responses: { 200: json(MemberList, 'Members by email'), ...errorResponses(401, 403) },
});

const addMember = createRoute({
  operationId: 'addMember',
  method: 'post',
  path: '/projects/{projectId}/members',
  tags: ['projects'],
  summary: 'Add a console user to the project by email, or change the role of a member (owners)',
  description: 'The user must exist (an operator creates users with `skep user create`); 404 names the email otherwise.',
  security: SESSION_WRITE_SECURITY,
  request: { params: ProjectIdParam, body: jsonBody(AddMemberBody) },
  responses: { 200: json(MemberSchema, 'The member'), ...errorResponses(400, 401, 403, 404, 409) },
});

const setMemberRole = createRoute({
  operationId: 'setMemberRole',
  method: 'patch',
  path: '/projects/{projectId}/members/{userId}',
  tags: ['projects'],
  summary: "Change a member's role (owners); the last owner stays an owner",
  security: SESSION_WRITE_SECURITY,
  request: { params: MemberParams, body: jsonBody(SetRoleBody) },
  responses: { 200: json(MemberSchema, 'The member'), ...errorResponses(400, 401, 403, 404, 409) },
});

const removeMember = createRoute({
  operationId: 'removeMember',
  method: 'delete',
  path: '/projects/{projectId}/members/{userId}',
  tags: ['projects'],
  summary: 'Remove a member (owners); the last owner cannot be removed',
  security: SESSION_WRITE_SECURITY,
  request: { params: MemberParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404, 409) },
});

const listProjects = createRoute({
  operationId: 'listProjects',
  method: 'get',
  path: '/projects',
  tags: ['projects'],
  summary: "Projects the caller sees: a user's memberships, or a bearer token's own project",
  security: READ_SECURITY,
  request: { query: ProjectsQuery },
  responses: { 200: json(ProjectList, 'Projects, oldest first, one page at a time'), ...errorResponses(400, 401, 403) },
});

const createProject = createRoute({
  operationId: 'createProject',
  method: 'post',
  path: '/projects',
  tags: ['projects'],
  summary: 'Create a project; the signed-in user becomes its owner',
  security: SESSION_WRITE_SECURITY,
  request: { body: jsonBody(CreateProjectBody) },
  responses: { 201: json(ProjectSchema, 'Created'), ...errorResponses(400, 401, 403) },
});

const getProject = createRoute({
  operationId: 'getProject',
  method: 'get',
  path: '/projects/{projectId}',
  tags: ['projects'],
  summary: 'One project (members, and bearer tokens of the project)',
  security: READ_SECURITY,
  request: { params: ProjectIdParam },
  responses: { 200: json(ProjectSchema, 'The project'), ...errorResponses(401, 403) },
});

export function registerProjects(app: ApiApp, deps: ApiDeps): void {
  // Every project the API returns names its S3 endpoint (the console shows it beside the project).
  const withEndpoint = <P extends ProjectView>(c: Context<ApiEnv>, p: P): P & { s3Endpoint: string } => ({ ...p, s3Endpoint: projectS3Endpoint(c, deps, p.id) });

  app.openapi(listProjects, async (c) => {
    const caller = requireCaller(c);
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['number', 'string'] as const);
    const all: (ProjectView & { role?: ProjectRole })[] = [];
    if (caller.kind === 'bearer') {
      all.push(withEndpoint(c, await deps.projects.require(caller.principal.projectId)));
    } else {
      for (const m of await deps.users.projectsOf(caller.user.id)) all.push({ ...withEndpoint(c, await deps.projects.require(m.id)), role: m.role });
    }
    const position = (p: ProjectView): ProjectPosition => [Date.parse(p.createdAt), p.id];
    return c.json(keysetPage(all, position, byCreation, after, q.limit ?? MAX_PAGE), 200);
  });

  app.openapi(createProject, async (c) => {
    const caller = requireSession(c);
    const { name } = c.req.valid('json');
    const project = await deps.projects.create(name, null, { actor: userActor(caller.user.email), source: clientAddress(c) });
    await deps.users.addMember(project.id, caller.user.id, 'owner');
    return c.json({ ...withEndpoint(c, project), role: 'owner' as const }, 201);
  });

  app.openapi(updateProject, async (c) => {
    const { projectId } = c.req.valid('param');
    const body = c.req.valid('json');
    const access = await requireOwner(c, deps, projectId);
    const project = await deps.projects.update(projectId, body, requestSource(c, access));
    return c.json({ ...withEndpoint(c, project), role: 'owner' as const }, 200);
  });

  app.openapi(listMembers, async (c) => {
    const { projectId } = c.req.valid('param');
    requireSession(c);
    await requireProject(c, deps, projectId);
    return c.json({ items: await deps.projects.members(projectId) }, 200);
  });

  app.openapi(addMember, async (c) => {
    const { projectId } = c.req.valid('param');
    const { email, role } = c.req.valid('json');
    const access = await requireOwner(c, deps, projectId);
    return c.json(await deps.projects.addMember(projectId, email, role, requestSource(c, access)), 200);
  });

  app.openapi(setMemberRole, async (c) => {
    const { projectId, userId } = c.req.valid('param');
    const { role } = c.req.valid('json');
    const access = await requireOwner(c, deps, projectId);
    return c.json(await deps.projects.setRole(projectId, userId, role, requestSource(c, access)), 200);
  });

  app.openapi(removeMember, async (c) => {
    const { projectId, userId } = c.req.valid('param');
    const access = await requireOwner(c, deps, projectId);
    await deps.projects.removeMember(projectId, userId, requestSource(c, access));
    return c.body(null, 204);
  });

  app.openapi(getProject, async (c) => {
    const { projectId } = c.req.valid('param');
    const access = await requireProject(c, deps, projectId);
    const project = withEndpoint(c, await deps.projects.require(projectId));
    return c.json(access.role ? { ...project, role: access.role } : project, 200);
  });
}
