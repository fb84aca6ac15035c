#!/usr/bin/env node
// Entry point for the `skep` command: runs the compiled CLI (built by `npm ci` via "prepare").
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
