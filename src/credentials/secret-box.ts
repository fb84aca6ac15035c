import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BoundedCache } from '../util/bounded-cache.js';

// Secret access keys are needed in clear to verify SigV4, so they cannot be hashed: they are
// stored encrypted with AES-256-GCM under a master key that never enters the database.

const VERSION = 'v1';

export class SecretBox {
  /**
   * A KeyObject, as in sigv4/canonical.ts: each cipher takes it as it is, where a Buffer key
   * costs Node.js 24 about 12 us more per cipher.
   */
  private readonly key: KeyObject;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes');
    this.key = createSecretKey(masterKey);
  }

  encrypt(plaintext: string, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), body.toString('base64'), cipher.getAuthTag().toString('base64')].join(':');
  }

  /**
   * Plaintexts by ciphertext and associated data: every signed request decrypts its credential's
   * secret, and AES-GCM setup costs more than the lookup. The row is still read on each request,
   * so a revoked or rotated secret stops working at once; only the decryption is skipped.
   */
  private readonly opened = new BoundedCache<string>(1024);

  /** Throws if the ciphertext was tampered with or bound to other associated data. */
  decrypt(ciphertext: string, associatedData: string): string {
    return this.opened.get(`${associatedData}\0${ciphertext}`, () => this.open(ciphertext, associatedData));
  }

  private open(ciphertext: string, associatedData: string): string {
    const [version, iv, body, tag] = ciphertext.split(':');
    if (version !== VERSION || !iv || !body || !tag) throw new Error('unrecognised secret ciphertext');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  }
}

/** SKEP_MASTER_KEY as given: 64 hex digits or base64 of 32 bytes. */
function parseEnvKey(fromEnv: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(fromEnv) ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
  if (key.length !== 32) throw new Error('SKEP_MASTER_KEY must be 32 bytes, given as 64 hex digits or base64');
  return key;
}

export function masterKeyPath(dataDir: string): string {
  return join(dataDir, 'master.key');
}

/** The master key from SKEP_MASTER_KEY, else from `<data>/master.key`; null when neither exists. */
export async function readMasterKey(dataDir: string, fromEnv: string | undefined): Promise<Buffer | null> {
  if (fromEnv) return parseEnvKey(fromEnv);
  const path = masterKeyPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte base64 key`);
  return key;
}

/** Writes a fresh `<data>/master.key` (mode 0600); if another process won the race, reads its key. */
async function createMasterKey(dataDir: string): Promise<Buffer> {
  const path = masterKeyPath(dataDir);
  const key = randomBytes(32);
  try {
    await writeFile(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readMasterKey(dataDir, undefined))!;
  }
  await chmod(path, 0o600);
  return key;
}

/**
 * The master key: SKEP_MASTER_KEY (base64 or hex of 32 bytes) when set, otherwise `master.key` in
 * the data folder, created with mode 0600 on first start. Services open the key through
 * openSecretBox (master-key.ts), which never creates one for a folder that holds secrets already.
 */
export async function loadMasterKey(dataDir: string, fromEnv: string | undefined): Promise<Buffer> {
  return (await readMasterKey(dataDir, fromEnv)) ?? createMasterKey(dataDir);
}
