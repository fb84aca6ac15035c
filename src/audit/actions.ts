// Every action the audit log records, in one list: the store's type, the REST API's filter check
// and the console's filter menu are all read from here, so a new action is offered everywhere.

export const AUDIT_ACTIONS = [
  'token.created',
  'token.rotated',
  'token.rotation-confirmed',
  'token.disabled',
  'token.enabled',
  'token.revoked',
  'token.temporary-issued',
  'token.temporary-revoked',
  'auth.network-denied',
  'auth.expired-token',
  'auth.failed',
  'project.created',
  'project.updated',
  'user.created',
  'user.signed-in',
  'user.sign-in-failed',
  'user.password-changed',
  'project.member-added',
  'project.member-role-changed',
  'project.member-removed',
  'bucket.created',
  'bucket.deleted',
  'bucket.config-changed',
  'object.deleted',
  'object.presigned',
  // The lifecycle worker expired a current object, removed a version or a delete marker.
  'lifecycle.expired',
  'lifecycle.upload-aborted',
  // A governance-mode retention was shortened, removed or deleted through with the bypass header.
  'object.governance-bypassed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const KNOWN: ReadonlySet<string> = new Set(AUDIT_ACTIONS);

export function isAuditAction(name: string): name is AuditAction {
  return KNOWN.has(name);
}
