import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import type { MembershipRow, MetadataStore, ProjectRole, SessionRow, UserRow } from '../storage/metadata/metadata-store.js';
import { RateLimiter, type LimiterState } from '../limits/rate-limiter.js';
import { DomainError } from '../util/domain-error.js';
import { BOOTSTRAP_ACTOR, userActor } from '../audit/actor.js';
import type { AuditService } from '../audit/audit-service.js';

// Console users: accounts with an argon2id password hash, project memberships (owner | member),
// and sign-in sessions. A session is identified by a random cookie value of which only the
// SHA-256 is stored, and carries its own CSRF token. Failed sign-ins are rate limited per
// email + client address, and per client address across all emails (password spraying).

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SIGN_IN_WINDOW_MS = 5 * 60 * 1000;
export const MAX_SIGN_IN_FAILURES = 5;
/** Failed sign-ins from one client address, whatever the emails, within SIGN_IN_WINDOW_MS. */
export const MAX_SIGN_IN_FAILURES_PER_SOURCE = 20;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;
const MAX_EMAIL_LENGTH = 254;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;
/** The cookie value: 32 random bytes, base64url. */
const SESSION_VALUE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Const enum member Algorithm.Argon2id (a const enum cannot be read at run time under tsx). */
const ARGON2ID = 2 as Algorithm;
export const BOOTSTRAP_ADMIN_EMAIL = 'admin@localhost';

export interface UserView {
  id: string;
  email: string;
  createdAt: string;
}

export interface MembershipView {
  id: string;
  name: string;
  role: ProjectRole;
}

export interface SignedIn {
  /** The cookie value: returned once, never stored. */
  cookieValue: string;
  session: SessionRow;
  user: UserRow;
}

/** Sign-in refused by the rate limit; the caller may try again after `retryAfterSeconds`. */
export class SignInRateLimited extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate-limited', message);
    this.name = 'SignInRateLimited';
  }
}

export function userView(row: UserRow): UserView {
  return { id: row.id, email: row.email, createdAt: row.createdAt.toISOString() };
}

