import { LEVEL_RIGHTS, REQUIRED_RIGHT, type Right } from './authorize.js';
import { POLICY_ACTION } from './bucket-access.js';
import { PolicyError, wildcardMatch } from './bucket-policy.js';
import { PERMISSION_LEVELS, type PermissionLevel } from './principal.js';
import { covers, formatEntry, parseEntry, type ScopeEntry } from './scope.js';
import type { ParsedOperationName } from '../s3/endpoint.js';

// An STS session policy (the `Policy` of AssumeRole) mapped onto skep's terms: a permission level
// and a scope. skep's tokens are levels and scopes, not IAM users, so the policy is read in those
// terms — the least level whose rights cover every action it allows, and its resources as scope
// entries — and the session gets the part of that which its token has (as on AWS, a session
// policy only narrows). What cannot be read that way is refused, not guessed: a policy whose level
// would reach a resource it allows less on (statements allowing different levels on different
// resources), or rights no action of it needs (s3:GetBucketPolicy with s3:PutObject would be
// admin-rw), and a Resource naming one object (scopes are key prefixes).

/** AWS's limit on an inline session policy. */
export const MAX_SESSION_POLICY_CHARS = 2048;

export interface SessionPolicy {
  /** The least level covering the allowed actions. */
  permission: PermissionLevel;
  /** Scope entries from the resources; null for every bucket. */
  scope: string[] | null;
}

const OPERATIONS = Object.keys(POLICY_ACTION) as ParsedOperationName[];

/** The rights the action patterns allow (an action such as s3:Get* allows every operation it names). */
function rightsOf(patterns: string[]): Set<Right> {
  const rights = new Set<Right>();
  for (const pattern of patterns) {
    if (!/^(s3:)?[A-Za-z*?]+$|^\*$/.test(pattern)) throw new PolicyError(`Action "${pattern}" is not an S3 action (s3:GetObject, s3:Put*, s3:*).`);
    const full = pattern === '*' ? 's3:*' : pattern;
    let matched = false;
    for (const op of OPERATIONS) {
      const action = POLICY_ACTION[op];
      if (action && wildcardMatch(full, action, true)) {
        rights.add(REQUIRED_RIGHT[op]);
        matched = true;
      }
    }
    if (!matched) throw new PolicyError(`Action "${pattern}" names no S3 operation skep serves.`);
  }
  return rights;
}

/** The least level whose rights include all of `rights` (admin-rw includes every right). */
function leastLevel(rights: Set<Right>): PermissionLevel {
  const order: PermissionLevel[] = ['object-ro', 'admin-ro', 'object-rw', 'admin-rw'];
  for (const level of order) {
    if ([...rights].every((r) => LEVEL_RIGHTS[level].has(r))) return level;
  }
  return 'admin-rw';
}

/** The level whose rights are those of both levels (the four levels are closed under this). */
export function levelMeet(a: PermissionLevel, b: PermissionLevel): PermissionLevel {
  const both = [...LEVEL_RIGHTS[a]].filter((r) => LEVEL_RIGHTS[b].has(r));
  const exact = PERMISSION_LEVELS.find((l) => LEVEL_RIGHTS[l].size === both.length && both.every((r) => LEVEL_RIGHTS[l].has(r)));
  return exact ?? 'object-ro';
}

/** Whether level `a` has no right that level `b` lacks. */
export function levelWithin(a: PermissionLevel, b: PermissionLevel): boolean {
  return [...LEVEL_RIGHTS[a]].every((r) => LEVEL_RIGHTS[b].has(r));
}

/**
 * One Resource ARN as a scope entry (null: every bucket): a bucket (all of it, as "bucket/*"), or
 * the keys starting with what comes before a trailing "*".
 */
function entryOf(resource: string): ScopeEntry | null {
  if (resource === '*' || resource === 'arn:aws:s3:::*') return null;
  const m = /^arn:aws:s3:::(.+)$/.exec(resource);
  if (!m) throw new PolicyError(`Resource "${resource}" is not an S3 ARN (arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix*).`);
  const path = m[1];
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  if (/[*?]/.test(bucket)) throw new PolicyError(`Resource "${resource}": skep scopes name whole buckets; wildcards in a bucket name are not supported.`);
  if (slash < 0) return { bucket, prefix: null };
  const prefix = path.slice(slash + 1).replace(/\*$/, '');
  if (/[*?]/.test(prefix)) throw new PolicyError(`Resource "${resource}": only a trailing * is supported (a key prefix).`);
  // A scope entry is a prefix: read as one, an exact key would allow every key it starts.
  if (!path.endsWith('*')) {
    throw new PolicyError(`Resource "${resource}" names one object; skep sessions reach key prefixes: end it with * ("${resource}*" is every key starting so).`);
  }
  return { bucket, prefix: prefix === '' ? null : prefix };
}

