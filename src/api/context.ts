import type { HttpBindings } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';
import type { ObjectService } from '../objects/object-service.js';
import type { MultipartService } from '../objects/multipart-service.js';
import type { DataProtectionService } from '../buckets/data-protection-service.js';
import type { BucketConfigService } from '../buckets/bucket-config-service.js';
import type { ObjectLockService } from '../objects/object-lock-service.js';
import type { TokenService } from '../credentials/token-service.js';
import type { ProjectService } from '../projects/project-service.js';
import type { MetadataStore, ProjectRole, SessionRow, UserRow } from '../storage/metadata/metadata-store.js';
import type { UserService } from '../users/user-service.js';
import type { UsageService } from '../usage/usage-service.js';
import type { AuditService } from '../audit/audit-service.js';
import type { BucketService } from '../buckets/bucket-service.js';
import type { IncomingMessage } from 'node:http';
import type { TemporaryCredentialService } from '../credentials/temporary-credentials.js';
import type { CredentialGuard } from '../credentials/credential-guard.js';
import type { QuotaService } from '../quotas/quota-service.js';

// What every API module receives, and the per-request values the middleware sets.

export interface ApiDeps {
  meta: MetadataStore;
  objects: ObjectService;
  multipart: MultipartService;
  /** A bucket's access and CORS configuration. */
  bucketConfig: BucketConfigService;
  protection: DataProtectionService;
  objectLock: ObjectLockService;
  tokens: TokenService;
  buckets: BucketService;
  audit: AuditService;
  projects: ProjectService;
  users: UserService;
  usage: UsageService;
  temporary: TemporaryCredentialService;
  quotas: QuotaService;
  /** Each bearer token's network condition and rate limit (none checked when absent). */
  guard?: CredentialGuard;
  region: string;
  /** The client's address (src/net/client-address.ts); the socket's peer when not given. */
  clientAddress?: (req: IncomingMessage) => string | undefined;
  /** The server speaks TLS: cookies are Secure and URLs https. */
  tls: boolean;
  /** The server's own URL, for when a request has no usable Host header. */
  fallbackUrl: () => string;
  /** `--project-domain`: each project's own endpoint is `<project-id>.<domain>`. */
  projectDomain?: string;
  clock: () => Date;
  log: Logger;
}

/** Who is calling: a token's bearer credential, or a signed-in console user. */
export type Caller =
  | { kind: 'bearer'; principal: Principal }
  | { kind: 'session'; user: UserRow; session: SessionRow };

/** The caller's standing in one project, resolved by requireProject(). */
export interface ProjectAccess {
  projectId: string;
  caller: Caller;
  /**
   * Who the request acts as for authorize(): the bearer token's principal, or for a console
   * session one derived from the user's role (owner: admin-rw, member: object-rw; all buckets).
   */
  principal: Principal;
  /** The console user's role; null for bearer callers. */
  role: ProjectRole | null;
  /** The actor written to the audit log: token:<id> or user:<email>. */
  actor: string;
}

export interface ApiEnv {
  Bindings: HttpBindings;
  Variables: {
    caller: Caller | null;
    /** The client's address, for the audit log and sign-in limits. */
    source: string | undefined;
    access: ProjectAccess | undefined;
  };
}

export type ApiApp = OpenAPIHono<ApiEnv>;
