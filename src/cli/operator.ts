import { parseArgs } from 'node:util';
import { dataDirSetting, envSetting } from '../util/settings.js';
import { hostname, userInfo } from 'node:os';
import { projectEndpoint, readEndpointRecord } from '../config.js';
import { openServices, storageFromEnv, type Services } from '../wiring.js';
import { createLogger } from '../log.js';
import { requireDeployment } from '../storage/data-folder.js';
import { DomainError } from '../util/domain-error.js';
import { clientSnippets, type Snippets } from '../credentials/snippets.js';
import type { IssuedCredentials, RequestSource, TokenView } from '../credentials/token-service.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS } from '../auth/principal.js';
import { networksProblem } from '../auth/network.js';
import type { ProjectView } from '../projects/project-service.js';
import { cliActor } from '../audit/actor.js';
import { auditCsvHeader, auditCsvLine } from '../audit/audit-export.js';
import type { AuditAction, StorageQuota } from '../storage/metadata/metadata-store.js';
import type { IssuedTemporaryCredentials, TemporaryCredentialView } from '../credentials/temporary-credentials.js';
import { describeQuota } from '../quotas/quota-service.js';

// Operator commands (`skep project ...`, `skep token ...`, `skep audit`). They open the data
// folder directly, so they work whether or not the server is running (SQLite WAL allows both),
// or the PostgreSQL database SKEP_METADATA_URL names.

export interface Output {
  out(text: string): void;
}

const COMMON = {
  data: { type: 'string', short: 'd' },
  json: { type: 'boolean' },
} as const;

function dataDirOf(value: string | undefined): string {
  return dataDirSetting(value, process.env);
}

async function withServices<T>(dataDir: string, fn: (s: Services) => Promise<T>): Promise<T> {
  // The storage the servers use (SKEP_METADATA_URL: revoking a token on PostgreSQL reaches
  // every node; SKEP_BLOBS: `bucket delete --force` releases the right blobs).
  const storage = storageFromEnv(process.env);
  await requireDeployment(dataDir, storage.metadataUrl);
  const services = await openServices(dataDir, {
    masterKey: envSetting(process.env, 'SKEP_MASTER_KEY'),
    clock: () => new Date(),
    log: createLogger('silent'),
    storage,
  });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/** The OS account running the CLI (no passwd entry in some containers: then the environment or uid). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * Who acts, for the audit log: the CLI has no sign-in, so the OS user and the machine stand in
 * for the actor and the source address a request would have.
 */
export function cliIdentity(): RequestSource {
  return { actor: cliActor(osUser()), source: `local:${hostname()}` };
}

/** "90d", "90" or "12h"-free: token lifetimes are whole days. */
export function parseDays(text: string, flag: string): number {
  const m = /^(\d+)d?$/.exec(text.trim());
  if (!m) throw new DomainError('invalid-argument', `${flag} takes a number of days, like 90d (got "${text}").`, flag.replace(/^--/, ''));
  return Number(m[1]);
}

/** "15m", "1h", "900s" or "900" (seconds): a temporary credential's lifetime. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h)?$/.exec(text.trim());
  if (!m) throw new DomainError('invalid-argument', `--duration takes seconds, minutes or hours, like 900, 15m or 12h (got "${text}").`, 'duration');
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2] ?? 's'];
}

/** "10GiB", "500MB", "1.5TB" or "1048576" (bytes); "none" for no limit. */
export function parseSize(text: string, flag: string): number | null {
  if (text.trim() === 'none') return null;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)?$/i.exec(text.trim());
  if (!m) throw new DomainError('invalid-argument', `${flag} takes a size like 10GiB, 500MB or 1048576, or none (got "${text}").`, flag.replace(/^--/, ''));
  const unit = (m[2] ?? 'B').toLowerCase();
  const factor = unit === 'b' ? 1 : unit.endsWith('ib') ? 1024 ** ('kmgtp'.indexOf(unit[0]) + 1) : 1000 ** ('kmgtp'.indexOf(unit[0]) + 1);
  // Exact decimal arithmetic (1.1 * 1000 is not 1100 in floating point); a fraction of a byte is
  // a typo, not a size to round (1.5 would silently become 2).
  const [whole, fraction = ''] = m[1].split('.');
  const scaled = BigInt(whole + fraction) * BigInt(factor);
  const divisor = 10n ** BigInt(fraction.length);
  if (scaled % divisor !== 0n) throw new DomainError('invalid-argument', `${flag} takes a whole number of bytes (got "${text}").`, flag.replace(/^--/, ''));
  return Number(scaled / divisor);
}

