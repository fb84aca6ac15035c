import { S3Error } from './errors.js';
import type { S3Context } from './context.js';
import { authorize } from '../auth/authorize.js';
import type { RequestSource } from '../audit/actor.js';
import { bypassRequested } from './protection-headers.js';

// The rights a header asks for on top of the operation's own.

/**
 * The caller, when the request sends x-amz-bypass-governance-retention: true and may use it
 * (admin-rw); AccessDenied when it may not; undefined when the header is absent. The bucket
 * policy's say on s3:BypassGovernanceRetention was heard at admission, which has the policy.
 */
export function governanceBypass(ctx: S3Context): RequestSource | undefined {
  if (!bypassRequested(ctx.req)) return undefined;
  if (!authorize(ctx.auth.principal, 'BypassGovernanceRetention', ctx.op.bucket).allow) {
    throw new S3Error('AccessDenied', 'Only admin-rw tokens may bypass GOVERNANCE retention.');
  }
  return ctx.by;
}
