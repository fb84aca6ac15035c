import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import { SecretBox, loadMasterKey, masterKeyPath, readMasterKey } from './secret-box.js';

// Opening the master key safely. A data folder whose secrets were sealed under one key must never
// be opened with another: a forgotten SKEP_MASTER_KEY would otherwise make the CLI or a restart
// create a second key file, and every stored secret would turn undecryptable (500s on every
// request). So a folder that holds secrets gets no new key, and the key in use must open one of
// them before anything else happens.

/** One stored ciphertext with the associated data it is bound to: the check for a candidate key. */
export interface SealedSample {
  ciphertext: string;
  associatedData: string;
}

/** A secret access key stored in the folder (revoked tokens keep theirs), or null if none is. */
export async function sealedSample(meta: MetadataStore): Promise<SealedSample | null> {
  for (const project of await meta.listProjects()) {
    const [row] = await meta.listTokens(project.id);
    if (row) return { ciphertext: row.secretCiphertext, associatedData: row.accessKeyId };
  }
  return null;
}

// Before the first token exists, a check value sealed under the key the folder was first opened
// with stands in for a stored secret: a CLI run without SKEP_MASTER_KEY between the first start
// and the first token must not pick a key of its own either.
const CHECK_FILE = 'master-key.check';
const CHECK_PLAINTEXT = 'skep master key check';
const CHECK_AD = 'master-key-check';

async function readCheck(dataDir: string): Promise<SealedSample | null> {
  try {
    return { ciphertext: (await readFile(join(dataDir, CHECK_FILE), 'utf8')).trim(), associatedData: CHECK_AD };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function writeCheck(dataDir: string, box: SecretBox): Promise<void> {
  await writeFile(join(dataDir, CHECK_FILE), box.encrypt(CHECK_PLAINTEXT, CHECK_AD) + '\n', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

function opens(box: SecretBox, sample: SealedSample): boolean {
  try {
    box.decrypt(sample.ciphertext, sample.associatedData);
    return true;
  } catch {
    return false;
  }
}

/**
 * The SecretBox for a data folder. Creates `<data>/master.key` only when the folder holds no
 * secret yet; otherwise the key must come from SKEP_MASTER_KEY or the existing file, and must
 * decrypt a stored secret. The errors say which key was used and where the right one belongs.
 */
export async function openSecretBox(dataDir: string, fromEnv: string | undefined, meta: MetadataStore): Promise<SecretBox> {
  const sample = (await sealedSample(meta)) ?? (await readCheck(dataDir));
  const keyFile = masterKeyPath(dataDir);
  if (!sample) {
    const box = new SecretBox(await loadMasterKey(dataDir, fromEnv));
    await writeCheck(dataDir, box);
    return box;
  }
  const key = await readMasterKey(dataDir, fromEnv);
  if (!key) {
    throw new Error(
      `The data folder ${dataDir} holds encrypted secrets but no master key: SKEP_MASTER_KEY is not set and ${keyFile} does not exist. ` +
        `Set SKEP_MASTER_KEY to the key this folder was created with (or restore ${keyFile}); no new key was created, since it could not decrypt them.`,
    );
  }
  const box = new SecretBox(key);
  if (!opens(box, sample)) {
    const used = fromEnv ? 'SKEP_MASTER_KEY' : keyFile;
    throw new Error(
      `The master key from ${used} does not decrypt the secrets stored in ${dataDir}. ` +
        `Use the key this folder was created with: set SKEP_MASTER_KEY to it${fromEnv ? ` (or unset it to use ${keyFile})` : ''}, or restore ${keyFile}.`,
    );
  }
  return box;
}
