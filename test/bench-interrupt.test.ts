import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// `npm run bench` stopped by a signal stops the servers it started and removes their data
// folders (bench/interrupt.ts), instead of leaving them running and on disk.

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`a bench stopped by ${signal} stops its server and removes its data folder`, async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'skep-bench-interrupt-'));
    try {
      // Many rounds: the bench is still running when the signal comes.
      const bench = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), '--targets', 'ceiling', '--scenarios', 'put-small', '--rounds', '50'], {
        cwd: ROOT,
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = once(bench, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      let stderr = '';
      const serverPid = await new Promise<number>((resolve, reject) => {
        bench.stderr.on('data', (d: Buffer) => {
          stderr += d.toString('utf8');
          const m = /servers: ceiling pid (\d+)/.exec(stderr);
          if (m) resolve(Number(m[1]));
        });
        void exited.then(() => reject(new Error(`the bench ended before its server started:\n${stderr}`)));
      });
      const folders = () => readdirSync(tmp).filter((name) => name.startsWith('skep-bench-'));
      assert.equal(folders().length, 1, 'the server has its data folder');
      assert.ok(alive(serverPid));

      bench.kill(signal);
      const [code] = await exited;
      assert.equal(code, signal === 'SIGINT' ? 130 : 143, stderr);
      assert.deepEqual(folders(), [], 'the data folder is removed');
      assert.equal(alive(serverPid), false, 'the server is stopped');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}