function countFlag(text: string | undefined, flag: string): number | null | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === 'none') return null;
  if (!/^\d+$/.test(text.trim())) throw new DomainError('invalid-argument', `${flag} takes a whole number, or none (got "${text}").`, flag.replace(/^--/, ''));
  return Number(text);
}

/** The quota a command's --max-bytes / --max-objects ask for, over the current one (undefined: only show). */
function quotaFlags(values: { 'max-bytes'?: string; 'max-objects'?: string }, current: StorageQuota | null): StorageQuota | undefined {
  const bytes = values['max-bytes'] === undefined ? undefined : parseSize(values['max-bytes'], '--max-bytes');
  const objects = countFlag(values['max-objects'], '--max-objects');
  if (bytes === undefined && objects === undefined) return undefined;
  return { maxBytes: bytes === undefined ? (current?.maxBytes ?? null) : bytes, maxObjects: objects === undefined ? (current?.maxObjects ?? null) : objects };
}

function quotaLine(what: string, quota: StorageQuota | null, used: { bytes: number; objects: number }): string {
  return `${what} quota: ${describeQuota(quota)}; stored: ${used.bytes} bytes in ${used.objects} objects\n`;
}

/**
 * Stored text (token names, audit actors: some typed by strangers, like the access key ID of a
 * failed request) is shown with control characters escaped, so it cannot move the cursor,
 * recolour the terminal or forge extra lines.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function table(rows: string[][]): string {
  const cells = rows.map((r) => r.map(printable));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

function tokenLines(t: TokenView): string {
  const lines: [string, string][] = [
    ['id', t.id],
    ['name', t.name],
    ...(t.description ? [['description', t.description] as [string, string]] : []),
    ['project', t.projectId],
    ['permission', `${t.permissionLabel} (${t.permission})`],
    ['buckets', t.bucketScope ? t.bucketScope.join(', ') : 'all buckets (including new ones)'],
    ['billing', t.billing ? 'read usage' : 'no'],
    ['networks', t.allowedNetworks ? t.allowedNetworks.join(', ') : 'any address'],
    ['rate limit', t.rateLimit ? `${t.rateLimit} requests a minute` : 'none'],
    ['access key', t.accessKeyId],
    ['status', t.status],
    ['created', `${t.createdAt} by ${t.createdBy}`],
    ['expires', t.expiresAt ?? 'never'],
    ['last used', t.lastUsedAt ?? 'never'],
    ...(t.rotationPending ? [['rotation', `pending; the old secret works until ${t.rotationDeadline}`] as [string, string]] : []),
  ];
  return fieldLines(lines);
}

/** "label:  value" lines, values escaped. */
function fieldLines(lines: [string, string][]): string {
  return lines.map(([label, value]) => `${`${label}:`.padEnd(14)}${printable(value)}`).join('\n') + '\n';
}

function temporaryLines(t: TemporaryCredentialView): string {
  const lines: [string, string][] = [
    ['id', t.id],
    ['name', t.name],
    ['token', t.tokenId],
    ['permission', t.permission],
    ['buckets', t.bucketScope ? t.bucketScope.join(', ') : 'all buckets (including new ones)'],
    ['access key', t.accessKeyId],
    ['status', t.status],
    ['created', `${t.createdAt} by ${t.createdBy}`],
    ['expires', t.expiresAt],
  ];
  return fieldLines(lines);
}

