// A hashing thread of HashPool: keeps one DigestSet per job, hashes the batches it is sent in
// order, and hands each batch's buffer back so the main thread can fill it again.

import { parentPort } from 'node:worker_threads';
import { DigestSet } from './checksum.js';
import type { FromWorker, ToWorker } from './hash-messages.js';

const port = parentPort;
if (!port) throw new Error('hash-worker.ts runs as a worker thread');
const jobs = new Map<number, DigestSet>();

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** A copy that owns its memory: a digest Buffer may be a slice of a shared pool. */
function own(buf: Buffer | undefined): Uint8Array | undefined {
  return buf && new Uint8Array(buf);
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      jobs.set(m.id, new DigestSet(m.plan));
      break;
    case 'data':
      jobs.get(m.id)?.update(Buffer.from(m.buf, 0, m.len));
      reply({ t: 'ack', id: m.id, buf: m.buf }, [m.buf]);
      break;
    case 'end': {
      const set = jobs.get(m.id);
      jobs.delete(m.id);
      if (!set) throw new Error(`hash-worker: no job ${m.id}`);
      const r = set.digest();
      reply({ t: 'digest', id: m.id, md5: own(r.md5)!, sha256: own(r.sha256), checksum: own(r.checksum) });
      break;
    }
    case 'drop':
      jobs.delete(m.id);
      break;
  }
});
