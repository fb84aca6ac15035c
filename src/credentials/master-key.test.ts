import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openSqliteStore } from '../storage/metadata/sqlite-store.js';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { openSecretBox } from './master-key.js';
import { FAILURE_AUDITS_PER_MINUTE, TokenService } from './token-service.js';
import { AuditService } from '../audit/audit-service.js';
import { MemoryLimiterState, RateLimiter } from '../limits/rate-limiter.js';
import type { SecretBox } from './secret-box.js';

function newTokens(meta: MetadataStore, box: SecretBox): TokenService {
  return new TokenService(meta, box, new AuditService(meta), new RateLimiter(new MemoryLimiterState(), 'test', FAILURE_AUDITS_PER_MINUTE, 60_000));
}

// openSecretBox never picks a new key for a folder that already has secrets (or a check value),
// and refuses a key that does not open them.

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup) await c();
});

async function folder(): Promise<{ dir: string; meta: MetadataStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'skep-master-key-'));
  const meta = await openSqliteStore(join(dir, 'metadata.sqlite'));
  cleanup.push(async () => {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, meta };
}

const hexKey = () => randomBytes(32).toString('hex');

describe('openSecretBox', () => {
  test('a folder first opened with SKEP_MASTER_KEY gets no key file later, before or after its first token', async () => {
    const { dir, meta } = await folder();
    const key = hexKey();
    await openSecretBox(dir, key, meta);
    assert.ok(!existsSync(join(dir, 'master.key')));
    // No token yet: the check value alone stops a key-less open from creating a key.
    await assert.rejects(openSecretBox(dir, undefined, meta), /SKEP_MASTER_KEY is not set and .*master\.key does not exist/);
    assert.ok(!existsSync(join(dir, 'master.key')));
    await assert.rejects(openSecretBox(dir, hexKey(), meta), /The master key from SKEP_MASTER_KEY does not decrypt/);

    const projectId = randomUUID();
    await meta.createProject({ id: projectId, name: 'p', createdAt: new Date(), maxTokenDays: null });
    const tokens = newTokens(meta, await openSecretBox(dir, key, meta));
    const { credentials } = await tokens.create({ projectId, name: 't', permission: 'object-ro', bucketScope: null, createdBy: 'test' });
    await assert.rejects(openSecretBox(dir, undefined, meta), /holds encrypted secrets but no master key/);
    assert.ok(!existsSync(join(dir, 'master.key')));
    const again = newTokens(meta, await openSecretBox(dir, key, meta));
    assert.deepEqual((await again.lookup(credentials.accessKeyId))?.secrets, [credentials.secretAccessKey]);
  });

  test('a stored secret is the check even without the check file; a wrong master.key names the file', async () => {
    const { dir, meta } = await folder();
    const box = await openSecretBox(dir, undefined, meta);
    assert.ok(existsSync(join(dir, 'master.key')), 'a fresh folder gets a key file');
    const projectId = randomUUID();
    await meta.createProject({ id: projectId, name: 'p', createdAt: new Date(), maxTokenDays: null });
    await newTokens(meta, box).create({ projectId, name: 't', permission: 'object-ro', bucketScope: null, createdBy: 'test' });
    await rm(join(dir, 'master-key.check'));
    await openSecretBox(dir, undefined, meta);
    await assert.rejects(openSecretBox(dir, hexKey(), meta), /from SKEP_MASTER_KEY does not decrypt.*unset it to use .*master\.key/);
    await rm(join(dir, 'master.key'));
    await assert.rejects(openSecretBox(dir, undefined, meta), /no master key/);
    assert.ok(!existsSync(join(dir, 'master.key')));
  });
});
