import { isIP } from 'node:net';
import { parseCidr } from '../net/cidr.js';
import { type BoundPattern, PolicyTemplate, VariableError } from './policy-variables.js';
import { parseIsoInstant } from '../util/iso-time.js';
import { S3_ACTIONS, type S3ResourceType } from './s3-actions.js';

// Bucket policies: the IAM policy grammar S3 bucket policies use (Version, Statement, Sid, Effect,
// Principal, Action/NotAction, Resource/NotResource, Condition), parsed and validated once when a
// policy is put, and evaluated as a pure function of (policy, who, action, resource, request facts).

export const MAX_POLICY_BYTES = 20 * 1024;

/**
 * Who a statement applies to: everyone ("*"), or named project tokens (access key IDs or token IDs).
 * With `anyone`, names listed beside "*" are kept only to be checked.
 */
export type PolicyPrincipal = { anyone: true; projectIds?: string[]; keys?: string[] } | { anyone: false; projectIds: string[]; keys: string[] };

export interface PolicyStatement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  principal: PolicyPrincipal;
  actions: string[];
  /** NotAction: the statement applies to every action except these. */
  notActions: boolean;
  resources: string[];
  /** Each resource's policy variables (Version 2012-10-17), when any names one. */
  resourceTemplates?: (PolicyTemplate | undefined)[];
  /** Once bound to a request: which characters of each resource a variable put in (literal). */
  resourceLiterals?: (Uint8Array | undefined)[];
  notResources: boolean;
  conditions: PolicyCondition[];
}

export interface PolicyCondition {
  /** The operator without its set qualifier, e.g. StringEquals or IpAddressIfExists. */
  operator: string;
  /** ForAllValues: / ForAnyValue: (IAM's multivalued-key qualifiers), null for none. */
  set?: SetQualifier | null;
  key: string;
  values: string[];
  /** Each value's policy variables (string and ARN operators, Version 2012-10-17), when any names one. */
  templates?: (PolicyTemplate | undefined)[];
  /** Once bound to a request: which characters of each value a variable put in (literal). */
  literals?: (Uint8Array | undefined)[];
  /** A key skep does not evaluate, in a policy stored before such keys were refused: it fails closed. */
  unevaluated?: boolean;
}

export type SetQualifier = 'ForAllValues' | 'ForAnyValue';

export interface BucketPolicy {
  /** The document as the client sent it (returned by GetBucketPolicy). */
  text: string;
  statements: PolicyStatement[];
}

/** Why a policy is refused (MalformedPolicy). */
export class PolicyError extends Error {}

/** The caller a statement is matched against: anonymous, or a token of a project. */
export type PolicyCaller = { anonymous: true } | { anonymous: false; projectId: string; accessKeyId: string; tokenId: string };

/** Facts about the request that conditions may test, by lower-case key (aws:SourceIp, s3:prefix...). */
export type RequestFacts = Readonly<Record<string, string | undefined>>;

export type PolicyOutcome = 'Allow' | 'Deny' | 'None';