function temporaryCredentialLines(r: IssuedTemporaryCredentials, endpoint: string, region: string): string {
  const s = clientSnippets({ endpoint, region, ...r.secrets });
  return [
    '',
    'Temporary credentials (shown only now; every request must carry the session token):',
    `  AWS_ACCESS_KEY_ID=${r.secrets.accessKeyId}`,
    `  AWS_SECRET_ACCESS_KEY=${r.secrets.secretAccessKey}`,
    `  AWS_SESSION_TOKEN=${r.secrets.sessionToken}`,
    `  expires:  ${r.secrets.expiration}`,
    `  S3 endpoint:  ${endpoint}`,
    snippetLines(s),
  ].join('\n');
}

/** The client snippets of a credential, one after another under their names. */
function snippetLines(s: Snippets): string {
  return ['', '--- AWS CLI ---', s.awsCli, '', '--- rclone ---', s.rclone, '', '--- boto3 ---', s.boto3, '', '--- AWS SDK for JavaScript v3 ---', s.jsSdk, ''].join('\n');
}

function credentialLines(c: IssuedCredentials, endpoint: string, region: string): string {
  const s = clientSnippets({ endpoint, region, accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
  return [
    '',
    'Credentials (shown only now; skep keeps no readable copy):',
    `  bearer token (REST API):  ${c.bearerToken}`,
    `  access key ID:            ${c.accessKeyId}`,
    `  secret access key:        ${c.secretAccessKey}`,
    `  S3 endpoint:              ${endpoint}`,
    snippetLines(s),
  ].join('\n');
}

const PROJECT_USAGE = `usage:
  skep project create NAME [--max-token-days N]
  skep project list
  skep project update PROJECT [--name N] [--max-token-days N|none]
  skep project quota PROJECT [--max-bytes SIZE|none] [--max-objects N|none]   (no limits given: show it)
common: --data DIR (./data)  --json
`;

async function projectCommand(argv: string[], io: Output): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { ...COMMON, name: { type: 'string' }, 'max-token-days': { type: 'string' }, 'max-bytes': { type: 'string' }, 'max-objects': { type: 'string' } },
    allowPositionals: true,
  });
  // Checked before the data folder is opened: a mistyped subcommand gets its usage, nothing else.
  if (!['create', 'list', 'update', 'quota'].includes(sub ?? '')) throw new DomainError('invalid-argument', PROJECT_USAGE);
  const dataDir = dataDirOf(values.data);
  const maxDays = values['max-token-days'] === undefined ? undefined : values['max-token-days'] === 'none' ? null : parseDays(values['max-token-days'], '--max-token-days');
  await withServices(dataDir, async (s) => {
    const print = (p: ProjectView | ProjectView[]) => {
      if (values.json) return io.out(JSON.stringify(p, null, 2) + '\n');
      const list = Array.isArray(p) ? p : [p];
      io.out(table([['ID', 'NAME', 'MAX TOKEN DAYS', 'CREATED'], ...list.map((x) => [x.id, x.name, String(x.maxTokenDays ?? '-'), x.createdAt])]));
    };
    switch (sub) {
      case 'create': {
        const name = values.name ?? positionals[0];
        if (!name) throw new DomainError('invalid-argument', 'usage: skep project create NAME [--max-token-days N]', 'name');
        return print(await s.projects.create(name, maxDays ?? null, cliIdentity()));
      }
      case 'list':
        return print(await s.projects.list());
      case 'update': {
        if (!positionals[0]) throw new DomainError('invalid-argument', 'usage: skep project update PROJECT [--name N] [--max-token-days N|none]', 'project');
        const p = await s.projects.resolve(positionals[0]);
        return print(await s.projects.update(p.id, { name: values.name, maxTokenDays: maxDays }, cliIdentity()));
      }
      case 'quota': {
        if (!positionals[0]) throw new DomainError('invalid-argument', 'usage: skep project quota PROJECT [--max-bytes SIZE|none] [--max-objects N|none]', 'project');
        const p = await s.projects.resolve(positionals[0]);
        const wanted = quotaFlags(values, await s.quotas.getProjectQuota(p.id));
        const quota = wanted === undefined ? await s.quotas.getProjectQuota(p.id) : await s.quotas.setProjectQuota(p.id, wanted, cliIdentity());
        const used = await s.quotas.projectUsage(p.id);
        return io.out(values.json ? JSON.stringify({ quota, used }, null, 2) + '\n' : quotaLine(`project ${printable(p.name)}`, quota, used));
      }
    }
  });
}

