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
// policy only narrows). What cannot be read that way is refused, not guessed.

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

/** One Resource ARN as a scope entry (null: every bucket). Only a trailing "*" is understood. */
function entryOf(resource: string): ScopeEntry | null {
  if (resource === '*' || resource === 'arn:aws:s3:::*') return null;
  const m = /^arn:aws:s3:::(.+)$/.exec(resource);
  if (!m) throw new PolicyError(`Resource "${resource}" is not an S3 ARN (arn:aws:s3:::bucket or arn:aws:s3:::bucket/prefix*).`);
  const path = m[1];
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  if (/[*?]/.test(bucket)) throw new PolicyError(`Resource "${resource}": skep scopes name whole buckets; wildcards in a bucket name are not supported.`);
  if (slash < 0) return { bucket, prefix: null };
  let prefix = path.slice(slash + 1);
  if (prefix.endsWith('*')) prefix = prefix.slice(0, -1);
  if (/[*?]/.test(prefix)) throw new PolicyError(`Resource "${resource}": only a trailing * is supported (a key prefix).`);
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
  const rights = new Set<Right>();
  let all = false;
  const entries: ScopeEntry[] = [];
  for (const st of statements) {
    if (typeof st !== 'object' || st === null) throw new PolicyError('Each Statement must be an object.');
    const { Sid: _sid, Effect, Action, Resource, ...unsupported } = st as Record<string, unknown>;
    const name = Object.keys(unsupported)[0];
    if (name) throw new PolicyError(`"${name}" is not supported in skep session policies (Effect, Action and Resource are).`);
    if (Effect !== 'Allow') throw new PolicyError('skep session policies take Allow statements only: a session gets what they allow, within its token.');
    for (const r of rightsOf(strings(Action, 'Action'))) rights.add(r);
    for (const resource of strings(Resource, 'Resource')) {
      const e = entryOf(resource);
      if (e === null) all = true;
      else entries.push(e);
    }
  }
  // "bucket" and "bucket/*" are the same entry; keep the widest of overlapping ones.
  const kept = entries.filter((e, i) => !entries.some((o, j) => j !== i && covers(o, e) && (!covers(e, o) || j < i)));
  return { permission: leastLevel(rights), scope: all ? null : [...new Set(kept.map(formatEntry))].map((t) => formatEntry(parseEntry(t))) };
}
