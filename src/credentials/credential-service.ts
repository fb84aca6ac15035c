import type { CredentialLookup, ResolvedCredential } from '../auth/principal.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { SecretBox } from './secret-box.js';
import { newAccessKeyId, newSecretAccessKey } from './key-material.js';

// Access keys: created with their secret encrypted at rest, resolved for SigV4 by access key ID.

export interface IssuedKey {
  accessKeyId: string;
  /** Shown once, in the reply that creates it; never stored in clear. */
  secretAccessKey: string;
}

export class CredentialService implements CredentialLookup {
  constructor(
    private readonly meta: MetadataStore,
    private readonly box: SecretBox,
  ) {}

  async lookup(accessKeyId: string): Promise<ResolvedCredential | null> {
    const row = await this.meta.getCredential(accessKeyId);
    if (!row) return null;
    // The access key ID is bound as associated data: a ciphertext moved to another row fails.
    const secret = this.box.decrypt(row.secretCiphertext, row.accessKeyId);
    return { secrets: [secret], principal: { accessKeyId: row.accessKeyId, projectId: row.projectId, tokenId: null } };
  }

  async createKey(projectId: string, label: string, given?: IssuedKey): Promise<IssuedKey> {
    const key = given ?? { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    await this.meta.putCredential({
      accessKeyId: key.accessKeyId,
      projectId,
      secretCiphertext: this.box.encrypt(key.secretAccessKey, key.accessKeyId),
      label,
      createdAt: new Date(),
    });
    return key;
  }
}
