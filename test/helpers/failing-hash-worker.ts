// A hashing worker that dies on the first batch it is sent: how a crashed HashPool thread looks.

import { parentPort } from 'node:worker_threads';

parentPort!.on('message', (m: { t: string }) => {
  if (m.t === 'data') throw new Error('hashing thread crashed');
});
