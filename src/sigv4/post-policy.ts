import { createHmac } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import { parseIsoInstant } from '../util/iso-time.js';
import { checkSessionToken, checkState, signaturesEqual } from './credential-state.js';
import { ALGORITHM, signingKey } from './canonical.js';
import { policySignatureV2 } from './sigv2.js';
import type { Principal, CredentialLookup } from '../auth/principal.js';

// Browser-form uploads (POST object): the signature over the base64 policy document, SigV4
// (x-amz-credential, x-amz-date, x-amz-signature) or SigV2 (AWSAccessKeyId, signature), and the
// policy's expiration and conditions checked against the form's fields. Pure but for the lookup.

/** Form fields by lower-case name (the first of each name). */
export type FormFields = ReadonlyMap<string, string>;

export interface PolicyDocument {
  expiration: Date;
  conditions: PolicyCondition[];
}

export type PolicyCondition =
  | { kind: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { kind: 'content-length-range'; min: number; max: number; text: string }
  /** A well-formed condition no form can meet (a field named without its '$', a range of non-numbers): S3 refuses the form, 403. */
  | { kind: 'unmet'; text: string };

function invalidPolicy(message: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${message}`);
}

function denied(message: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${message}`);
}

/** Decodes and validates the base64 policy document (InvalidPolicyDocument when it is not one). */
export function parsePostPolicy(base64: string): PolicyDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (typeof doc !== 'object' || doc === null) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as Record<string, unknown>;
  // ISO 8601 in GMT, as S3 asks: a time without a zone is UTC, not the server's local time.
  const expiresAt = typeof expiration === 'string' ? parseIsoInstant(expiration) : undefined;
  if (!expiresAt) throw invalidPolicy('Invalid \'expiration\' value.');
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');
  return {
    expiration: expiresAt,
    conditions: conditions.map((c): PolicyCondition => {
      const text = JSON.stringify(c);
      if (Array.isArray(c)) {
        const [op, a, b] = c as unknown[];
        if (typeof op === 'string' && op.toLowerCase() === 'content-length-range') {
          const min = Number(a);
          const max = Number(b);
          if (c.length !== 3) throw invalidPolicy(`Invalid content-length-range condition: ${text}`);
          if (!Number.isInteger(min) || !Number.isInteger(max)) return { kind: 'unmet', text };
          if (min < 0 || max < min) throw invalidPolicy(`Invalid content-length-range condition: ${text}`);
          return { kind: 'content-length-range', min, max, text };
        }
        if (c.length !== 3 || typeof op !== 'string' || typeof a !== 'string' || typeof b !== 'string') throw invalidPolicy(`Invalid Condition: ${text}`);
        const kind = op.toLowerCase();
        if (kind !== 'eq' && kind !== 'starts-with') throw invalidPolicy(`Unknown condition: ${op}`);
        if (!a.startsWith('$')) return { kind: 'unmet', text };
        return { kind, field: a.slice(1).toLowerCase(), value: b, text };
      }
      if (typeof c === 'object' && c !== null) {
        const entries = Object.entries(c as Record<string, unknown>);
        if (entries.length !== 1 || typeof entries[0][1] !== 'string') throw invalidPolicy(`Invalid Condition: ${text}`);
        return { kind: 'eq', field: entries[0][0].toLowerCase(), value: entries[0][1] as string, text };
      }
      throw invalidPolicy(`Invalid Condition: ${text}`);
    }),
  };
}

/**
 * Whether a field's value meets an eq or starts-with condition. A Content-Type under starts-with
 * is a list: every type in it must start so (AWS), or `image/png,text/html` would pass `image/`
 * and be served as HTML.
 */
function meets(kind: 'eq' | 'starts-with', field: string, value: string, expected: string): boolean {
  if (kind === 'eq') return value === expected;
  if (field === 'content-type') return value.split(',').every((v) => v.trim().startsWith(expected));
  return value.startsWith(expected);
}

/** Fields every form may carry that no condition needs to cover (AWS's list). */
const UNCONDITIONED = new Set(['policy', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'file']);

/**
 * Checks the expiration and every condition against the form (and `bucket`), and that every field
 * is covered by a condition. Returns the content-length-range, if any. 403 AccessDenied naming the
 * failed condition otherwise.
 */
