import { parseArgs } from 'node:util';
import { resolve } from 'node:path';

// Server configuration from flags, then environment variables, then defaults.

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  region: string;
  /** `<bucket>.<domain>` Host names select a bucket (virtual-hosted style). */
  baseDomains: string[];
  tls?: { certFile: string; keyFile: string };
  logLevel: string;
  masterKey?: string;
  rootAccessKeyId?: string;
  rootSecretAccessKey?: string;
  /** The time source; tests move it. */
  clock: () => Date;
}

export const SERVE_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  data: { type: 'string', short: 'd' },
  region: { type: 'string' },
  domain: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export function serveConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  const { values } = parseArgs({ args: argv, options: SERVE_OPTIONS, strict: true, allowPositionals: false });
  const portText = values.port ?? env.SKEP_PORT ?? '9000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${portText}`);
  const domains = values.domain ?? (env.SKEP_DOMAINS ? env.SKEP_DOMAINS.split(',') : []);
  const certFile = values['tls-cert'] ?? env.SKEP_TLS_CERT;
  const keyFile = values['tls-key'] ?? env.SKEP_TLS_KEY;
  if (!!certFile !== !!keyFile) throw new Error('--tls-cert and --tls-key go together');
  return {
    host: values.host ?? env.SKEP_HOST ?? '127.0.0.1',
    port,
    dataDir: resolve(values.data ?? env.SKEP_DATA ?? './data'),
    region: values.region ?? env.SKEP_REGION ?? 'us-east-1',
    baseDomains: domains.map((d) => d.trim().toLowerCase()).filter(Boolean),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    logLevel: values['log-level'] ?? env.SKEP_LOG_LEVEL ?? 'info',
    masterKey: env.SKEP_MASTER_KEY,
    rootAccessKeyId: env.SKEP_ROOT_ACCESS_KEY_ID,
    rootSecretAccessKey: env.SKEP_ROOT_SECRET_ACCESS_KEY,
    clock: () => new Date(),
  };
}
