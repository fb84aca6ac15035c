import { isHeaderName } from '../net/header-text.js';

// A bucket's CORS rules and how a browser request is matched against them, as S3 does: the first
// rule whose origin, method and (for a preflight) every requested header match wins.

export const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;
export const MAX_CORS_RULES = 100;
/** The longest rule ID S3 takes. */
export const MAX_CORS_RULE_ID = 255;

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface CorsRequest {
  origin: string;
  method: string;
  /** Access-Control-Request-Headers of a preflight (lower-case), or none for an actual request. */
  headers: string[];
}

/** The first matching rule, or null. Origins and headers take one `*` wildcard; methods must be listed. */
export function matchCorsRule(rules: readonly CorsRule[], req: CorsRequest): CorsRule | null {
  for (const rule of rules) {
    if (!rule.allowedOrigins.some((o) => starMatch(o, req.origin))) continue;
    if (!rule.allowedMethods.includes(req.method)) continue;
    if (!req.headers.every((h) => rule.allowedHeaders.some((a) => starMatch(a.toLowerCase(), h)))) continue;
    return rule;
  }
  return null;
}

/** A pattern with at most one `*` (any run of characters); every other character, `?` too, stands for itself, as S3 reads it. */
function starMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

/** The headers S3 answers a matched request with, a preflight or an actual request alike. */
export function corsResponseHeaders(rule: CorsRule, req: CorsRequest): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const out: Record<string, string> = {
    'Access-Control-Allow-Origin': anyOrigin ? '*' : req.origin,
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (!anyOrigin) out['Access-Control-Allow-Credentials'] = 'true';
  if (rule.exposeHeaders.length > 0) out['Access-Control-Expose-Headers'] = rule.exposeHeaders.join(', ');
  // S3 sends the max age on actual requests too, though only a preflight's is ever cached.
  if (rule.maxAgeSeconds !== undefined) out['Access-Control-Max-Age'] = String(rule.maxAgeSeconds);
  if (req.headers.length > 0) out['Access-Control-Allow-Headers'] = req.headers.join(', ');
  return out;
}

/** Why a rule set is invalid (InvalidRequest), or null. */
export function corsRulesProblem(rules: readonly CorsRule[]): string | null {
  if (rules.length === 0) return 'The CORS configuration must have at least one CORSRule.';
  if (rules.length > MAX_CORS_RULES) return `The CORS configuration may have at most ${MAX_CORS_RULES} rules.`;
  for (const rule of rules) {
    if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0) return 'Each CORSRule needs at least one AllowedOrigin and one AllowedMethod.';
    if (rule.id !== undefined && rule.id.length > MAX_CORS_RULE_ID) return `The ID of a CORSRule cannot be longer than ${MAX_CORS_RULE_ID} characters.`;
    const method = rule.allowedMethods.find((m) => !(CORS_METHODS as readonly string[]).includes(m));
    if (method !== undefined) return `Found unsupported HTTP method in CORS config. Unsupported method is ${method}`;
    const origin = rule.allowedOrigins.find((o) => (o.match(/\*/g) ?? []).length > 1);
    if (origin !== undefined) return `AllowedOrigin "${origin}" can not have more than one wildcard.`;
    const hdr = rule.allowedHeaders.find((h) => (h.match(/\*/g) ?? []).length > 1);
    if (hdr !== undefined) return `AllowedHeader "${hdr}" can not have more than one wildcard.`;
    // Sent back in Access-Control-Expose-Headers: a name that cannot be a header would fail every matching response.
    const exposed = rule.exposeHeaders.find((h) => !isHeaderName(h));
    if (exposed !== undefined) return `ExposeHeader "${exposed}" is not a valid HTTP header name.`;
    // S3 takes no wildcard here: x-amz-meta-* would expose nothing to a browser.
    const wildcard = rule.exposeHeaders.find((h) => h.includes('*'));
    if (wildcard !== undefined) return `ExposeHeader "${wildcard}" contains a wildcard. Wildcards are currently not supported for ExposeHeader.`;
    if (rule.maxAgeSeconds !== undefined && (!Number.isInteger(rule.maxAgeSeconds) || rule.maxAgeSeconds < 0)) return 'MaxAgeSeconds must be a non-negative integer.';
  }
  return null;
}