const TOKEN_USAGE = `usage:
  skep token create --project P --name N --permission admin-rw|admin-ro|object-rw|object-ro
                    --bucket B [--bucket B2 ...] | --all-buckets
                    [--expires 90d] [--billing] [--description D]
                    [--allow-network CIDR ...] [--rate-limit N]
                    [--endpoint URL] [--region R]
         (--bucket takes a bucket or a bucket/prefix/; --rate-limit is requests a minute)
  skep token list --project P
  skep token show|disable|enable|revoke|confirm-rotation TOKEN_ID
  skep token rotate TOKEN_ID [--grace 7d]
  skep token temporary TOKEN_ID [--duration 1h] [--name N] [--permission P] [--bucket B ...]
  skep token temporary-list TOKEN_ID
  skep token temporary-revoke TOKEN_ID CREDENTIAL_ID
  skep token usage --project P [--from YYYY-MM-DD] [--to YYYY-MM-DD]
common: --data DIR (./data)  --json
`;

async function tokenCommand(argv: string[], io: Output): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...COMMON,
      project: { type: 'string', short: 'p' },
      name: { type: 'string' },
      description: { type: 'string' },
      permission: { type: 'string' },
      bucket: { type: 'string', multiple: true },
      'all-buckets': { type: 'boolean' },
      expires: { type: 'string' },
      billing: { type: 'boolean' },
      grace: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      'allow-network': { type: 'string', multiple: true },
      'rate-limit': { type: 'string' },
      duration: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
    allowPositionals: true,
  });
  const subcommands = ['create', 'list', 'show', 'disable', 'enable', 'revoke', 'confirm-rotation', 'rotate', 'temporary', 'temporary-list', 'temporary-revoke', 'usage'];
  if (!subcommands.includes(sub ?? '')) throw new DomainError('invalid-argument', TOKEN_USAGE);
  const dataDir = dataDirOf(values.data);
  // Snippets point at the server that last ran on this folder unless told otherwise.
  const served = await readEndpointRecord(dataDir);
  const given = values.endpoint ?? envSetting(process.env, 'SKEP_ENDPOINT');
  const serverEndpoint = given ?? served?.url ?? 'http://127.0.0.1:9000';
  // With a project domain, a token's snippets use its project's own host.
  const explicit = given !== undefined;
  const endpointFor = (projectId: string) => (explicit ? undefined : projectEndpoint(serverEndpoint, served?.projectDomain, projectId)) ?? serverEndpoint;
  const region = values.region ?? envSetting(process.env, 'SKEP_REGION') ?? served?.region ?? 'us-east-1';
  const by = cliIdentity();
  const printToken = (t: TokenView) => io.out(values.json ? JSON.stringify(t, null, 2) + '\n' : tokenLines(t));
  const printIssued = (r: { token: TokenView; credentials: IssuedCredentials }) => {
    const endpoint = endpointFor(r.token.projectId);
    if (values.json) return io.out(JSON.stringify({ ...r, endpoint, snippets: clientSnippets({ endpoint, region, ...r.credentials }) }, null, 2) + '\n');
    io.out(tokenLines(r.token) + credentialLines(r.credentials, endpoint, region));
  };
  const tokenId = () => {
    if (!positionals[0]) throw new DomainError('invalid-argument', `skep token ${sub} needs a token id.\n${TOKEN_USAGE}`, 'token');
    return positionals[0];
  };

  await withServices(dataDir, async (s) => {
    switch (sub) {
      case 'create': {
        if (!values.project) throw new DomainError('invalid-argument', `--project is required.\n${TOKEN_USAGE}`, 'project');
        if (!values.name) throw new DomainError('invalid-argument', `--name is required.\n${TOKEN_USAGE}`, 'name');
        if (!values.permission) {
          throw new DomainError('invalid-argument', `--permission is required: one of ${PERMISSION_LEVELS.map((l) => `${l} (${PERMISSION_LABELS[l]})`).join(', ')}.`, 'permission');
        }
        if (values.bucket && values['all-buckets']) throw new DomainError('invalid-argument', 'Use either --bucket or --all-buckets, not both.', 'bucket');
        // No silent default: a token for every bucket (including future ones) is asked for by name.
        if (!values.bucket && !values['all-buckets']) {
          throw new DomainError('invalid-argument', 'Choose the bucket scope: --bucket B (repeatable) or --all-buckets.', 'bucket');
        }
        // The service checks the networks too; here the message names the flag they came from.
        const networksWrong = values['allow-network'] && networksProblem(values['allow-network']);
        if (networksWrong) throw new DomainError('invalid-argument', `--allow-network: ${networksWrong}`, 'allow-network');
        const project = await s.projects.resolve(values.project);
        return printIssued(
          await s.tokens.create({
            projectId: project.id,
            name: values.name,
            description: values.description,
            permission: values.permission,
            bucketScope: values.bucket ?? null,
            expiresInDays: values.expires === undefined ? undefined : parseDays(values.expires, '--expires'),
            billing: values.billing ?? false,
            allowedNetworks: values['allow-network'] ?? null,
            rateLimit: countFlag(values['rate-limit'], '--rate-limit') ?? null,
            createdBy: by.actor,
          }, by.source),
        );
      }
      case 'temporary': {
        const token = await s.tokens.show(tokenId());
        const issued = await s.temporary.issue({
          projectId: token.projectId,
          tokenId: token.id,
          name: values.name,
          durationSeconds: values.duration === undefined ? undefined : parseDuration(values.duration),
          permission: values.permission,
          bucketScope: values.bucket,
          by,
        });
        const endpoint = endpointFor(token.projectId);
        if (values.json) return io.out(JSON.stringify({ ...issued, endpoint, snippets: clientSnippets({ endpoint, region, ...issued.secrets }) }, null, 2) + '\n');
        return io.out(temporaryLines(issued.credential) + temporaryCredentialLines(issued, endpoint, region));
      }
      case 'temporary-list': {
        const token = await s.tokens.show(tokenId());
        const list = await s.temporary.list(token.id, token.projectId);
        if (values.json) return io.out(JSON.stringify(list, null, 2) + '\n');
        return io.out(
          table([
            ['ID', 'NAME', 'PERMISSION', 'BUCKETS', 'STATUS', 'EXPIRES', 'ACCESS KEY'],
            ...list.map((t) => [t.id, t.name, t.permission, t.bucketScope?.join(',') ?? '*', t.status, t.expiresAt.slice(0, 19), t.accessKeyId]),
          ]),
        );
      }
      case 'temporary-revoke': {
        const token = await s.tokens.show(tokenId());
        if (!positionals[1]) throw new DomainError('invalid-argument', `skep token temporary-revoke needs the credential id.\n${TOKEN_USAGE}`, 'credential');
        const t = await s.temporary.revoke(token.id, positionals[1], by, token.projectId);
        return io.out(values.json ? JSON.stringify(t, null, 2) + '\n' : `revoked temporary credentials ${printable(t.name)} (${t.accessKeyId}): they stop working now\n`);
      }
      case 'usage': {
        if (!values.project) throw new DomainError('invalid-argument', `--project is required.\n${TOKEN_USAGE}`, 'project');
        const project = await s.projects.resolve(values.project);
        const report = await s.usage.byToken({ projectId: project.id, from: values.from, to: values.to });
        const names = new Map((await s.tokens.list(project.id)).map((t) => [t.id, t.name]));
        const rows = report.tokens.map((t) => ({ ...t, name: t.tokenId === '' ? '(console)' : (names.get(t.tokenId) ?? '?') }));
        if (values.json) return io.out(JSON.stringify({ from: report.from, to: report.to, tokens: rows }, null, 2) + '\n');
        io.out(`usage per token, ${report.from} to ${report.to}\n`);
        return io.out(
          table([
            ['TOKEN', 'NAME', 'READ', 'WRITE', 'LIST', 'DELETE', 'OTHER', 'BYTES IN', 'BYTES OUT'],
            ...rows.map((t) => [t.tokenId || '-', t.name, ...[t.requests.read, t.requests.write, t.requests.list, t.requests.delete, t.requests.other, t.bytesIn, t.bytesOut].map(String)]),
          ]),
        );
      }
      case 'list': {
        if (!values.project) throw new DomainError('invalid-argument', `--project is required.\n${TOKEN_USAGE}`, 'project');
        const project = await s.projects.resolve(values.project);
        const list = await s.tokens.list(project.id);
        if (values.json) return io.out(JSON.stringify(list, null, 2) + '\n');
        return io.out(
          table([
            ['ID', 'NAME', 'PERMISSION', 'BUCKETS', 'STATUS', 'EXPIRES', 'LAST USED', 'ACCESS KEY'],
            ...list.map((t) => [t.id, t.name, t.permission, t.bucketScope?.join(',') ?? '*', t.status, t.expiresAt?.slice(0, 10) ?? 'never', t.lastUsedAt?.slice(0, 19) ?? '-', t.accessKeyId]),
          ]),
        );
      }
      case 'show':
        return printToken(await s.tokens.show(tokenId()));
      case 'disable':
        return printToken(await s.tokens.disable(tokenId(), by));
      case 'enable':
        return printToken(await s.tokens.enable(tokenId(), by));
      case 'revoke': {
        const t = await s.tokens.revoke(tokenId(), by);
        if (values.json) return printToken(t);
        return io.out(`revoked token ${printable(t.name)} (${t.id}): access key ${t.accessKeyId} and its bearer token stop working now, presigned URLs included\n`);
      }
      case 'confirm-rotation':
        return printToken(await s.tokens.confirmRotation(tokenId(), by));
      case 'rotate':
        return printIssued(await s.tokens.rotate(tokenId(), by, values.grace === undefined ? undefined : parseDays(values.grace, '--grace')));
    }
  });
}

