import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from './errors.js';
import { renderResult, renderStsError, STS_NAMESPACE, type S3Response } from './render.js';
import { splitUrl } from './endpoint.js';
import { authenticate } from '../sigv4/authenticate.js';
import type { CredentialLookup, Principal } from '../auth/principal.js';
import { DEFAULT_DURATION_SECONDS, MAX_DURATION_SECONDS, type FieldNames, type TemporaryCredentialService } from '../credentials/temporary-credentials.js';
import { tokenActor } from '../audit/actor.js';
import { DomainError } from '../util/domain-error.js';
import type { Logger } from 'pino';

// AWS STS's AssumeRole, GetSessionToken and GetCallerIdentity on the S3 endpoint, as MinIO serves
// them: a POST of an application/x-www-form-urlencoded form (Action=...&Version=2011-06-15) to the
// root, signed with SigV4 for the service "sts". The caller's token plays the role: RoleArn may be
// anything, the session gets the token's level and scope narrowed by an inline Policy, and it
// lasts at most as long as the token. Temporary credentials cannot make more. Replies and errors
// are STS's XML.

const STS_VERSION = '2011-06-15';
/** A form is a few parameters and a policy of at most 2048 characters (URL-encoded, up to three times that). */
const MAX_FORM_BYTES = 16 * 1024;
const FIELDS: FieldNames = { durationSeconds: 'DurationSeconds', name: 'RoleSessionName', policy: 'Policy' };

export interface StsDeps {
  credentials: CredentialLookup;
  temporary: TemporaryCredentialService;
  regions: readonly string[];
  clock: () => Date;
  /** The client's address (for the audit log and network conditions). */
  addressOf: (req: IncomingMessage) => string | undefined;
  /** A verified caller's network condition and rate limit (throws as S3 errors). */
  admitCaller: (principal: Principal, req: IncomingMessage) => Promise<void>;
  /** The project a project host name selects, which admits only its own keys. */
  hostProject: string | null;
  log: Logger;
}

/** A POST of a form to the service root: an STS action (a browser-form upload names a bucket). */
export function isStsRequest(req: IncomingMessage, hostBucket: string | null): boolean {
  if (req.method !== 'POST' || hostBucket !== null) return false;
  const url = req.url ?? '/';
  if (url !== '/' && url !== '/?') return false;
  const type = req.headers['content-type'];
  return typeof type === 'string' && /^application\/x-www-form-urlencoded\b/i.test(type);
}

