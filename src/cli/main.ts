import { serveConfig } from '../config.js';
import { startServer } from '../server.js';

// The `skep` command. Subcommands parse their flags and call into the services.

const USAGE = `usage: skep <command> [options]

commands:
  serve     start the S3 endpoint
            --host ADDR (127.0.0.1)  --port N (9000)  --data DIR (./data)  --region R (us-east-1)
            --domain D (repeatable; <bucket>.D selects a bucket)  --tls-cert FILE --tls-key FILE
            --log-level LEVEL (info)
`;

async function serve(argv: string[]): Promise<void> {
  const config = serveConfig(argv, process.env);
  const server = await startServer(config);
  const issued = server.bootstrap.issued;
  const out = process.stdout;
  out.write(`skep listening on ${server.url} (data: ${config.dataDir}, region: ${config.region})\n`);
  if (issued) {
    // Printed on the very first start only; the secret is not stored in clear anywhere.
    out.write(
      `\nCreated the default project and its bootstrap credential. The secret is shown only now:\n` +
        `  AWS_ACCESS_KEY_ID=${issued.accessKeyId}\n` +
        `  AWS_SECRET_ACCESS_KEY=${issued.secretAccessKey}\n` +
        `  endpoint: ${server.url}\n\n`,
    );
  }
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(USAGE);
      throw new Error(`unknown command: ${command}`);
  }
}
