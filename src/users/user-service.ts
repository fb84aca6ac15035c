import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import type { AuditRow, MembershipRow, MetadataStore, ProjectRole, SessionRow, UserRow } from '../storage/metadata/metadata-store.js';
import { WindowLimiter } from '../util/window-limiter.js';
import { DomainError } from '../util/domain-error.js';

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

export type AuditSink = (e: Omit<AuditRow, 'id' | 'at'>) => Promise<void>;

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

export class UserService {
  /** Failed sign-ins per email|address (per node; see README for scale-out). */
  private readonly failures = new WindowLimiter(MAX_SIGN_IN_FAILURES, SIGN_IN_WINDOW_MS);
  /** Failed sign-ins per address, over every email (per node). */
  private readonly sourceFailures = new WindowLimiter(MAX_SIGN_IN_FAILURES_PER_SOURCE, SIGN_IN_WINDOW_MS);
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly meta: MetadataStore,
    private readonly audit: AuditSink,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  // ---- users ----

  async createUser(input: { email: string; password: string; createdBy: string; source?: string }): Promise<UserView> {
    const email = normalizeEmail(input.email ?? '');
    if (!email || email.length > MAX_EMAIL_LENGTH || !EMAIL_PATTERN.test(email)) {
      throw new DomainError('invalid-argument', 'An email address looks like name@host.', 'email');
    }
    const password = input.password ?? '';
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new DomainError('invalid-argument', `A password has at least ${MIN_PASSWORD_LENGTH} characters.`, 'password');
    }
    if (password.length > MAX_PASSWORD_LENGTH) {
      throw new DomainError('invalid-argument', `A password has at most ${MAX_PASSWORD_LENGTH} characters.`, 'password');
    }
    const row: UserRow = { id: randomUUID(), email, passwordHash: await hashPassword(password), createdAt: this.clock() };
    if ((await this.meta.createUser(row)) === 'exists') throw new DomainError('conflict', `A user ${email} exists already.`, 'email');
    await this.audit({ action: 'user.created', actor: input.createdBy, tokenId: null, projectId: null, source: input.source ?? null, detail: email });
    return userView(row);
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
    const key = `${email}|${source ?? ''}`;
    const sourceKey = source ?? '';
    // Either limit refuses: too many failures for this email from this address, or from this
    // address over any emails. The right password is refused too until the window frees.
    const wait = Math.max(this.failures.retryAfter(key, now), this.sourceFailures.retryAfter(sourceKey, now));
    if (wait > 0) {
      await this.audit({ action: 'user.sign-in-failed', actor: email, tokenId: null, projectId: null, source: source ?? null, detail: 'rate-limited' });
      const retry = Math.max(1, Math.ceil(wait / 1000));
      throw new SignInRateLimited(`Too many failed sign-ins; try again in ${retry} seconds.`, retry);
    }
    const user = await this.meta.getUserByEmail(email);
    const ok = user
      ? await verifyPassword(user.passwordHash, password)
      : (await verifyPassword(await this.dummy(), password), false);
    if (!user || !ok) {
      this.failures.note(key, now);
      this.sourceFailures.note(sourceKey, now);
      await this.audit({ action: 'user.sign-in-failed', actor: email, tokenId: null, projectId: null, source: source ?? null, detail: user ? 'wrong password' : 'unknown user' });
      throw new DomainError('unauthenticated', 'The email or password is not right.');
    }
    // A success forgives this email's failures, not the address's: one account the client knows
    // does not reset a spraying client's count.
    this.failures.clear(key);
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
    await this.audit({ action: 'user.signed-in', actor: email, tokenId: null, projectId: null, source: source ?? null, detail: null });
    return { cookieValue, session, user };
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
    const user = await this.createUser({ email: BOOTSTRAP_ADMIN_EMAIL, password, createdBy: 'bootstrap' });
    await this.addMember(projectId, user.id, 'owner');
    return { email: user.email, password };
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    return this.dummyHash;
  }
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
