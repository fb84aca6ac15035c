import { randomUUID } from 'node:crypto';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import type { IssuedCredentials, TokenService } from '../credentials/token-service.js';
import { ACCESS_KEY_ID_PATTERN } from '../credentials/key-material.js';
import { BOOTSTRAP_ACTOR } from '../audit/actor.js';

// First start: a default project (unless an operator already created one) and one bootstrap token (Admin Read & Write, all buckets, no
// expiry), returned once so the caller can print it. Later starts find the project and return nothing.

export interface BootstrapResult {
  projectId: string;
  /** Present only on the very first start. */
  issued?: IssuedCredentials;
  /** Whether the key pair came from SKEP_ROOT_* (then the secret is not printed). */
  givenByEnvironment?: boolean;
  /**
   * Present only on the start that created the first console user (admin@localhost, owner of
   * the default project): its one-time password, to print once. Only its argon2id hash is stored.
   */
  admin?: { email: string; password: string };
}

export async function bootstrap(
  meta: MetadataStore,
  tokens: TokenService,
  given: { accessKeyId?: string; secretAccessKey?: string },
): Promise<BootstrapResult> {
  const existing = await meta.listProjects();
  // Bootstrap once: as long as any token exists (revoked ones included), nothing is issued.
  for (const p of existing) {
    if ((await meta.listTokens(p.id)).length > 0) return { projectId: existing[0].id };
  }
  const fromEnv = !!(given.accessKeyId || given.secretAccessKey);
  if (fromEnv) {
    if (!given.accessKeyId || !given.secretAccessKey) {
      throw new Error('SKEP_ROOT_ACCESS_KEY_ID and SKEP_ROOT_SECRET_ACCESS_KEY must be set together');
    }
    if (!ACCESS_KEY_ID_PATTERN.test(given.accessKeyId)) throw new Error('SKEP_ROOT_ACCESS_KEY_ID must be 16-128 upper-case letters or digits');
    if (given.secretAccessKey.length < 16) throw new Error('SKEP_ROOT_SECRET_ACCESS_KEY must be at least 16 characters');
  }
  let projectId = existing[0]?.id;
  if (!projectId) {
    projectId = randomUUID();
    await meta.createProject({ id: projectId, name: 'default', createdAt: new Date(), maxTokenDays: null });
  }
  const { credentials } = await tokens.create({
    projectId,
    name: 'bootstrap',
    description: 'Created on first start',
    permission: 'admin-rw',
    bucketScope: null,
    billing: true,
    createdBy: BOOTSTRAP_ACTOR,
    bootstrap: fromEnv ? { accessKeyId: given.accessKeyId, secretAccessKey: given.secretAccessKey } : {},
  });
  return { projectId, issued: credentials, givenByEnvironment: fromEnv };
}