function strings(value: unknown, what: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v) => typeof v === 'string' && v !== '')) throw new PolicyError(`${what} must be a string or a list of strings.`);
  return list as string[];
}

/** Parses a session policy; PolicyError (with a message for the caller) when it cannot be read. */
export function parseSessionPolicy(text: string): SessionPolicy {
  if (text.length > MAX_SESSION_POLICY_CHARS) throw new PolicyError(`The session policy is longer than ${MAX_SESSION_POLICY_CHARS} characters.`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('The session policy is not valid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError('The session policy must be a JSON object.');
  const { Version, Statement, ...rest } = doc as Record<string, unknown>;
  const extra = Object.keys(rest).filter((k) => k !== 'Id');
  if (extra.length) throw new PolicyError(`Unknown policy element "${extra[0]}".`);
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') throw new PolicyError('Version must be "2012-10-17".');
  const statements = Array.isArray(Statement) ? Statement : Statement === undefined ? [] : [Statement];
  if (statements.length === 0) throw new PolicyError('The session policy has no Statement.');
  const read = statements.map(readStatement);
  const level = leastLevel(new Set(read.flatMap((st) => [...st.rights])));
  const entries = read.flatMap((st) => st.entries);
  const scope = entries.includes(null) ? null : widest(entries.filter((e) => e !== null));
  const wider = widerThanAllowed(read, level, scope);
  if (wider) throw new PolicyError(wider);
  return { permission: level, scope: scope === null ? null : [...new Set(scope.map(formatEntry))].map((t) => formatEntry(parseEntry(t))) };
}

/** One statement: the rights its actions allow, on its resources as scope entries (null: every bucket). */
interface StatementReading {
  rights: Set<Right>;
  entries: (ScopeEntry | null)[];
}

function readStatement(st: unknown): StatementReading {
  if (typeof st !== 'object' || st === null) throw new PolicyError('Each Statement must be an object.');
  const { Sid: _sid, Effect, Action, Resource, ...unsupported } = st as Record<string, unknown>;
  const name = Object.keys(unsupported)[0];
  if (name) throw new PolicyError(`"${name}" is not supported in skep session policies (Effect, Action and Resource are).`);
  if (Effect !== 'Allow') throw new PolicyError('skep session policies take Allow statements only: a session gets what they allow, within its token.');
  return { rights: rightsOf(strings(Action, 'Action')), entries: strings(Resource, 'Resource').map(entryOf) };
}

/** The entries none of the others includes ("bucket" and "bucket/*" are the same entry). */
function widest(entries: ScopeEntry[]): ScopeEntry[] {
  return entries.filter((e, i) => !entries.some((o, j) => j !== i && covers(o, e) && (!covers(e, o) || j < i)));
}

/**
 * Why one level on one scope would allow more than the policy, or null. On each entry of the scope
 * the session has every right of the level; the statements reaching that entry must allow them,
 * each action standing for the least level that has it (s3:PutObject for object-rw, as alone).
 */
function widerThanAllowed(read: StatementReading[], level: PermissionLevel, scope: ScopeEntry[] | null): string | null {
  for (const target of scope ?? [null]) {
    const allowed = new Set<Right>();
    for (const st of read) {
      if (!st.entries.some((e) => e === null || (target !== null && covers(e, target)))) continue;
      for (const right of st.rights) for (const r of LEVEL_RIGHTS[leastLevel(new Set([right]))]) allowed.add(r);
    }
    const beyond = [...LEVEL_RIGHTS[level]].filter((r) => !allowed.has(r));
    if (beyond.length === 0) continue;
    const where = target === null ? 'every bucket' : formatEntry(target);
    return (
      `A session is one permission level on one scope: this policy needs ${level} (for the actions of all its statements together), ` +
      `which would also allow ${beyond.join(', ')} on ${where}, where the policy allows less. ` +
      'Allow the same actions on every resource of the policy (or ask for a session per resource).'
    );
  }
  return null;
}
