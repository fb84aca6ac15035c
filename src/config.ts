import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { storageFromEnv, type StorageSettings } from './wiring.js';
import { parseS3BlobUrl } from './storage/storage-urls.js';
import { dataDirSetting, envSetting, integerSetting, refuseEmptyFlags, secondsSetting } from './util/settings.js';
import { AddressSet } from './net/client-address.js';
import { LOG_LEVELS } from './log.js';

// Server configuration from flags, then environment variables, then defaults.

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  region: string;
  /** `<bucket>.<domain>` Host names select a bucket (virtual-hosted style). */
  baseDomains: string[];
  /** `<project-id>.<domain>` Host names select a project (and `<bucket>.<project-id>.<domain>` a bucket in it). */
  projectDomain?: string;
  /** Accept SigV2 (header and query); default true. */
  sigv2?: boolean;
  tls?: { certFile: string; keyFile: string };
  logLevel: string;
  masterKey?: string;
  rootAccessKeyId?: string;
  rootSecretAccessKey?: string;
  /** The time source; tests move it. */
  clock: () => Date;
  /** How often buffered last-used times are written (default 10 s); tests that count writes lengthen it. */
  useFlushIntervalMs?: number;
  /** Where metadata and blobs live (unset: SQLite and a folder in the data folder), and this node's id. */
  storage?: StorageSettings;
  /** How long a stopping server (SIGTERM) waits for requests in flight (default 30 s). */
  drainTimeoutMs?: number;
  /** How often the blob collector runs (default 60 s). */
  collectIntervalMs?: number;
  /** Lifecycle worker: how often a pass starts (default 1 h). */
  lifecycleIntervalMs?: number;
  /** How long a connection may stay silent (no bytes either way) before it is closed; 120 s unless a test shortens it. */
  idleTimeoutMs?: number;
  /** Lifecycle worker: the length of a lifecycle "day" (default 24 h; shorter only to test rules). */
  lifecycleDayMs?: number;
  /** Lifecycle worker: versions or uploads handled per batch (default 500). */
  lifecycleBatch?: number;
  /** Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client. */
  trustedProxies?: string[];
  /** Audit events older than this many days are deleted (default 365); 0 keeps them for ever. */
  auditRetentionDays?: number;
}

