// A hashing thread of HashPool: keeps one hasher per job, hashes the batches it is sent in order,
// and hands each batch's buffer back so the main thread can fill it again.

import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { DigestSet, type DigestResults } from './checksum.js';
import type { FromWorker, JobPlan, ToWorker } from './hash-messages.js';

const port = parentPort;
if (!port) throw new Error('hash-worker.ts runs as a worker thread');

/** One body: its digests (if planned) and the SHA-256 of each segment (if planned), fed together. */
class Job {
  private readonly set: DigestSet | undefined;
  private segment: Hash | undefined;

  constructor(plan: JobPlan) {
    if (plan.digest) this.set = new DigestSet(plan.digest);
    if (plan.segments) this.segment = createHash('sha256');
  }

  update(buf: Buffer): void {
    this.set?.update(buf);
    this.segment?.update(buf);
  }

  /** Ends a segment: its hex SHA-256. */
  cut(): string {
    if (!this.segment) throw new Error('hash-worker: a job without segments was sent a segment end');
    const hex = this.segment.digest('hex');
    this.segment = createHash('sha256');
    return hex;
  }

  digest(): Partial<DigestResults> {
    return this.set?.digest() ?? {};
  }
}

const jobs = new Map<number, Job>();

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
      jobs.set(m.id, new Job(m.job));
      break;
    case 'data': {
      const job = jobs.get(m.id);
      const bytes = Buffer.from(m.buf, 0, m.len);
      let segments: string[] | undefined;
      if (job && m.cuts) {
        segments = [];
        let from = 0;
        for (const at of m.cuts) {
          job.update(bytes.subarray(from, at));
          segments.push(job.cut());
          from = at;
        }
        job.update(bytes.subarray(from));
      } else job?.update(bytes);
      reply({ t: 'ack', id: m.id, buf: m.buf, segments }, [m.buf]);
      break;
    }
    case 'end': {
      const job = jobs.get(m.id);
      jobs.delete(m.id);
      if (!job) throw new Error(`hash-worker: no job ${m.id}`);
      const r = job.digest();
      reply({ t: 'digest', id: m.id, md5: own(r.md5), sha256: own(r.sha256), checksum: own(r.checksum) });
      break;
    }
    case 'drop':
      jobs.delete(m.id);
      break;
  }
});