const AUDIT_USAGE = `usage:
  skep audit [--project P] [--token ID] [--actor A] [--action A[,A2...]] [--bucket B]
             [--since TIME] [--until TIME] [--limit N] [--cursor C] [--format table|json|csv]
TIME is an ISO date or date-time (2026-01-31, 2026-01-31T12:00:00Z). --limit counts one page
(default 100; with --format csv or json and no --limit, every matching event is written).
The next page's --cursor is printed after a table page that has more.
common: --data DIR (./data)
`;

function timeFlag(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new DomainError('invalid-argument', `${flag} takes an ISO date or date-time (got "${text}").\n${AUDIT_USAGE}`, flag);
  return new Date(t);
}

async function auditCommand(argv: string[], io: Output): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...COMMON,
      project: { type: 'string', short: 'p' },
      token: { type: 'string' },
      actor: { type: 'string' },
      action: { type: 'string' },
      bucket: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      format: { type: 'string' },
    },
  });
  const format = values.format ?? (values.json ? 'json' : 'table');
  if (!['table', 'json', 'csv'].includes(format)) throw new DomainError('invalid-argument', `--format is table, json or csv.\n${AUDIT_USAGE}`, 'format');
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 10000)) throw new DomainError('invalid-argument', '--limit is 1 to 10000.', 'limit');
  await withServices(dataDirOf(values.data), async (s) => {
    const filter = {
      projectId: values.project ? (await s.projects.resolve(values.project)).id : undefined,
      tokenId: values.token,
      actor: values.actor,
      bucket: values.bucket,
      actions: values.action?.split(',').map((a) => a.trim()).filter(Boolean) as AuditAction[] | undefined,
      since: timeFlag(values.since, 'since'),
      until: timeFlag(values.until, 'until'),
    };
    // An export (csv or json without --limit) is every matching event, read a page at a time.
    if (format !== 'table' && limit === undefined && values.cursor === undefined) {
      let first = true;
      if (format === 'csv') io.out(auditCsvHeader());
      else io.out('[');
      for await (const r of s.audit.all(filter)) {
        io.out(format === 'csv' ? auditCsvLine(r) : `${first ? '\n' : ',\n'}${JSON.stringify(r)}`);
        first = false;
      }
      if (format === 'json') io.out(first ? ']\n' : '\n]\n');
      return;
    }
    const page = await s.audit.page(filter, limit ?? 100, values.cursor);
    if (format === 'json') return io.out(JSON.stringify(page.items, null, 2) + '\n');
    if (format === 'csv') return io.out(auditCsvHeader() + page.items.map(auditCsvLine).join(''));
    io.out(
      table([
        ['TIME', 'ACTION', 'ACTOR', 'BUCKET', 'TOKEN', 'SOURCE', 'DETAIL'],
        ...page.items.map((r) => [r.at.toISOString(), r.action, r.actor, r.bucket ?? '-', r.tokenId ?? '-', r.source ?? '-', r.detail ?? '']),
      ]),
    );
    if (page.nextCursor) io.out(`more: --cursor ${page.nextCursor}\n`);
  });
}

