// The `skep` command run from the TypeScript sources (through tsx), as bin/skep.js runs the
// compiled CLI: the tests drive the CLI without needing `npm run build` first.
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
