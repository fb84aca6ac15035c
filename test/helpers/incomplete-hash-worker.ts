// A hashing worker that acknowledges every batch but ends each job without its digests: how a
// worker of another version, or a broken one, would answer.

import { parentPort } from 'node:worker_threads';

parentPort!.on('message', (m: { t: string; id: number; buf?: ArrayBuffer }) => {
  if (m.t === 'data') parentPort!.postMessage({ t: 'ack', id: m.id, buf: m.buf }, [m.buf!]);
  else if (m.t === 'end') parentPort!.postMessage({ t: 'digest', id: m.id });
});
