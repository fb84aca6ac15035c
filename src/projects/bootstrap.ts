import { randomUUID } from 'node:crypto';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import type { CredentialService, IssuedKey } from '../credentials/credential-service.js';
import { ACCESS_KEY_ID_PATTERN } from '../credentials/key-material.js';

// First start: a default project and one bootstrap credential, returned once so the caller can
// print it. Later starts find the project and return nothing.

export interface BootstrapResult {
  projectId: string;
  /** Present only on the very first start. */
  issued?: IssuedKey;
}

export async function bootstrap(
  meta: MetadataStore,
  credentials: CredentialService,
  given: { accessKeyId?: string; secretAccessKey?: string },
): Promise<BootstrapResult> {
  const existing = await meta.listProjects();
  if (existing.length > 0) return { projectId: existing[0].id };
  let key: IssuedKey | undefined;
  if (given.accessKeyId || given.secretAccessKey) {
    if (!given.accessKeyId || !given.secretAccessKey) {
      throw new Error('SKEP_ROOT_ACCESS_KEY_ID and SKEP_ROOT_SECRET_ACCESS_KEY must be set together');
    }
    if (!ACCESS_KEY_ID_PATTERN.test(given.accessKeyId)) throw new Error('SKEP_ROOT_ACCESS_KEY_ID must be 16-128 upper-case letters or digits');
    if (given.secretAccessKey.length < 16) throw new Error('SKEP_ROOT_SECRET_ACCESS_KEY must be at least 16 characters');
    key = { accessKeyId: given.accessKeyId, secretAccessKey: given.secretAccessKey };
  }
  const projectId = randomUUID();
  await meta.createProject({ id: projectId, name: 'default', createdAt: new Date() });
  const issued = await credentials.createKey(projectId, 'bootstrap', key);
  return { projectId, issued };
}
