import { pathToFileURL } from 'node:url';
import { serveConfig } from '../config.js';
import { startServer } from '../server.js';
import { OPERATOR_COMMANDS, OPERATOR_USAGE } from './operator.js';
import { MIGRATE_USAGE, migrateCommand } from './migrate.js';
import { DomainError } from '../util/domain-error.js';
import { S3Error } from '../s3/errors.js';

// The `skep` command. Subcommands parse their flags and call into the services.

const SERVE_OPTIONS_TEXT = `            --host ADDR (127.0.0.1)  --port N (9000)  --data DIR (./data)  --region R (us-east-1)
            --domain D (repeatable; <bucket>.D selects a bucket)  --tls-cert FILE --tls-key FILE
            --log-level LEVEL (info)  --trusted-proxy ADDR|CIDR (repeatable)  --audit-retention-days N (365)
            scale-out: --metadata postgres://...  --blobs s3://BUCKET[/PREFIX] (--blobs-endpoint URL,
            --blobs-region R; keys in SKEP_BLOBS_ACCESS_KEY_ID / SKEP_BLOBS_SECRET_ACCESS_KEY)
            --node-id ID  --drain-timeout SECONDS (30)
`;

const USAGE = `usage: skep <command> [options]

commands:
  serve     start the S3 endpoint
${SERVE_OPTIONS_TEXT}  migrate   copy a deployment's metadata and blobs to other storage, verifying every object
            (skep migrate help)
  project   create NAME [--max-token-days N] | list | update PROJECT [--name N] [--max-token-days N|none]
            | quota PROJECT [--max-bytes SIZE|none] [--max-objects N|none]
  bucket    create NAME --project P | list --project P | delete NAME --project P [--force]
            | quota NAME --project P [--max-bytes SIZE|none] [--max-objects N|none]
  token     create | list | show | disable | enable | revoke | rotate | confirm-rotation
            | temporary | temporary-list | temporary-revoke | usage  (skep token help)
  audit     [--project P] [--token ID] [--actor A] [--action A,..] [--bucket B] [--since T] [--until T]
            [--limit N] [--cursor C] [--format table|json|csv]
  user      create --email E [--password P] [--project P --role owner|member]
            (the password may come from SKEP_USER_PASSWORD or standard input instead)

operator commands take --data DIR (./data, or SKEP_DATA) and --json, and work while the server runs.
`;

const SERVE_USAGE = `usage: skep serve [options]   (a new --data folder becomes a new deployment)
${SERVE_OPTIONS_TEXT}`;

/** A command's usage, for `skep COMMAND help` or -h / --help among its flags (before any "--"). */
function helpFor(command: string, args: string[]): string | undefined {
  const usage = command === 'serve' ? SERVE_USAGE : command === 'migrate' ? MIGRATE_USAGE : Object.hasOwn(OPERATOR_USAGE, command) ? OPERATOR_USAGE[command] : undefined;
  const end = args.indexOf('--');
  const flags = end === -1 ? args : args.slice(0, end);
  return usage !== undefined && (args[0] === 'help' || flags.includes('-h') || flags.includes('--help')) ? usage : undefined;
}

async function serve(argv: string[]): Promise<void> {
  const config = serveConfig(argv, process.env);
  const server = await startServer(config);
  // Drains (stops accepting requests, lets those in flight finish for up to --drain-timeout),
  // flushes buffered counters and closes the stores, then exits 0. Installed before anything is
  // printed: whoever reads the output may signal at once.
  const stop = (signal: NodeJS.Signals) => {
    server.drain(config.drainTimeoutMs ?? 30_000).then(
      () => {
        process.stdout.write(`skep stopped (${signal})\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`skep did not stop cleanly: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  // A hang-up (the terminal or SSH session that started it closed) stops it the same way. A second
  // signal during the drain is left to its default: it ends the process at once, as an operator
  // pressing Ctrl-C twice means (what the drain would have finished is cleared at the next start).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop);
  // A reader of the output that went away (`skep serve | head -1`) must not end the server.
  process.stdout.on('error', () => undefined);
  const issued = server.bootstrap.issued;
  // The banner goes out in one write: whoever waits for the "listening" line (a supervisor, a
  // test) then has the rest of it too.
  const banner: string[] = [];
  banner.push(`skep listening on ${server.url} (data: ${config.dataDir}, region: ${config.region})\n`);
  const { backends, nodeId, shared } = server.services;
  if (shared || backends.blobs !== 'folder') banner.push(`node ${nodeId}: metadata on ${backends.metadata}, blobs on ${backends.blobs}\n`);
  if (issued && server.bootstrap.givenByEnvironment) {
    banner.push(`\nCreated the default project; its bootstrap credential uses SKEP_ROOT_ACCESS_KEY_ID=${issued.accessKeyId}.\n\n`);
  } else if (issued) {
    // Printed on the very first start only; the secret is not stored in clear anywhere.
    banner.push(
      `\nCreated the default project and its bootstrap credential. The secret is shown only now:\n` +
        `  AWS_ACCESS_KEY_ID=${issued.accessKeyId}\n` +
        `  AWS_SECRET_ACCESS_KEY=${issued.secretAccessKey}\n` +
        `  bearer token (REST API): ${issued.bearerToken}\n` +
        `  endpoint: ${server.url}\n\n`,
    );
  }
  const admin = server.bootstrap.admin;
  if (admin) {
    // Printed on the start that created the first console user only; just its hash is stored.
    banner.push(
      `Created the first console user, owner of the default project. Its password is shown only now:\n` +
        `  email:    ${admin.email}\n` +
        `  password: ${admin.password}\n` +
        `  sign in:  ${server.url}/console  (add users with: skep user create --email E)\n\n`,
    );
  }
  process.stdout.write(banner.join(''));
}

/** Flag and validation errors are the user's to fix: say what, without a stack. */
function rethrowPlain(err: unknown): never {
  if (err instanceof DomainError || err instanceof S3Error || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    throw new Error((err as Error).message);
  }
  throw err;
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const help = command === undefined ? undefined : helpFor(command, rest);
  if (help !== undefined) {
    process.stdout.write(help);
    return;
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'migrate':
      return migrateCommand(rest, (text) => process.stdout.write(text)).catch(rethrowPlain);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default: {
      const operator = OPERATOR_COMMANDS[command];
      if (!operator) {
        process.stderr.write(USAGE);
        throw new Error(`unknown command: ${command}`);
      }
      await operator(rest, { out: (text) => process.stdout.write(text) }).catch(rethrowPlain);
    }
  }
}

// Started directly (`npx tsx src/cli/main.ts token list ...`) rather than imported by bin/skep.js:
// run, instead of silently doing nothing.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
