#!/usr/bin/env node
// Entry point for the `skep` command: runs the compiled CLI (built by `npm ci` via "prepare").

// libuv's thread pool runs skep's file-system calls, and each fsync holds a thread for a disk
// flush: Node's default of 4 threads caps how many uploads can be flushing at once. Set before
// anything touches the pool (hence the dynamic import); an operator's own value wins.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