const BUCKET_USAGE = `usage:
  skep bucket create NAME --project P [--region R]
  skep bucket list --project P
  skep bucket delete NAME --project P [--force]   (--force deletes its objects and uploads first)
  skep bucket quota NAME --project P [--max-bytes SIZE|none] [--max-objects N|none]   (no limits given: show it)
common: --data DIR (./data)  --json
`;

async function bucketCommand(argv: string[], io: Output): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      ...COMMON,
      project: { type: 'string', short: 'p' },
      region: { type: 'string' },
      force: { type: 'boolean' },
      'max-bytes': { type: 'string' },
      'max-objects': { type: 'string' },
    },
    allowPositionals: true,
  });
  if (!['create', 'list', 'delete', 'quota'].includes(sub ?? '')) throw new DomainError('invalid-argument', BUCKET_USAGE);
  if (!values.project) throw new DomainError('invalid-argument', `--project is required.\n${BUCKET_USAGE}`, 'project');
  const name = positionals[0];
  if (sub !== 'list' && !name) throw new DomainError('invalid-argument', `skep bucket ${sub} needs a bucket name.\n${BUCKET_USAGE}`, 'name');
  const dataDir = dataDirOf(values.data);
  const region = values.region ?? envSetting(process.env, 'SKEP_REGION') ?? (await readEndpointRecord(dataDir))?.region ?? 'us-east-1';
  await withServices(dataDir, async (s) => {
    const project = await s.projects.resolve(values.project!);
    const by = cliIdentity();
    switch (sub) {
      case 'create': {
        const b = await s.buckets.create(project.id, name, region, by);
        const view = { name: b.name, region: b.region, createdAt: b.createdAt.toISOString(), project: project.id };
        return io.out(values.json ? JSON.stringify(view, null, 2) + '\n' : `created bucket ${b.name} in project ${printable(project.name)} (${project.id}), region ${b.region}\n`);
      }
      case 'list': {
        const list = [];
        for (const b of await s.meta.listBuckets(project.id)) list.push({ name: b.name, region: b.region, createdAt: b.createdAt.toISOString(), ...(await s.meta.bucketStats(b.id)) });
        if (values.json) return io.out(JSON.stringify(list, null, 2) + '\n');
        return io.out(table([['NAME', 'OBJECTS', 'BYTES', 'REGION', 'CREATED'], ...list.map((b) => [b.name, String(b.objects), String(b.bytes), b.region, b.createdAt])]));
      }
      case 'quota': {
        const resolved = await s.bucketConfig.resolve(project.id, name);
        if (!resolved) throw new DomainError('not-found', `No bucket ${name} in project ${project.name}.`, 'name');
        const wanted = quotaFlags(values, resolved.quota?.bucket ?? null);
        if (wanted !== undefined) await s.quotas.setBucketQuota(resolved.row, wanted, by);
        const after = (await s.bucketConfig.resolve(project.id, name))!;
        const quota = after.quota?.bucket ?? null;
        const used = await s.quotas.bucketUsage(after.row, after.quota !== null);
        return io.out(values.json ? JSON.stringify({ quota, used }, null, 2) + '\n' : quotaLine(`bucket ${name}`, quota, used));
      }
      default: {
        const bucket = await s.objects.requireBucket(project.id, name);
        if (!values.force) {
          await s.buckets.delete(bucket, by);
          return io.out(values.json ? JSON.stringify({ deleted: name }) + '\n' : `deleted bucket ${name}\n`);
        }
        const removed = await s.buckets.forceDelete(bucket, by);
        return io.out(
          values.json ? JSON.stringify({ deleted: name, ...removed }) + '\n' : `deleted bucket ${name} with ${removed.objects} object(s) and ${removed.uploads} unfinished upload(s)\n`,
        );
      }
    }
  });
}

