import { timingSafeEqual } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import type { ResolvedCredential } from '../auth/principal.js';
import { sessionTokenMatches } from '../credentials/temporary-credentials.js';

// What every signature version does once it has found the credential: compare in constant time,
// and tell a verified holder why their key no longer works.

/** Constant-time comparison of two signatures (hex or base64 text). */
export function signaturesEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** A verified signature from a credential that no longer works: say why, to its holder only. */
export function checkState(resolved: ResolvedCredential, accessKeyId: string): void {
  switch (resolved.state) {
    case 'active':
      return;
    case 'expired':
      throw new S3Error('ExpiredToken', `The token behind this access key expired at ${resolved.expiresAt?.toISOString()}.`, { AWSAccessKeyId: accessKeyId });
    case 'revoked':
      throw new S3Error('InvalidAccessKeyId', 'The token behind this access key has been revoked.', { AWSAccessKeyId: accessKeyId });
    case 'disabled':
      throw new S3Error('InvalidAccessKeyId', 'The token behind this access key is disabled.', { AWSAccessKeyId: accessKeyId });
  }
}

/**
 * The session token (x-amz-security-token, in a header, a presigned URL or a form field) against
 * the credential: temporary credentials need theirs — without it the key is unknown, as on AWS —
 * and a token's own keys take none.
 */
export function checkSessionToken(resolved: ResolvedCredential, provided: string | undefined, accessKeyId: string): void {
  if (resolved.sessionTokenHash === undefined) {
    if (provided) throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid: this access key takes no session token.', { AWSAccessKeyId: accessKeyId });
    return;
  }
  if (!provided) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  if (!sessionTokenMatches(provided, resolved.sessionTokenHash)) {
    throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.', { AWSAccessKeyId: accessKeyId });
  }
}

/** The error S3 answers a wrong signature with: what it signed, also as bytes (hex pairs), to compare with the client's. */
export function signatureMismatch(accessKeyId: string, provided: string, sts: string, creq: string): S3Error {
  const extra: Record<string, string> = { AWSAccessKeyId: accessKeyId, StringToSign: sts, SignatureProvided: provided, StringToSignBytes: hexBytes(sts) };
  if (creq) Object.assign(extra, { CanonicalRequest: creq, CanonicalRequestBytes: hexBytes(creq) });
  return new S3Error('SignatureDoesNotMatch', undefined, extra);
}

function hexBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ');
}
