// A hashing worker that takes batches and never hashes them: a thread that has fallen behind.

import { parentPort } from 'node:worker_threads';

parentPort!.on('message', () => {});