export function sessionIdOf(cookieValue: string): string {
  return createHash('sha256').update(cookieValue, 'utf8').digest('hex');
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** The per-email limit counts failures for an email from one address. */
function failureKey(email: string, source: string | undefined): string {
  return `${email}|${source ?? ''}`;
}

export class UserService {
  /** Failed sign-ins per email|address. */
  private readonly failures: RateLimiter;
  /** Failed sign-ins per address, over every email. */
  private readonly sourceFailures: RateLimiter;
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly meta: MetadataStore,
    private readonly audit: AuditService,
    /** Where the sign-in limits count failures (this process's memory, or a store several nodes share). */
    limits: LimiterState,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.failures = new RateLimiter(limits, 'sign-in', MAX_SIGN_IN_FAILURES, SIGN_IN_WINDOW_MS);
    this.sourceFailures = new RateLimiter(limits, 'sign-in-source', MAX_SIGN_IN_FAILURES_PER_SOURCE, SIGN_IN_WINDOW_MS);
  }

  // ---- users ----

  async createUser(input: { email: string; password: string; createdBy: string; source?: string }): Promise<UserView> {
    const email = normalizeEmail(input.email ?? '');
    if (!email || email.length > MAX_EMAIL_LENGTH || !EMAIL_PATTERN.test(email)) {
      throw new DomainError('invalid-argument', 'An email address looks like name@host.', 'email');
    }
    const password = checkPassword(input.password ?? '', 'password');
    const row: UserRow = { id: randomUUID(), email, passwordHash: await hashPassword(password), createdAt: this.clock() };
    if ((await this.meta.createUser(row)) === 'exists') throw new DomainError('conflict', `A user ${email} exists already.`, 'email');
    await this.audit.record({ action: 'user.created', actor: input.createdBy, source: input.source, detail: email });
    return userView(row);
  }

  /**
   * Changes a signed-in user's password after checking the current one. The user's other sessions
   * end (a stolen session does not survive the change); `keepSessionId`'s stays. A wrong current
   * password counts as a failed sign-in, in the same limits: a stolen session must not guess the
   * password faster than a sign-in form could.
   */
  async changePassword(user: UserRow, current: string, next: string, keepSessionId: string, source?: string): Promise<void> {
    const password = checkPassword(next, 'newPassword');
    const now = this.clock().getTime();
    const wait = await this.failureWait(user.email, source, now);
    if (wait > 0) {
      await this.audit.record({ action: 'user.sign-in-failed', actor: userActor(user.email), source, detail: 'password change rate-limited' });
      throw new SignInRateLimited(`Too many wrong passwords; try again in ${wait} seconds.`, wait);
    }
    if (!(await verifyPassword(user.passwordHash, current))) {
      await this.noteFailure(user.email, source, now);
      // Audited as a failed sign-in: a signed-in session guessing its user's password is what
      // the log's readers look for.
      await this.audit.record({ action: 'user.sign-in-failed', actor: userActor(user.email), source, detail: 'wrong current password on a password change' });
      throw new DomainError('invalid-argument', 'The current password is not right.', 'currentPassword');
    }
    await this.failures.clear(failureKey(user.email, source));
    if (current === next) throw new DomainError('invalid-argument', 'The new password is the same as the current one.', 'newPassword');
    await this.meta.updateUserPassword(user.id, await hashPassword(password));
    const ended = await this.meta.deleteUserSessions(user.id, keepSessionId);
    await this.audit.record({
      action: 'user.password-changed',
      actor: userActor(user.email),
      source,
      detail: ended ? `${ended} other session${ended === 1 ? '' : 's'} signed out` : null,
    });
  }

  async requireUser(id: string): Promise<UserRow> {
    const row = await this.meta.getUser(id);
    if (!row) throw new DomainError('not-found', `No user ${id}.`);
    return row;
  }

  findByEmail(email: string): Promise<UserRow | null> {
    return this.meta.getUserByEmail(normalizeEmail(email));
  }

  countUsers(): Promise<number> {
    return this.meta.countUsers();
  }

  // ---- memberships ----

  async addMember(projectId: string, userId: string, role: ProjectRole): Promise<void> {
    if (!(await this.meta.getProject(projectId))) throw new DomainError('not-found', `No project ${projectId}.`, 'project');
    await this.meta.setMembership({ projectId, userId, role });
  }

  async roleIn(userId: string, projectId: string): Promise<ProjectRole | null> {
    return (await this.meta.getMembership(projectId, userId))?.role ?? null;
  }

  /** The user's projects with their role, oldest project first. */
  async projectsOf(userId: string): Promise<MembershipView[]> {
    const memberships: MembershipRow[] = await this.meta.listMemberships(userId);
    const out: MembershipView[] = [];
    for (const m of memberships) {
      const project = await this.meta.getProject(m.projectId);
      if (project) out.push({ id: project.id, name: project.name, role: m.role });
    }
    return out;
  }

  // ---- sessions ----

  /**
   * Checks the password and opens a session. Unknown emails cost the same argon2 work as wrong
   * passwords, so timing does not tell which emails exist.
   */
  async signIn(emailInput: string, password: string, source: string | undefined): Promise<SignedIn> {
    const email = normalizeEmail(emailInput);
    const now = this.clock().getTime();
    const wait = await this.failureWait(email, source, now);
    if (wait > 0) {
      await this.audit.record({ action: 'user.sign-in-failed', actor: userActor(email), source, detail: 'rate-limited' });
      throw new SignInRateLimited(`Too many failed sign-ins; try again in ${wait} seconds.`, wait);
    }
    const user = await this.meta.getUserByEmail(email);
    const ok = user
      ? await verifyPassword(user.passwordHash, password)
      : (await verifyPassword(await this.dummy(), password), false);
    if (!user || !ok) {
      await this.noteFailure(email, source, now);
      await this.audit.record({ action: 'user.sign-in-failed', actor: userActor(email), source, detail: user ? 'wrong password' : 'unknown user' });
      throw new DomainError('unauthenticated', 'The email or password is not right.');
    }
    // A success forgives this email's failures, not the address's: one account the client knows
    // does not reset a spraying client's count.
    await this.failures.clear(failureKey(email, source));
    const cookieValue = randomBytes(32).toString('base64url');
    const session: SessionRow = {
      id: sessionIdOf(cookieValue),
      userId: user.id,
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: new Date(now),
      expiresAt: new Date(now + SESSION_TTL_MS),
    };
    await this.meta.createSession(session);
    await this.meta.deleteExpiredSessions(new Date(now)).catch(() => 0);
    await this.auditSignIn(user, source);
    return { cookieValue, session, user };
  }

  /**
   * Seconds until a password may be tried again (0: now). Either limit refuses: too many failures
   * for this email from this address, or from this address over any emails. The right password is
   * refused too until the window frees.
   */
  private async failureWait(email: string, source: string | undefined, now: number): Promise<number> {
    const wait = Math.max(await this.failures.retryAfter(failureKey(email, source), now), await this.sourceFailures.retryAfter(source ?? '', now));
    return wait > 0 ? Math.max(1, Math.ceil(wait / 1000)) : 0;
  }

  private async noteFailure(email: string, source: string | undefined, now: number): Promise<void> {
    await this.failures.note(failureKey(email, source), now);
    await this.sourceFailures.note(source ?? '', now);
  }

  /**
   * One user.signed-in event per project the user belongs to, so each project's log shows who
   * signed in with access to it (the role in the detail); one without a project when there is none.
   */
  private async auditSignIn(user: UserRow, source: string | undefined): Promise<void> {
    const memberships = await this.meta.listMemberships(user.id);
    const base = { action: 'user.signed-in' as const, actor: userActor(user.email), source };
    if (memberships.length === 0) return this.audit.record({ ...base, detail: 'no projects' });
    for (const m of memberships) await this.audit.record({ ...base, projectId: m.projectId, detail: `role: ${m.role}` });
  }

  /** The live session behind a cookie value, or null (unknown, malformed or expired). */
  async authenticateSession(cookieValue: string | undefined): Promise<{ session: SessionRow; user: UserRow } | null> {
    if (!cookieValue || !SESSION_VALUE_PATTERN.test(cookieValue)) return null;
    const session = await this.meta.getSession(sessionIdOf(cookieValue));
    if (!session) return null;
    if (session.expiresAt.getTime() <= this.clock().getTime()) {
      await this.meta.deleteSession(session.id);
      return null;
    }
    const user = await this.meta.getUser(session.userId);
    return user ? { session, user } : null;
  }

  async signOut(session: SessionRow): Promise<void> {
    await this.meta.deleteSession(session.id);
  }

  /** Constant-time CSRF token check. */
  static csrfMatches(session: SessionRow, provided: string | undefined): boolean {
    if (!provided) return false;
    const a = Buffer.from(session.csrfToken, 'utf8');
    const b = Buffer.from(provided, 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  // ---- first start ----

  /**
   * When no user exists: creates admin@localhost with a random one-time password, owner of
   * `projectId`, and returns the password (to print once). Otherwise returns undefined.
   */
  async bootstrapAdmin(projectId: string): Promise<{ email: string; password: string } | undefined> {
    if ((await this.meta.countUsers()) > 0) return undefined;
    const password = newPassword();
    const user = await this.createUser({ email: BOOTSTRAP_ADMIN_EMAIL, password, createdBy: BOOTSTRAP_ACTOR });
    await this.addMember(projectId, user.id, 'owner');
    return { email: user.email, password };
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    return this.dummyHash;
  }
}

function checkPassword(password: string, field: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) throw new DomainError('invalid-argument', `A password has at least ${MIN_PASSWORD_LENGTH} characters.`, field);
  if (password.length > MAX_PASSWORD_LENGTH) throw new DomainError('invalid-argument', `A password has at most ${MAX_PASSWORD_LENGTH} characters.`, field);
  return password;
}

export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, { algorithm: ARGON2ID });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2Verify(hash, password);
  } catch {
    return false;
  }
}