export function checkPostPolicy(policy: PolicyDocument, fields: FormFields, bucket: string, now: Date): { min: number; max: number } | undefined {
  if (now.getTime() > policy.expiration.getTime()) throw denied('Policy expired.');
  let range: { min: number; max: number } | undefined;
  const covered = new Set<string>();
  for (const c of policy.conditions) {
    if (c.kind === 'content-length-range') {
      range = { min: c.min, max: c.max };
      continue;
    }
    if (c.kind === 'unmet') throw denied(`Policy Condition failed: ${c.text}`);
    covered.add(c.field);
    const value = c.field === 'bucket' ? bucket : fields.get(c.field);
    if (value === undefined || !meets(c.kind, c.field, value, c.value)) throw denied(`Policy Condition failed: ${c.text}`);
  }
  for (const name of fields.keys()) {
    if (UNCONDITIONED.has(name) || name.startsWith('x-ignore-') || covered.has(name)) continue;
    throw denied(`Extra input fields: ${name}`);
  }
  return range;
}

/**
 * The signer of a POST form: SigV4 or SigV2 fields, verified against the token's secrets; null for
 * an unsigned form. Token state (revoked, expired, disabled) is checked as for any request.
 */
export async function authenticatePostForm(fields: FormFields, lookup: CredentialLookup, regions: readonly string[]): Promise<{ principal: Principal; policy: string } | null> {
  const policy = fields.get('policy');
  const v4 = fields.get('x-amz-signature');
  const v2 = fields.get('signature');
  if (v4 === undefined && v2 === undefined && fields.get('awsaccesskeyid') === undefined && fields.get('x-amz-credential') === undefined) return null;
  if (policy === undefined) throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'policy\'.  If it is specified, please check the order of the fields.', { ArgumentName: 'policy', ArgumentValue: '' });
  let accessKeyId: string;
  let verify: (secret: string) => boolean;
  if (v4 !== undefined) {
    const algorithm = fields.get('x-amz-algorithm');
    if (algorithm !== ALGORITHM) throw new S3Error('InvalidArgument', `Invalid x-amz-algorithm: ${algorithm ?? ''}`, { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm ?? '' });
    const parts = (fields.get('x-amz-credential') ?? '').split('/');
    if (parts.length !== 5 || parts[3] !== 's3' || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1])) {
      throw new S3Error('InvalidArgument', 'Bucket POST must contain a valid x-amz-credential field.', { ArgumentName: 'x-amz-credential', ArgumentValue: fields.get('x-amz-credential') ?? '' });
    }
    if (!regions.includes(parts[2])) {
      throw new S3Error('InvalidArgument', `the region '${parts[2]}' is wrong; expecting '${regions[0]}'`, { ArgumentName: 'X-Amz-Credential', ArgumentValue: fields.get('x-amz-credential') ?? '', Region: regions[0] });
    }
    accessKeyId = parts[0];
    verify = (secret) => signaturesEqual(createHmac('sha256', signingKey(secret, parts[1], parts[2], 's3')).update(policy, 'utf8').digest('hex'), v4);
  } else if (fields.get('x-amz-credential') !== undefined || fields.get('x-amz-algorithm') !== undefined) {
    // A SigV4 form without its signature: name the field it lacks, not SigV2's.
    throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'X-Amz-Signature\'.  If it is specified, please check the order of the fields.', { ArgumentName: 'X-Amz-Signature', ArgumentValue: '' });
  } else {
    const ak = fields.get('awsaccesskeyid');
    if (ak === undefined || v2 === undefined) throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'AWSAccessKeyId\' and a \'signature\'.', { ArgumentName: 'AWSAccessKeyId', ArgumentValue: '' });
    accessKeyId = ak;
    verify = (secret) => signaturesEqual(policySignatureV2(secret, policy), v2);
  }
  const resolved = await lookup.lookup(accessKeyId);
  if (!resolved) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  if (!resolved.secrets.some(verify)) {
    throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', { AWSAccessKeyId: accessKeyId, StringToSign: policy, SignatureProvided: v4 ?? v2 ?? '' });
  }
  checkSessionToken(resolved, fields.get('x-amz-security-token'), accessKeyId);
  checkState(resolved, accessKeyId);
  return { principal: resolved.principal, policy };
}