const USER_USAGE = `usage:
  skep user create --email E [--password P] [--project P --role owner|member]
The password may also come from SKEP_USER_PASSWORD or standard input (keeps it out of shell history).
common: --data DIR (./data)  --json
`;

/** The password: --password, else SKEP_USER_PASSWORD, else standard input (when it is not a terminal). */
async function readPassword(flag: string | undefined, stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
  if (flag !== undefined) return flag;
  if (process.env.SKEP_USER_PASSWORD) return process.env.SKEP_USER_PASSWORD;
  if (stdin.isTTY) throw new DomainError('invalid-argument', `A password is needed.\n${USER_USAGE}`, 'password');
  let text = '';
  for await (const chunk of stdin) text += chunk.toString();
  return text.replace(/\r?\n$/, '');
}

async function userCommand(argv: string[], io: Output): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { ...COMMON, email: { type: 'string' }, password: { type: 'string' }, project: { type: 'string', short: 'p' }, role: { type: 'string' } },
  });
  if (sub !== 'create') throw new DomainError('invalid-argument', USER_USAGE);
  if (!values.email) throw new DomainError('invalid-argument', `--email is required.\n${USER_USAGE}`, 'email');
  const role = values.role;
  if (role !== undefined && role !== 'owner' && role !== 'member') throw new DomainError('invalid-argument', '--role is owner or member.', 'role');
  if (role !== undefined && !values.project) throw new DomainError('invalid-argument', '--role goes with --project.', 'project');
  // Owner is the most power a user can have in a project: never given without being asked for.
  if (role === undefined && values.project) throw new DomainError('invalid-argument', '--project goes with --role owner|member.', 'role');
  const password = await readPassword(values.password, process.stdin);
  await withServices(dataDirOf(values.data), async (s) => {
    const project = values.project ? await s.projects.resolve(values.project) : undefined;
    const user = await s.users.createUser({ email: values.email!, password, createdBy: cliIdentity().actor, source: cliIdentity().source });
    if (project && role) await s.users.addMember(project.id, user.id, role);
    const membership = project && role ? { projectId: project.id, projectName: project.name, role } : null;
    if (values.json) return io.out(JSON.stringify({ user, membership }, null, 2) + '\n');
    io.out(
      `created user ${user.email} (${user.id})\n` +
        (membership ? `  ${membership.role} of project ${membership.projectName} (${membership.projectId})\n` : '  not a member of any project yet\n'),
    );
  });
}

/** Each operator command's usage, printed for `-h`, `--help` or `help`. */
export const OPERATOR_USAGE: Record<string, string> = {
  project: PROJECT_USAGE,
  token: TOKEN_USAGE,
  audit: AUDIT_USAGE,
  user: USER_USAGE,
  bucket: BUCKET_USAGE,
};

export const OPERATOR_COMMANDS: Record<string, (argv: string[], io: Output) => Promise<void>> = {
  project: projectCommand,
  token: tokenCommand,
  audit: auditCommand,
  user: userCommand,
  bucket: bucketCommand,
};