export const SERVE_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  data: { type: 'string', short: 'd' },
  region: { type: 'string' },
  domain: { type: 'string', multiple: true },
  'project-domain': { type: 'string' },
  'no-sigv2': { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'log-level': { type: 'string' },
  metadata: { type: 'string' },
  blobs: { type: 'string' },
  'blobs-endpoint': { type: 'string' },
  'blobs-region': { type: 'string' },
  'node-id': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'lifecycle-interval': { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  'audit-retention-days': { type: 'string' },
} as const;


/** Audit events are kept at most this many days (a century): further back, the cut-off date is out of range. */
const MAX_AUDIT_RETENTION_DAYS = 36_500;

export function serveConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  const { values } = parseArgs({ args: argv, options: SERVE_OPTIONS, strict: true, allowPositionals: false });
  refuseEmptyFlags(values);
  const fromEnv = (name: string) => envSetting(env, name);
  const portText = values.port ?? fromEnv('SKEP_PORT') ?? '9000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${portText}`);
  const domains = values.domain ?? fromEnv('SKEP_DOMAINS')?.split(',') ?? [];
  const certFile = values['tls-cert'] ?? fromEnv('SKEP_TLS_CERT');
  const keyFile = values['tls-key'] ?? fromEnv('SKEP_TLS_KEY');
  if (!!certFile !== !!keyFile) {
    const missing = certFile ? '--tls-key (or SKEP_TLS_KEY)' : '--tls-cert (or SKEP_TLS_CERT)';
    throw new Error(`HTTPS needs both --tls-cert and --tls-key (PEM files); ${missing} is missing.`);
  }
  const storage = storageFromEnv(env);
  if (values.metadata !== undefined) storage.metadataUrl = values.metadata;
  if (values.blobs !== undefined) storage.blobs = values.blobs;
  if (values['blobs-endpoint'] !== undefined) storage.s3 = { ...storage.s3, endpoint: values['blobs-endpoint'] };
  if (values['blobs-region'] !== undefined) storage.s3 = { ...storage.s3, region: values['blobs-region'] };
  if (values['node-id'] !== undefined) storage.nodeId = values['node-id'];
  // Refuses a --blobs URL that is not s3:// now, before the data folder is created.
  parseS3BlobUrl(storage.blobs);
  const sigv2Env = fromEnv('SKEP_SIGV2')?.toLowerCase();
  if (sigv2Env !== undefined && !['on', 'off', 'true', 'false', '1', '0'].includes(sigv2Env)) throw new Error(`SKEP_SIGV2 must be on or off, not ${env.SKEP_SIGV2}`);
  const projectDomain = (values['project-domain'] ?? fromEnv('SKEP_PROJECT_DOMAIN'))?.trim().toLowerCase().replace(/^\.+|\.+$/g, '');
  const proxies = values['trusted-proxy'] ?? fromEnv('SKEP_TRUSTED_PROXIES')?.split(',') ?? [];
  const trustedProxies = proxies.map((p) => p.trim()).filter(Boolean);
  // Checked now, so a typo stops start-up with a message instead of trusting nothing silently.
  new AddressSet(trustedProxies);
  const logLevel = values['log-level'] ?? fromEnv('SKEP_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`--log-level (SKEP_LOG_LEVEL) takes one of ${LOG_LEVELS.join(', ')}, not ${logLevel}`);
  return {
    projectDomain: projectDomain || undefined,
    sigv2: values['no-sigv2'] ? false : !['off', 'false', '0'].includes(sigv2Env ?? ''),
    host: values.host ?? fromEnv('SKEP_HOST') ?? '127.0.0.1',
    port,
    dataDir: dataDirSetting(values.data, env),
    region: values.region ?? fromEnv('SKEP_REGION') ?? 'us-east-1',
    baseDomains: domains.map((d) => d.trim().toLowerCase()).filter(Boolean),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    logLevel,
    masterKey: fromEnv('SKEP_MASTER_KEY'),
    rootAccessKeyId: fromEnv('SKEP_ROOT_ACCESS_KEY_ID'),
    rootSecretAccessKey: fromEnv('SKEP_ROOT_SECRET_ACCESS_KEY'),
    clock: () => new Date(),
    storage,
    drainTimeoutMs: secondsSetting(values['drain-timeout'] ?? fromEnv('SKEP_DRAIN_TIMEOUT') ?? '30', '--drain-timeout (SKEP_DRAIN_TIMEOUT)', 0),
    collectIntervalMs: secondsSetting(fromEnv('SKEP_BLOB_COLLECT_INTERVAL'), 'SKEP_BLOB_COLLECT_INTERVAL'),
    lifecycleIntervalMs: secondsSetting(values['lifecycle-interval'] ?? fromEnv('SKEP_LIFECYCLE_INTERVAL'), '--lifecycle-interval (SKEP_LIFECYCLE_INTERVAL)'),
    lifecycleDayMs: secondsSetting(fromEnv('SKEP_LIFECYCLE_DAY_SECONDS'), 'SKEP_LIFECYCLE_DAY_SECONDS'),
    lifecycleBatch: integerSetting(fromEnv('SKEP_LIFECYCLE_BATCH'), 'SKEP_LIFECYCLE_BATCH', 1),
    trustedProxies,
    auditRetentionDays: integerSetting(
      values['audit-retention-days'] ?? fromEnv('SKEP_AUDIT_RETENTION_DAYS'),
      '--audit-retention-days (SKEP_AUDIT_RETENTION_DAYS; 0 keeps events for ever)',
      0,
      MAX_AUDIT_RETENTION_DAYS,
    ),
  };
}

// ---- the endpoint record ----
// `skep serve` writes the URL and region it serves into the data folder, so the operator CLI
// (which opens the folder, not the server) prints client snippets that point at the real server.

export interface EndpointRecord {
  url: string;
  region: string;
  /** The --project-domain the server runs with, if any. */
  projectDomain?: string;
}

/** A project's own endpoint: the server's URL with its host replaced by `<project-id>.<project domain>`. */
export function projectEndpoint(serverUrl: string, projectDomain: string | undefined, projectId: string): string | undefined {
  if (!projectDomain) return undefined;
  const u = new URL(serverUrl);
  u.hostname = `${projectId}.${projectDomain}`;
  return u.origin;
}

export function endpointRecordPath(dataDir: string): string {
  return join(dataDir, 'endpoint.json');
}

/** A host as it goes in a URL: IPv6 literals in brackets. */
function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** The URL the server listens on, as a client on this machine reaches it. */
export function listenUrl(tls: boolean, host: string, port: number): string {
  return `${tls ? 'https' : 'http'}://${urlHost(host)}:${port}`;
}

/**
 * The URL to give clients: the listening address, or this machine's name when listening on every
 * interface (0.0.0.0 or ::), which no client can connect to.
 */
export function advertisedUrl(tls: boolean, host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  return listenUrl(tls, wildcard ? hostname() : host, port);
}

/** Written whole under a temporary name, then renamed: a CLI reading it never sees half a file. */
export async function writeEndpointRecord(dataDir: string, record: EndpointRecord): Promise<void> {
  const path = endpointRecordPath(dataDir);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(record) + '\n');
  await rename(temp, path);
}

/** The record of the last `skep serve` on this folder, or null (never served, or unreadable). */
export async function readEndpointRecord(dataDir: string): Promise<EndpointRecord | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(endpointRecordPath(dataDir), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { url, region, projectDomain } = parsed as Record<string, unknown>;
    if (typeof url !== 'string' || typeof region !== 'string') return null;
    return typeof projectDomain === 'string' ? { url, region, projectDomain } : { url, region };
  } catch {
    return null;
  }
}