const STRING_OPS = ['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike'];
const NUMERIC_OPS = ['NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals'];
const DATE_OPS = ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals'];
const OTHER_OPS = ['Bool', 'IpAddress', 'NotIpAddress', 'Null', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike'];
const OPERATORS = new Set([...STRING_OPS, ...NUMERIC_OPS, ...DATE_OPS, ...OTHER_OPS]);
/** The operators whose values may hold policy variables, as in IAM. */
const VARIABLE_OPS = new Set([...STRING_OPS, 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike']);

/**
 * The condition keys skep evaluates: those requestFacts (src/s3/admission.ts) fills in. A policy
 * naming any other key is refused, as S3 refuses keys it does not know: a condition on a key that
 * is never set would silently never match, and a Deny resting on it would fail open.
 */
export const EVALUATED_CONDITION_KEYS: ReadonlySet<string> = new Set([
  'aws:sourceip', 'aws:securetransport', 'aws:referer', 'aws:useragent', 'aws:currenttime', 'aws:epochtime', 'aws:principaltype',
  'aws:userid', 's3:x-amz-acl', 's3:prefix', 's3:delimiter', 's3:max-keys',
]);

/** Condition keys that restrict a statement to known callers, so a policy using them is not public (as AWS judges it). */
const RESTRICTING_KEYS = new Set(['aws:sourceip', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourceaccount', 'aws:sourcearn', 'aws:principalaccount', 'aws:principalorgid', 'aws:principalarn', 'aws:userid', 'aws:sourceowner', 's3:x-amz-server-side-encryption-aws-kms-key-id']);

/** Operators that hold only for the values they list: the ones that can pin a restricting key. */
const PINNING_OPERATORS = new Set(['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'ArnEquals', 'ArnLike']);

/**
 * The widest aws:SourceIp ranges that still name known networks: a /8 (16M addresses) is the largest
 * block ever assigned to one organisation, and /32 is a registry's usual allocation to an IPv6
 * provider. Anything wider spans unrelated networks, which AWS counts as public (e.g. 0.0.0.0/1).
 */
const MIN_IPV4_PREFIX = 8;
const MIN_IPV6_PREFIX = 32;

function asList(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new PolicyError(`${what} must not be empty`);
    return value;
  }
  return [value];
}

function strings(value: unknown, what: string): string[] {
  return asList(value, what).map((v) => {
    if (typeof v !== 'string' || v === '') throw new PolicyError(`${what} must be a string or a list of strings`);
    return v;
  });
}

const PROJECT_ARN = /^arn:aws:iam::([^:]+):(root|user\/(.+))$/;

/** A project's ID, as a bare principal names it (AWS's bare account ID); project IDs are UUIDs. */
const PROJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parsePrincipal(value: unknown, stored: boolean): PolicyPrincipal {
  if (value === '*') return { anyone: true };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyError('Invalid principal in policy');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new PolicyError('Invalid principal in policy');
  const projectIds: string[] = [];
  const keys: string[] = [];
  // Every name is checked, "*" among others too: a list holding it is everyone.
  let anyone = false;
  for (const [kind, v] of entries) {
    if (kind !== 'AWS' && kind !== 'CanonicalUser') throw new PolicyError('Invalid principal in policy');
    for (const name of strings(v, 'Principal')) {
      if (name === '*') {
        anyone = true;
        continue;
      }
      const arn = PROJECT_ARN.exec(name);
      if (arn) {
        if (arn[2] === 'root') projectIds.push(arn[1]);
        else keys.push(arn[3]);
      } else if (PROJECT_ID.test(name) || (stored && /^[A-Za-z0-9-]+$/.test(name))) projectIds.push(name);
      else throw new PolicyError('Invalid principal in policy');
    }
  }
  if (!anyone) return { anyone: false, projectIds, keys };
  return projectIds.length + keys.length > 0 ? { anyone: true, projectIds, keys } : { anyone: true };
}

const SET_QUALIFIER = /^(ForAllValues|ForAnyValue):/;

/** The policy variables of each value (none before Version 2012-10-17, where `${` is plain text). */
function templatesOf(values: string[], variables: boolean, stored: boolean): (PolicyTemplate | undefined)[] | undefined {
  if (!variables) return undefined;
  try {
    const templates = values.map((v) => PolicyTemplate.parse(v, EVALUATED_CONDITION_KEYS, stored));
    return templates.some((t) => t !== undefined) ? templates : undefined;
  } catch (err) {
    if (err instanceof VariableError) throw new PolicyError(err.message);
    throw err;
  }
}

function parseConditions(value: unknown, stored: boolean, variables: boolean): PolicyCondition[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyError('Condition must be an object');
  const out: PolicyCondition[] = [];
  for (const [rawOperator, body] of Object.entries(value as Record<string, unknown>)) {
    const set = (SET_QUALIFIER.exec(rawOperator)?.[1] ?? null) as SetQualifier | null;
    const operator = set ? rawOperator.slice(set.length + 1) : rawOperator;
    const base = operator.replace(/IfExists$/, '');
    if (!OPERATORS.has(base) || (base === 'Null' && operator !== base)) throw new PolicyError(`Invalid Condition type : ${rawOperator}`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new PolicyError(`Condition ${rawOperator} must map keys to values`);
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.length === 0 && !stored) throw new PolicyError(`Condition ${rawOperator} must name a condition key`);
    for (const [key, v] of entries) {
      const unknownKey = !EVALUATED_CONDITION_KEYS.has(key.toLowerCase());
      if (unknownKey && !stored) throw new PolicyError(`Policy has an invalid condition key: ${key}`);
      const values = asList(v, `Condition ${rawOperator}`).map((x) => {
        if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new PolicyError(`Condition ${rawOperator} values must be strings`);
        return String(x);
      });
      const misfit = values.find((text) => !fitsOperator(base, text));
      if (misfit !== undefined && !stored) {
        throw new PolicyError(base.endsWith('IpAddress') ? `Invalid IP address in Condition: ${misfit}` : `Invalid value for Condition ${base}: ${misfit}`);
      }
      // A stored address range that is no longer read (`10.0.0.0/` once meant every address) fails
      // closed: read as matching nothing, an IpAddress Deny would deny no one.
      const unevaluated = unknownKey || (misfit !== undefined && base.endsWith('IpAddress'));
      const templates = templatesOf(values, variables && VARIABLE_OPS.has(base), stored);
      out.push({ operator, set, key: key.toLowerCase(), values, ...(templates && { templates }), ...(unevaluated && { unevaluated }) });
    }
  }
  return out;
}

/** Whether a value is of its operator's type (S3 refuses "abc" for NumericEquals). */
function fitsOperator(base: string, text: string): boolean {
  return base === 'IpAddress' || base === 'NotIpAddress' ? parseCidr(text) !== null :
    base === 'Bool' || base === 'Null' ? /^(true|false)$/i.test(text) :
    base.startsWith('Numeric') ? text.trim() !== '' && Number.isFinite(Number(text)) :
    base.startsWith('Date') ? !Number.isNaN(dateValue(text)) :
    true;
}

/**
 * An action name or pattern, matched case-insensitively as IAM does (S3:GetObject is s3:GetObject).
 * A new policy must name at least one real S3 action: a Deny of "s3:DeleteObjects" would deny
 * nothing. A stored policy keeps any such name, which simply matches no request.
 */
function checkAction(action: string, stored: boolean): string {
  if (action === '*') return action;
  if (!/^s3:[A-Za-z*?]+$/i.test(action)) throw new PolicyError('Policy has invalid action');
  if (!stored && actionTypes(action).size === 0) throw new PolicyError('Policy has invalid action');
  return action;
}

/** The resource types of every S3 action a name or pattern matches. */
function actionTypes(pattern: string): Set<S3ResourceType> {
  const types = new Set<S3ResourceType>();
  for (const [name, of] of S3_ACTIONS) if (wildcardMatch(pattern, name, true)) of.forEach((t) => types.add(t));
  return types;
}

/**
 * Whether some action of the statement applies to some of its resources, as S3 requires: a Deny of
 * s3:GetObject on arn:aws:s3:::bucket (objects are bucket/key) would deny nothing. A resource
 * (already known to name this bucket) can be the bucket when it has no '/', and can be an object
 * when it has one or a '*' that could span one.
 */
function actionsFitResources(actions: string[], resources: string[]): boolean {
  const types = new Set(actions.flatMap((a) => [...actionTypes(a)]));
  return resources.some((r) => {
    const path = r === '*' ? '*' : r.slice('arn:aws:s3:::'.length);
    return (types.has('bucket') && !path.includes('/')) || (types.has('object') && /[/*]/.test(path));
  });
}

function checkResource(resource: string, bucket: string): string {
  if (resource === '*') return resource;
  const prefix = 'arn:aws:s3:::';
  if (!resource.startsWith(prefix)) throw new PolicyError('Policy has invalid resource');
  const path = resource.slice(prefix.length);
  const bucketPart = path.split('/')[0];
  // A bucket's policy speaks about that bucket only.
  if (!wildcardMatch(bucketPart, bucket)) throw new PolicyError('Policy has invalid resource');
  return resource;
}

/**
 * Parses and validates a bucket policy document for `bucket`; throws PolicyError (MalformedPolicy).
 * `stored` reads a policy accepted by an earlier, laxer version: condition keys skep does not
 * evaluate and address ranges it cannot read are kept (failing closed), other condition values
 * are not type-checked, so the bucket stays usable and its policy can still be replaced or deleted.
 */
export function parseBucketPolicy(text: string, bucket: string, options: { stored?: boolean } = {}): BucketPolicy {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) throw new PolicyError('Policy exceeds the maximum allowed document size.');
  if (!text.trimStart().startsWith('{')) throw new PolicyError("Policies must be valid JSON and the first byte must be '{'");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError('This policy contains invalid Json');
  }
  const root = doc as Record<string, unknown>;
  if (root.Version !== undefined && root.Version !== '2012-10-17' && root.Version !== '2008-10-17') {
    throw new PolicyError('The policy must contain a valid version string');
  }
  for (const k of Object.keys(root)) if (!['Version', 'Id', 'Statement'].includes(k)) throw new PolicyError(`Unknown field ${k}`);
  // Policy variables came with 2012-10-17; in an older (or unnamed) version `${...}` is literal text.
  const variables = root.Version === '2012-10-17';
  const stored = options.stored === true;
  if (root.Statement === undefined) throw new PolicyError('Missing required field Statement');
  const sids = new Set<string>();
  const statements = asList(root.Statement, 'Statement').map((raw): PolicyStatement => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyError('Statement must be an object');
    const s = raw as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'].includes(k)) throw new PolicyError(`Unknown field ${k}`);
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError('Invalid effect: ' + String(s.Effect));
    if (s.NotPrincipal !== undefined) throw new PolicyError('NotPrincipal is not supported');
    if (s.Principal === undefined) throw new PolicyError('Missing required field Principal');
    if ((s.Action === undefined) === (s.NotAction === undefined)) throw new PolicyError('Missing required field Action');
    if ((s.Resource === undefined) === (s.NotResource === undefined)) throw new PolicyError('Missing required field Resource');
    if (s.Sid !== undefined && typeof s.Sid !== 'string') throw new PolicyError('Sid must be a string');
    // S3 requires each statement's ID to be unique within its policy.
    if (s.Sid !== undefined && !stored && sids.has(s.Sid)) throw new PolicyError(`Statement IDs (SID) in a single policy must be unique: ${s.Sid}`);
    if (s.Sid !== undefined) sids.add(s.Sid);
    const resources = strings(s.Resource ?? s.NotResource, 'Resource').map((r) => checkResource(r, bucket));
    const resourceTemplates = templatesOf(resources, variables, stored);
    const principal = parsePrincipal(s.Principal, stored);
    const actions = strings(s.Action ?? s.NotAction, 'Action').map((a) => checkAction(a, stored));
    // NotAction and NotResource name what a statement leaves out, so they need not fit each other.
    if (!stored && s.Action !== undefined && s.Resource !== undefined && !actionsFitResources(actions, resources)) {
      throw new PolicyError('Action does not apply to any resource(s) in statement');
    }
    return {
      sid: s.Sid as string | undefined,
      effect: s.Effect,
      principal,
      actions,
      notActions: s.NotAction !== undefined,
      resources,
      ...(resourceTemplates && { resourceTemplates }),
      notResources: s.NotResource !== undefined,
      conditions: parseConditions(s.Condition, stored, variables),
    };
  });
  return { text, statements };
}

/**
 * `*` and `?` wildcards, case-sensitive unless asked (IAM's StringLike and ARN matching). Linear
 * two-pointer matching: on a mismatch only the last `*` is retried, one character further, so no
 * pattern can make a request cost more than pattern length x value length steps.
 */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false, literal?: Uint8Array): boolean {
  if (ignoreCase) {
    pattern = pattern.toLowerCase();
    value = value.toLowerCase();
  }
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (pattern[p] === '*' && !literal?.[p]) {
      star = p++;
      resume = v;
    } else if (p < pattern.length && ((pattern[p] === '?' && !literal?.[p]) || pattern[p] === value[v])) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*' && !literal?.[p]) p++;
  return p === pattern.length;
}

function principalMatches(p: PolicyPrincipal, caller: PolicyCaller): boolean {
  if (p.anyone) return true;
  if (caller.anonymous) return false;
  return p.projectIds.includes(caller.projectId) || p.keys.includes(caller.accessKeyId) || p.keys.includes(caller.tokenId);
}

/** A network as bytes and a prefix length, for matching by bit (parseCidr's strict reading). */
function cidrBytes(text: string): { bytes: Buffer; bits: number } | null {
  const network = parseCidr(text);
  return network && { bytes: ipBytes(network.address, network.family), bits: network.bits };
}

function ipBytes(addr: string, family: number): Buffer {
  if (family === 4) return Buffer.from(addr.split('.').map(Number));
  const [head, tail = ''] = addr.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const expand = (list: string[]) => list.flatMap((g) => (g.includes('.') ? (() => { const b = g.split('.').map(Number); return [((b[0] << 8) | b[1]).toString(16), ((b[2] << 8) | b[3]).toString(16)]; })() : [g]));
  const he = expand(h);
  const te = expand(t);
  const all = addr.includes('::') ? [...he, ...Array(8 - he.length - te.length).fill('0'), ...te] : he;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

function ipInCidr(ip: string, cidr: string): boolean {
  const range = cidrBytes(cidr);
  let family = isIP(ip);
  if (!range || family === 0) return false;
  let bytes = ipBytes(ip, family);
  // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) matches IPv4 ranges.
  if (family === 6 && range.bytes.length === 4 && bytes.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]))) {
    bytes = bytes.subarray(12);
    family = 4;
  }
  return bytes.length === range.bytes.length && samePrefix(bytes, range.bytes, range.bits);
}

function samePrefix(a: Buffer, b: Buffer, bits: number): boolean {
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((a[bit >> 3] & mask) !== (b[bit >> 3] & mask)) return false;
  }
  return true;
}

function conditionHolds(c: PolicyCondition, facts: RequestFacts): boolean {
  const ifExists = c.operator.endsWith('IfExists');
  const op = ifExists ? c.operator.slice(0, -'IfExists'.length) : c.operator;
  // A listing without ?prefix= reports s3:prefix as null: that is the key being absent.
  const value = facts[c.key] ?? undefined;
  if (op === 'Null') return (value === undefined) === (c.values[0].toLowerCase() === 'true');
  if (value === undefined) return absentKeyHolds(c, ifExists, op);
  // Every key skep evaluates is single-valued: ForAllValues and ForAnyValue over a one-value set
  // are the plain operator.
  const any = (test: (v: string) => boolean) => c.values.some(test);
  switch (op) {
    case 'StringEquals': return any((v) => v === value);
    case 'StringNotEquals': return !any((v) => v === value);
    case 'StringEqualsIgnoreCase': return any((v) => v.toLowerCase() === value.toLowerCase());
    case 'StringNotEqualsIgnoreCase': return !any((v) => v.toLowerCase() === value.toLowerCase());
    case 'StringLike': case 'ArnLike': case 'ArnEquals': return c.values.some((v, i) => wildcardMatch(v, value, false, c.literals?.[i]));
    case 'StringNotLike': case 'ArnNotLike': case 'ArnNotEquals': return !c.values.some((v, i) => wildcardMatch(v, value, false, c.literals?.[i]));
    case 'Bool': return any((v) => v.toLowerCase() === value.toLowerCase());
    case 'IpAddress': return any((v) => ipInCidr(value, v));
    case 'NotIpAddress': return !any((v) => ipInCidr(value, v));
  }
  if (op.startsWith('Numeric')) return compare(op.slice('Numeric'.length), Number(value), c.values.map(Number));
  if (op.startsWith('Date')) return compare(op.slice('Date'.length), dateValue(value), c.values.map(storedDateValue));
  return false;
}

/**
 * A condition on a key the request does not carry: IfExists holds; over the empty set ForAllValues
 * holds and ForAnyValue does not (IAM's multivalued keys); a negated operator holds, a positive one not.
 */
function absentKeyHolds(c: PolicyCondition, ifExists: boolean, op: string): boolean {
  if (ifExists) return true;
  if (c.set) return c.set === 'ForAllValues';
  return op.includes('Not');
}

/** A date condition's value: epoch seconds, or ISO 8601 (a time without a zone is UTC), as IAM takes them. */
function dateValue(text: string): number {
  return /^\d+$/.test(text) ? Number(text) * 1000 : (parseIsoInstant(text)?.getTime() ?? NaN);
}

/**
 * A date in a stored policy. One stored before dates were read strictly may hold text only
 * Date.parse reads ("Jan 1 2030"): it keeps that reading, so that such a Deny still denies.
 */
function storedDateValue(text: string): number {
  const t = dateValue(text);
  return Number.isNaN(t) ? Date.parse(text) : t;
}

function compare(kind: string, value: number, against: number[]): boolean {
  if (Number.isNaN(value)) return false;
  const test = (v: number) => {
    switch (kind) {
      case 'Equals': return value === v;
      case 'NotEquals': return value !== v;
      case 'LessThan': return value < v;
      case 'LessThanEquals': return value <= v;
      case 'GreaterThan': return value > v;
      case 'GreaterThanEquals': return value >= v;
    }
    return false;
  };
  return kind === 'NotEquals' ? against.every(test) : against.some(test);
}

function statementApplies(statement: PolicyStatement, caller: PolicyCaller, action: string, resource: string, facts: RequestFacts): boolean {
  if (!principalMatches(statement.principal, caller)) return false;
  const actionHit = statement.actions.some((a) => wildcardMatch(a, action, true));
  if (actionHit === statement.notActions) return false;
  const s = bindVariables(statement, facts);
  // A variable that cannot be resolved makes the statement invalid, as in IAM; one on a key skep
  // does not evaluate (a policy stored before they were refused) fails closed.
  if (s === UNEVALUATED) return statement.effect === 'Deny';
  if (s === null) return false;
  const resourceHit = s.resources.some((r, i) => wildcardMatch(r, resource, false, s.resourceLiterals?.[i]));
  if (resourceHit === s.notResources) return false;
  // A condition skep cannot evaluate fails closed: its Deny applies, its Allow grants nothing.
  return s.conditions.every((c) => (c.unevaluated ? s.effect === 'Deny' : conditionHolds(c, facts)));
}

const UNEVALUATED = Symbol('unevaluated');

/** The statement with its policy variables filled in from the request (itself when it has none). */
function bindVariables(s: PolicyStatement, facts: RequestFacts): PolicyStatement | null | typeof UNEVALUATED {
  if (!s.resourceTemplates && !s.conditions.some((c) => c.templates)) return s;
  const bindAll = (texts: string[], templates: (PolicyTemplate | undefined)[] | undefined) => {
    if (!templates) return { texts, literals: undefined };
    const bound = templates.map((t, i): BoundPattern | null => (t ? t.bind(facts) : { text: texts[i], literal: NO_LITERALS }));
    if (bound.some((b) => b === null)) return null;
    return { texts: bound.map((b) => b!.text), literals: bound.map((b) => b!.literal) };
  };
  if ([s.resourceTemplates, ...s.conditions.map((c) => c.templates)].some((ts) => ts?.some((t) => t?.unevaluated))) return UNEVALUATED;
  const resources = bindAll(s.resources, s.resourceTemplates);
  if (!resources) return null;
  const conditions: PolicyCondition[] = [];
  for (const c of s.conditions) {
    const values = bindAll(c.values, c.templates);
    if (!values) return null;
    conditions.push({ ...c, values: values.texts, literals: values.literals });
  }
  return { ...s, resources: resources.texts, resourceLiterals: resources.literals, conditions };
}

const NO_LITERALS = new Uint8Array(0);

/**
 * What the policy says about `caller` doing `action` (e.g. s3:GetObject) on `resource`
 * (arn:aws:s3:::bucket or arn:aws:s3:::bucket/key): an explicit Deny wins over any Allow.
 */
export function evaluatePolicy(policy: BucketPolicy, caller: PolicyCaller, action: string, resource: string, facts: RequestFacts): PolicyOutcome {
  let outcome: PolicyOutcome = 'None';
  for (const s of policy.statements) {
    if (!statementApplies(s, caller, action, resource, facts)) continue;
    if (s.effect === 'Deny') return 'Deny';
    outcome = 'Allow';
  }
  return outcome;
}

/**
 * Whether the policy grants anything to everyone (AWS's "public"): an Allow to "*" is not public
 * only when one of its conditions pins a restricting key to fixed values with a positive operator.
 * A negated, Null, IfExists or ForAllValues condition also holds for callers outside those values
 * (or without the key), and a wildcard or a very wide address range pins nothing.
 */
export function isPublicPolicy(policy: BucketPolicy): boolean {
  return policy.statements.some((s) => s.effect === 'Allow' && s.principal.anyone && !s.conditions.some(pinsCallers));
}

function pinsCallers(c: PolicyCondition): boolean {
  if (!RESTRICTING_KEYS.has(c.key) || c.set === 'ForAllValues') return false;
  if (c.key === 'aws:sourceip') return c.operator === 'IpAddress' && c.values.every(isNarrowRange);
  // Anonymous callers carry aws:userid too: pinning it to theirs restricts nothing.
  if (c.key === 'aws:userid' && c.values.some((v) => v.toLowerCase() === 'anonymous')) return false;
  return PINNING_OPERATORS.has(c.operator) && c.values.every((v) => !/[*?]|\$\{/.test(v));
}

const IPV4_MAPPED = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);

function isNarrowRange(cidr: string): boolean {
  const range = cidrBytes(cidr);
  if (!range) return false;
  if (range.bytes.length === 4) return range.bits >= MIN_IPV4_PREFIX;
  // A range reaching into ::ffff:0:0/96 covers IPv4 clients seen through an IPv6 socket: judge that part as IPv4.
  if (samePrefix(range.bytes, IPV4_MAPPED, Math.min(range.bits, 96))) return range.bits - 96 >= MIN_IPV4_PREFIX;
  return range.bits >= MIN_IPV6_PREFIX;
}

export function resourceArn(bucket: string, key: string | null): string {
  return key === null ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
}
