import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { endpointRecordPath, readEndpointRecord } from '../config.js';
import { createLogger } from '../log.js';
import { requireDeployment } from '../storage/data-folder.js';
import { openSecretBox } from '../credentials/master-key.js';
import { masterKeyPath, readMasterKey } from '../credentials/secret-box.js';
import { migrate, type MigrationReport } from '../migration/migrate.js';
import { isPostgresUrl } from '../storage/storage-urls.js';
import { openStorage, redactUrl, storageFromEnv, type StorageSettings } from '../wiring.js';
import { DomainError } from '../util/domain-error.js';
import { dataDirSetting, envSetting } from '../util/settings.js';

// `skep migrate`: copies a stopped deployment's metadata and blobs to other storage, verifying
// every object on the way (see migration/migrate.ts). The source is the deployment as `skep serve`
// opens it (--data, SKEP_METADATA_URL, SKEP_BLOBS...); the target is given by --to-* flags.

export const MIGRATE_USAGE = `usage: skep migrate --to-data DIR [--to-metadata postgres://...] [--to-blobs s3://BUCKET[/PREFIX]|DIR]
                    [--to-blobs-endpoint URL] [--to-blobs-region R] [--data DIR] [--json]

Copies the deployment that --data (and SKEP_METADATA_URL, SKEP_BLOBS, ... as for skep serve)
names into empty target storage: every table, and every blob, whose bytes are checked against
each object's ETag and checksum and read back from the target. Stop the servers first.
Until the copy is complete and verified, skep serve refuses the target.

  --to-data DIR            the target's data folder (its SQLite database and blob folder unless
                           --to-metadata / --to-blobs say otherwise; it gets the master key)
  --to-metadata URL        PostgreSQL for the target's metadata
  --to-blobs URL           s3://bucket[/prefix] (or a folder) for the target's blobs; its keys in
                           SKEP_TO_BLOBS_ACCESS_KEY_ID / SKEP_TO_BLOBS_SECRET_ACCESS_KEY
  --to-blobs-endpoint URL  the S3 service (Ceph's gateway, MinIO, ...); unset: AWS S3
  --to-blobs-region R      its region

Both directions work: from a data folder to PostgreSQL and Ceph, and from there to a folder.
The secrets stay sealed under the source's master key: a target data folder gets a copy of it,
and nodes on a PostgreSQL target need it in SKEP_MASTER_KEY.
`;

export async function migrateCommand(argv: string[], out: (text: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', short: 'd' },
      'to-data': { type: 'string' },
      'to-metadata': { type: 'string' },
      'to-blobs': { type: 'string' },
      'to-blobs-endpoint': { type: 'string' },
      'to-blobs-region': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const toData = values['to-data'];
  if (!toData) throw new DomainError('invalid-argument', 'skep migrate needs --to-data DIR (the target data folder); see skep migrate help.', 'to-data');
  if (values['to-metadata'] !== undefined && !isPostgresUrl(values['to-metadata'])) {
    throw new DomainError('invalid-argument', '--to-metadata takes a postgres:// URL.', 'to-metadata');
  }
  const sourceDir = dataDirSetting(values.data, env);
  const targetDir = resolve(toData);
  if (sourceDir === targetDir) throw new DomainError('invalid-argument', 'The target data folder is the source one.', 'to-data');
  const sourceSettings = storageFromEnv(env);
  const targetSettings: StorageSettings = {
    metadataUrl: values['to-metadata'],
    blobs: values['to-blobs'],
    s3: {
      endpoint: values['to-blobs-endpoint'],
      region: values['to-blobs-region'],
      accessKeyId: env.SKEP_TO_BLOBS_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.SKEP_TO_BLOBS_SECRET_ACCESS_KEY || undefined,
    },
    nodeId: 'skep-migrate',
  };
  const log = createLogger('silent');

  await requireDeployment(sourceDir, sourceSettings.metadataUrl);
  await refuseRunningServer(sourceDir);
  const source = await openStorage(sourceDir, sourceSettings, log);
  try {
    // The source's master key must open its secrets: they are copied sealed under it.
    const masterKey = envSetting(env, 'SKEP_MASTER_KEY');
    await openSecretBox(sourceDir, masterKey, source.meta);
    const key = await readMasterKey(sourceDir, masterKey);
    if (!key) throw new Error(`no master key for ${sourceDir}: set SKEP_MASTER_KEY`);
    await mkdir(targetDir, { recursive: true, mode: 0o700 });
    const target = await openStorage(targetDir, targetSettings, log);
    try {
      if (!isPostgresUrl(targetSettings.metadataUrl)) await giveKey(targetDir, key);
      const report = await migrate(source, target, {
        progress: values.json ? undefined : throttled((r) => process.stderr.write(`\r${r.objects} objects, ${r.blobs} blobs, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB`)),
      });
      if (!values.json) process.stderr.write('\n');
      out(values.json ? JSON.stringify(report, null, 2) + '\n' : summary(report, targetSettings, targetDir, sourceDir));
      if (report.failures.length > 0) throw new Error(`${report.failures.length} object(s) did not verify; see above`);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Refuses while the source folder's server answers: a copy of a deployment in use is not consistent. */
async function refuseRunningServer(dataDir: string): Promise<void> {
  const served = await readEndpointRecord(dataDir);
  if (!served || !(await listening(served.url))) return;
  throw new DomainError(
    'invalid-argument',
    `A server runs on ${dataDir} (${served.url}): stop it before migrating (if that address is not skep's, remove ${endpointRecordPath(dataDir)}).`,
    'data',
  );
}

/** Whether something accepts connections at the URL's host and port (within a second). */
function listening(url: string): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  return new Promise((resolveAnswer) => {
    const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port, timeout: 1000 });
    const done = (answered: boolean) => {
      socket.destroy();
      resolveAnswer(answered);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** The target data folder gets the source's key (the secrets are sealed under it). */
async function giveKey(dataDir: string, key: Buffer): Promise<void> {
  const existing = await readMasterKey(dataDir, undefined);
  if (existing && !existing.equals(key)) throw new Error(`${masterKeyPath(dataDir)} holds another master key; migrate into a new folder`);
  if (!existing) await writeFile(join(dataDir, 'master.key'), key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
}

function summary(r: MigrationReport, target: StorageSettings, targetDir: string, sourceDir: string): string {
  const lines = [
    `Copied ${r.objects} objects (${r.blobs} blobs, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB), ${r.versions} noncurrent versions and delete markers, and ${r.parts} parts of uploads in progress; every one read back from the target.`,
    `Rows: ${Object.entries(r.rows).map(([t, n]) => `${t} ${n}`).join(', ')}.`,
    `Target: metadata ${target.metadataUrl ? redactUrl(target.metadataUrl) : join(targetDir, 'metadata.sqlite')}, blobs ${target.blobs ?? join(targetDir, 'blobs')}.`,
  ];
  if (isPostgresUrl(target.metadataUrl)) {
    lines.push(`Start the nodes with the source's master key: SKEP_MASTER_KEY=$(cat ${masterKeyPath(sourceDir)}) (or the SKEP_MASTER_KEY you used).`);
  }
  for (const f of r.failures) lines.push(`DID NOT VERIFY: ${f}`);
  return lines.join('\n') + '\n';
}

function throttled(fn: (r: MigrationReport) => void): (r: MigrationReport) => void {
  let last = 0;
  return (r) => {
    const now = Date.now();
    if (now - last < 500) return;
    last = now;
    fn(r);
  };
}