function readForm(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new S3Error('ValidationError', `The request body is larger than ${MAX_FORM_BYTES} bytes.`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A DomainError from the credential service as STS says it: ValidationError naming the parameter. */
function stsError(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  if (err.kind === 'invalid-argument') return new S3Error(err.field === 'Policy' ? 'MalformedPolicyDocument' : 'ValidationError', err.message);
  if (err.kind === 'forbidden' || err.kind === 'conflict') return new S3Error('AccessDenied', err.message);
  return err;
}

function durationOf(form: URLSearchParams): number | undefined {
  const text = form.get('DurationSeconds');
  if (text === null) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new S3Error('ValidationError', `DurationSeconds must be a whole number of seconds (got ${JSON.stringify(text.slice(0, 20))}).`);
  return Number(text);
}

function credentialsXml(s: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string }) {
  return { AccessKeyId: s.accessKeyId, SecretAccessKey: s.secretAccessKey, SessionToken: s.sessionToken, Expiration: s.expiration };
}

function reply(action: string, result: Record<string, unknown>, requestId: string): S3Response {
  return {
    xml: { root: `${action}Response`, namespace: STS_NAMESPACE, value: { [`${action}Result`]: result, ResponseMetadata: { RequestId: requestId } } },
  };
}

async function perform(action: string, form: URLSearchParams, principal: Principal, deps: StsDeps, req: IncomingMessage, requestId: string): Promise<S3Response> {
  const by = { actor: tokenActor(principal.tokenId), source: deps.addressOf(req) };
  switch (action) {
    case 'GetCallerIdentity': {
      const arn = principal.temporaryId
        ? `arn:aws:sts::${principal.projectId}:assumed-role/${principal.tokenId}/${principal.temporaryId}`
        : `arn:aws:iam::${principal.projectId}:user/${principal.accessKeyId}`;
      return reply(action, { Arn: arn, UserId: principal.tokenId, Account: principal.projectId }, requestId);
    }
    case 'AssumeRole':
    case 'GetSessionToken': {
      if (principal.temporaryId) throw new S3Error('AccessDenied', 'Temporary credentials cannot make more temporary credentials: use the token itself.');
      if (form.getAll('PolicyArns.member.1.arn').length > 0) {
        throw new S3Error('ValidationError', 'PolicyArns are not supported: pass the session policy inline as Policy.');
      }
      let name = 'session';
      if (action === 'AssumeRole') {
        const roleArn = form.get('RoleArn');
        if (!roleArn) throw new S3Error('ValidationError', 'RoleArn is required (any value: the signing token plays the role).');
        if (roleArn.length > 2048) throw new S3Error('ValidationError', 'RoleArn is at most 2048 characters.');
        const sessionName = form.get('RoleSessionName');
        if (!sessionName) throw new S3Error('ValidationError', 'RoleSessionName is required.');
        name = sessionName;
      }
      const policy = action === 'AssumeRole' ? form.get('Policy') ?? undefined : undefined;
      const issued = await deps.temporary
        .issue(
          {
            projectId: principal.projectId,
            tokenId: principal.tokenId,
            name,
            durationSeconds: durationOf(form),
            // AWS's defaults: an hour for AssumeRole, twelve for GetSessionToken (capped at the token's life).
            defaultDurationSeconds: action === 'AssumeRole' ? DEFAULT_DURATION_SECONDS : MAX_DURATION_SECONDS,
            policy,
            by,
          },
          FIELDS,
        )
        .catch((err: unknown) => {
          throw stsError(err);
        });
      const result: Record<string, unknown> = { Credentials: credentialsXml(issued.secrets) };
      if (action === 'AssumeRole') {
        result.AssumedRoleUser = {
          AssumedRoleId: `${principal.tokenId}:${name}`,
          Arn: `arn:aws:sts::${principal.projectId}:assumed-role/${principal.tokenId}/${name}`,
        };
      }
      return reply(action, result, requestId);
    }
    default:
      throw new S3Error('InvalidAction', `Could not find operation ${action.slice(0, 64)} for version ${STS_VERSION}: skep serves AssumeRole, GetSessionToken and GetCallerIdentity.`);
  }
}

/** Serves one STS request end to end (authentication included); never throws. */
export async function handleSts(req: IncomingMessage, res: ServerResponse, requestId: string, deps: StsDeps): Promise<Principal | null> {
  let principal: Principal | null = null;
  try {
    const body = await readForm(req);
    const target = splitUrl(req.url ?? '/');
    const auth = await authenticate(
      { method: 'POST', rawPath: target.rawPath, rawQuery: target.rawQuery, rawHeaders: req.rawHeaders, headers: req.headers },
      {
        regions: deps.regions,
        now: deps.clock(),
        lookup: deps.credentials,
        sigv2: false,
        service: 'sts',
        payloadHash: createHash('sha256').update(body).digest('hex'),
      },
    ).catch((err: unknown) => {
      if (err instanceof S3Error && ['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'ExpiredToken', 'InvalidToken'].includes(err.code)) {
        deps.credentials.recordFailure?.(err.extra.AWSAccessKeyId ?? 'unknown', err.code, deps.addressOf(req));
      }
      // STS names an unknown key InvalidClientTokenId.
      if (err instanceof S3Error && err.code === 'InvalidAccessKeyId') throw new S3Error('InvalidClientTokenId', err.message);
      throw err;
    });
    if (!auth) throw new S3Error('MissingAuthenticationToken');
    principal = auth.principal;
    if (deps.hostProject !== null && deps.hostProject !== principal.projectId) throw new S3Error('AccessDenied', 'This access key belongs to another project.');
    deps.credentials.recordUse?.(principal);
    await deps.admitCaller(principal, req);
    const form = new URLSearchParams(body.toString('utf8'));
    if (form.get('Version') !== STS_VERSION) throw new S3Error('ValidationError', `Version must be ${STS_VERSION}.`);
    const action = form.get('Action');
    if (!action) throw new S3Error('InvalidAction', 'The form names no Action.');
    const result = await perform(action, form, principal, deps, req, requestId);
    res.setHeader('Cache-Control', 'no-store');
    await renderResult(req, res, requestId, result);
  } catch (err) {
    if (!(err instanceof S3Error)) deps.log.error({ err, requestId }, 'STS request failed');
    if (!req.complete) res.setHeader('Connection', 'close');
    renderStsError(res, requestId, err instanceof S3Error ? err : new S3Error('InternalError'));
  }
  return principal;
}
