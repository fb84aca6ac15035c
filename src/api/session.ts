import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { overTls } from '../net/client-address.js';
import { MAX_SIGN_IN_FAILURES, MAX_SIGN_IN_FAILURES_PER_SOURCE, SESSION_TTL_MS, SIGN_IN_WINDOW_MS } from '../users/user-service.js';
import type { SessionRow, UserRow } from '../storage/metadata/metadata-store.js';
import { clientAddress, requireSession, SESSION_COOKIE } from './caller.js';
import type { ApiApp, ApiDeps, ApiEnv } from './context.js';
import { errorResponses, json, jsonBody, MembershipSchema, SESSION_READ_SECURITY, SESSION_WRITE_SECURITY, Text } from './schemas.js';

// POST /session (sign in), GET /session (who am I), DELETE /session (sign out).

const SignInBody = z
  .strictObject({
    email: Text.min(1).max(254).openapi({ example: 'admin@localhost' }),
    password: z.string().min(1).max(1024),
  })
  .openapi('SignIn');

const SessionSchema = z
  .object({
    user: z.object({ id: z.string(), email: z.string() }),
    csrfToken: z.string().openapi({ description: 'Send in the X-CSRF-Token header on every state-changing request.' }),
    projects: z.array(MembershipSchema),
  })
  .openapi('Session');

const signIn = createRoute({
  operationId: 'signIn',
  method: 'post',
  path: '/session',
  tags: ['session'],
  summary: 'Sign in with email and password',
  description:
    `Sets the \`${SESSION_COOKIE}\` cookie (HttpOnly, SameSite=Lax, Secure under TLS; 12 hours). ` +
    `${MAX_SIGN_IN_FAILURES} failed attempts for one email from one client address, or ${MAX_SIGN_IN_FAILURES_PER_SOURCE} from one ` +
    `address over any emails, within ${SIGN_IN_WINDOW_MS / 60_000} minutes: further attempts answer 429 with Retry-After until the window frees.`,
  security: [],
  request: { body: jsonBody(SignInBody) },
  responses: { 200: json(SessionSchema, 'Signed in'), ...errorResponses(400, 401, 429) },
});

const ChangePasswordBody = z
  .strictObject({
    currentPassword: z.string().min(1).max(1024),
    newPassword: z.string().min(1).max(1024),
  })
  .openapi('ChangePassword');

const changePassword = createRoute({
  operationId: 'changePassword',
  method: 'post',
  path: '/session/password',
  tags: ['session'],
  summary: "Change the signed-in user's password",
  description:
    "Needs the current password. The user's other sessions end; this one stays. A wrong current password counts as a failed " +
    'sign-in for the user, in the limits of POST /session: once they are reached, attempts answer 429 with Retry-After.',
  security: SESSION_WRITE_SECURITY,
  request: { body: jsonBody(ChangePasswordBody) },
  responses: { 204: { description: 'Changed' }, ...errorResponses(400, 401, 403, 429) },
});

const getSession = createRoute({
  operationId: 'getSession',
  method: 'get',
  path: '/session',
  tags: ['session'],
  summary: 'The signed-in user, CSRF token and projects',
  security: SESSION_READ_SECURITY,
  responses: { 200: json(SessionSchema, 'The current session'), ...errorResponses(401, 403) },
});

const signOut = createRoute({
  operationId: 'signOut',
  method: 'delete',
  path: '/session',
  tags: ['session'],
  summary: 'Sign out',
  security: SESSION_WRITE_SECURITY,
  responses: { 204: { description: 'Signed out; the cookie is cleared' }, ...errorResponses(401, 403) },
});

async function sessionReply(deps: ApiDeps, user: UserRow, session: SessionRow) {
  return { user: { id: user.id, email: user.email }, csrfToken: session.csrfToken, projects: await deps.users.projectsOf(user.id) };
}

/** The session cookie is Secure over TLS: skep's own, or TLS a trusted proxy ended. */
function cookieOptions(deps: ApiDeps, c: Context<ApiEnv>) {
  const incoming = c.env?.incoming;
  return { path: '/', httpOnly: true, sameSite: 'Lax' as const, secure: deps.tls || (incoming !== undefined && overTls(incoming)) };
}

export function registerSession(app: ApiApp, deps: ApiDeps): void {
  app.openapi(signIn, async (c) => {
    const { email, password } = c.req.valid('json');
    const { cookieValue, session, user } = await deps.users.signIn(email, password, clientAddress(c));
    setCookie(c, SESSION_COOKIE, cookieValue, { ...cookieOptions(deps, c), maxAge: Math.floor(SESSION_TTL_MS / 1000) });
    c.header('Cache-Control', 'no-store');
    return c.json(await sessionReply(deps, user, session), 200);
  });

  app.openapi(getSession, async (c) => {
    const caller = requireSession(c);
    c.header('Cache-Control', 'no-store');
    return c.json(await sessionReply(deps, caller.user, caller.session), 200);
  });

  app.openapi(changePassword, async (c) => {
    const caller = requireSession(c);
    const { currentPassword, newPassword } = c.req.valid('json');
    await deps.users.changePassword(caller.user, currentPassword, newPassword, caller.session.id, clientAddress(c));
    return c.body(null, 204);
  });

  app.openapi(signOut, async (c) => {
    const caller = requireSession(c);
    await deps.users.signOut(caller.session);
    deleteCookie(c, SESSION_COOKIE, cookieOptions(deps, c));
    return c.body(null, 204);
  });
}
