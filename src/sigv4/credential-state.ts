import { timingSafeEqual } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import type { ResolvedCredential } from '../auth/principal.js';

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

export function signatureMismatch(accessKeyId: string, provided: string, sts: string, creq: string): S3Error {
  const extra: Record<string, string> = { AWSAccessKeyId: accessKeyId, StringToSign: sts, SignatureProvided: provided };
  if (creq) extra.CanonicalRequest = creq;
  return new S3Error('SignatureDoesNotMatch', undefined, extra);
}
