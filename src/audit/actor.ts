// Who acted, as the audit log (and a token's createdBy) records it: one format everywhere.
//   token:<token id>   a bearer token or an S3 access key
//   user:<email>       a console user (also the claimed email of a failed sign-in)
//   cli:<os user>      the operator CLI, which has no sign-in
//   bootstrap          the server's first start
//   anonymous          a failed authentication whose key names no token (the claim goes in the detail)
//   lifecycle          the lifecycle worker applying a bucket's rules

export type Actor = `token:${string}` | `user:${string}` | `cli:${string}` | 'bootstrap' | 'anonymous' | 'lifecycle';

export const BOOTSTRAP_ACTOR = 'bootstrap' satisfies Actor;
export const ANONYMOUS_ACTOR = 'anonymous' satisfies Actor;
export const LIFECYCLE_ACTOR = 'lifecycle' satisfies Actor;

export function tokenActor(tokenId: string): Actor {
  return `token:${tokenId}`;
}

export function userActor(email: string): Actor {
  return `user:${email}`;
}

export function cliActor(osUser: string): Actor {
  return `cli:${osUser}`;
}

export function isActor(text: string): text is Actor {
  return /^(token|user|cli):./.test(text) || text === BOOTSTRAP_ACTOR || text === ANONYMOUS_ACTOR || text === LIFECYCLE_ACTOR;
}

/** Who asks for a change, and from where (a client address, or local:<host> for the CLI). */
export interface RequestSource {
  actor: string;
  source?: string;
}
