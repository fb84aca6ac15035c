// Hashes large bodies on worker threads, so the MD5 an ETag needs (and SHA-256, x-amz-checksum-*)
// runs beside the main thread's network and disk work instead of on it: about 100 ms of main-thread
// CPU per 64 MiB otherwise, as much as everything else a large PUT costs.
//
// Why this shape (measured with `npm run bench`, put-large rows: main-thread CPU per 64 MiB PUT
// went from ~150-165 ms to ~70-85 ms, the rest of the hashing now on the pool's thread):
// - Node's crypto has no asynchronous incremental hash (crypto.subtle digests a whole buffer and has
//   no MD5), so the libuv thread pool is out without a native addon; threads it is.
// - A Hash object cannot move between threads, so a body is hashed either all on the main thread
//   (small ones: the 4 KiB PUT must not pay for a message) or all in one worker.
// - The main thread copies the body into 1 MiB batches and transfers each batch's ArrayBuffer to the
//   job's worker, which hands it back once hashed: one memcpy (5-20 ms per 64 MiB on a 2-core VM,
//   the sources being fresh socket buffers: about 7% of a large PUT's CPU) and 64 messages
//   instead of ~100 ms of hashing, and no allocation per batch. A SharedArrayBuffer ring would
//   save the messages but not the copy (a socket's buffers are not shared memory), and the
//   messages cost well under a millisecond per 64 MiB. At most MAX_IN_FLIGHT batches per body, and
//   maxBatchesInFlight over the whole pool, are out at a time (backpressure): a body waits, with
//   at most one batch of its own, until its thread hands batches back, so memory stays bounded
//   however large and however many the bodies (pool cap + 1 MiB per body being received).
// - A body is one job, whatever it needs hashed: a signed aws-chunked body's chunk SHA-256s (for
//   its chunk signatures) and its MD5 and checksums are computed by the same thread from one copy
//   of its bytes (ChunkedDecoder opens the job, BodyDigest takes its digests from it).
// - A small fixed pool (one thread per core beyond the main thread's; a second thread on a 2-core
//   machine measured no better), started lazily on the first large body; each job stays on one
//   thread so its batches are hashed in order. Threads keep the process alive only while a reply
//   is awaited, and close() stops them with the server.
// - A thread that dies fails its jobs at once (the request answers 500 InternalError), and the next
//   job starts a fresh thread.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DigestResults } from './checksum.js';
import type { FromWorker, JobPlan, ToWorker } from './hash-messages.js';

/** Bodies at least this large are hashed off the main thread. */
export const OFFLOAD_THRESHOLD = 1024 * 1024;
const BATCH = 1024 * 1024;
/** Batches of one job handed to its worker and not yet hashed; the body waits beyond this. */
const MAX_IN_FLIGHT = 4;
/** Batches of all jobs handed to the threads and not yet hashed (default maxBatchesInFlight). */
const POOL_IN_FLIGHT = 16;
/** Batch buffers kept for reuse across jobs. */
const SPARE_BUFFERS = 8;

function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

// Run from source (tests, through tsx), the worker needs tsx too: Node 20 does not carry the
// loader registered by `--import tsx` over to worker threads.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** hash-worker beside this module, built the same way (.ts from source, .js in dist/, .mjs in a bundle). */
const WORKER_SCRIPT = new URL(`./hash-worker${/\.[cm]?[jt]s$/.exec(import.meta.url)?.[0] ?? '.js'}`, import.meta.url);

function sourceWorker(script: URL): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(boot, { eval: true });
}

interface Thread {
  worker: Worker;
  jobs: Map<number, HashJob>;
  /** Replies awaited (acks and digests): the thread keeps the process alive only while some are. */
  awaited: number;
  /** Batches posted to it and not handed back yet. */
  batches: number;
}

/** What a job computed: the digests its plan asked for (a thread's answer may lack some). */
export type JobResults = Partial<DigestResults>;

export interface HashPoolOptions {
  /** Most threads (default: one per core beyond the main thread's, 1 to 4). */
  size?: number;
  /** The worker's module (tests use one that fails). */
  script?: URL;
  /** Most batch buffers out at the threads at a time, over all bodies (default 16: 16 MiB). */
  maxBatchesInFlight?: number;
}

export class HashPool {
  private readonly size: number;
  private readonly script: URL;
  private readonly threads: Thread[] = [];
  private readonly spare: ArrayBuffer[] = [];
  private readonly maxInFlight: number;
  /** Batches out at the threads now. */
  private inFlight = 0;
  /** Jobs holding a full batch until there is room for it, first come first served. */
  private readonly queued: HashJob[] = [];
  private nextId = 1;

  /**
   * False when the worker's module is not beside this one (skep bundled into one file): bodies are
   * then hashed on the main thread, as before there was a pool.
   */
  readonly usable: boolean;

  constructor(opts: HashPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? defaultPoolSize());
    this.script = opts.script ?? WORKER_SCRIPT;
    this.maxInFlight = Math.max(1, opts.maxBatchesInFlight ?? POOL_IN_FLIGHT);
    this.usable = existsSync(fileURLToPath(this.script));
    if (!this.usable) process.emitWarning(`${fileURLToPath(this.script)} is missing: large bodies are hashed on the main thread.`, { code: 'SKEP_NO_HASH_WORKER' });
  }

  /** Threads running now. */
  get threadCount(): number {
    return this.threads.length;
  }

  /** The running worker threads (for diagnostics and tests). */
  get workers(): readonly Worker[] {
    return this.threads.map((t) => t.worker);
  }

  /**
   * Starts hashing a new body on the least busy thread (a new one while the pool has room): the
   * digests of `plan.digest`, and with `plan.segments` the SHA-256 of each segment (write() then
   * takes SEGMENT_END markers between chunks, and onSegments receives the hashes in order).
   */
  open(plan: JobPlan): HashJob {
    let thread = this.threads.reduce<Thread | undefined>((best, t) => (!best || t.jobs.size < best.jobs.size ? t : best), undefined);
    if (!thread || (thread.jobs.size > 0 && this.threads.length < this.size)) thread = this.spawn();
    const job = new HashJob(this, thread, this.nextId++);
    thread.jobs.set(job.id, job);
    this.post(thread, { t: 'open', id: job.id, job: plan });
    return job;
  }

  /** Batch buffers out at the threads now, over all jobs. */
  get batchesInFlight(): number {
    return this.inFlight;
  }

  /** Stops every thread; jobs still running fail. The pool starts new threads if used again. */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    this.spare.length = 0;
    this.queued.length = 0;
    this.inFlight = 0;
    const err = new Error('The hashing threads were stopped (the server is shutting down).');
    for (const t of threads) for (const job of [...t.jobs.values()]) job.fail(err);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /** @internal */
  post(thread: Thread, message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (message.t === 'data' || message.t === 'end') {
      if (thread.awaited++ === 0) thread.worker.ref();
      if (message.t === 'data') thread.batches++;
    }
    thread.worker.postMessage(message, transfer);
  }

  /** @internal A job has finished or was dropped. */
  detach(thread: Thread, job: HashJob): void {
    if (thread.jobs.get(job.id) === job) thread.jobs.delete(job.id);
    const i = this.queued.indexOf(job);
    if (i >= 0) this.queued.splice(i, 1);
  }

  /**
   * @internal Room for one more batch of `job` (true), or false: the job is queued and granted()
   * once batches come back.
   */
  reserve(job: HashJob): boolean {
    if (this.inFlight < this.maxInFlight && this.queued.length === 0) {
      this.inFlight++;
      return true;
    }
    this.queued.push(job);
    return false;
  }

  /** `n` batches came back (or will not: their thread died); the room goes to queued jobs in turn. */
  private release(n: number): void {
    this.inFlight = Math.max(0, this.inFlight - n);
    while (this.inFlight < this.maxInFlight && this.queued.length > 0) {
      this.inFlight++;
      this.queued.shift()!.granted();
    }
  }

  private replied(thread: Thread): void {
    if (--thread.awaited === 0) thread.worker.unref();
  }

  /** @internal */
  takeBuffer(): ArrayBuffer {
    return this.spare.pop() ?? new ArrayBuffer(BATCH);
  }

  /** @internal */
  giveBack(buf: ArrayBuffer): void {
    if (this.spare.length < SPARE_BUFFERS && buf.byteLength === BATCH) this.spare.push(buf);
  }

  private spawn(): Thread {
    const worker = FROM_SOURCE ? sourceWorker(this.script) : new Worker(this.script);
    worker.unref();
    const thread: Thread = { worker, jobs: new Map(), awaited: 0, batches: 0 };
    this.threads.push(thread);
    worker.on('message', (m: FromWorker) => {
      this.replied(thread);
      if (m.t === 'ack') {
        this.giveBack(m.buf);
        thread.batches--;
        thread.jobs.get(m.id)?.acked(m.segments);
        this.release(1);
      } else {
        thread.jobs.get(m.id)?.digested(m);
      }
    });
    let failure: Error | undefined;
    worker.on('error', (err) => {
      failure = err;
    });
    worker.on('exit', (code) => {
      const i = this.threads.indexOf(thread);
      if (i < 0) return; // close() stopped it and failed its jobs
      this.threads.splice(i, 1);
      const err = new Error(`A hashing thread stopped (exit code ${code}${failure ? `: ${failure.message}` : ''}).`, { cause: failure });
      for (const job of [...thread.jobs.values()]) job.fail(err);
      this.release(thread.batches);
    });
    return thread;
  }
}

/** Between chunks given to HashJob.write: the current segment ends here. */
export const SEGMENT_END = Symbol('segment end');
export type JobInput = Buffer | typeof SEGMENT_END;

/**
 * One body's hashing on a pool thread. write() copies chunks into batches and calls back once
 * the body may go on (at most MAX_IN_FLIGHT batches of the job, and the pool's cap over all jobs,
 * outstanding); finish() yields the digests. Calls are serial: one write or finish at a time, as a
 * Transform makes them.
 */
export class HashJob {
  private batch: Buffer | null = null;
  private fill = 0;
  private inFlight = 0;
  private queue: JobInput[] = [];
  /** Where segments end in the batch being filled. */
  private cuts: number[] = [];
  private offset = 0;
  private waiting: ((err?: Error) => void) | null = null;
  /** finish() was called: the last batch goes out, then the end. */
  private ending = false;
  private endSent = false;
  /** Queued in the pool for room to send its full batch. */
  private awaitingRoom = false;
  private result: { resolve(r: JobResults): void; reject(err: Error): void } | null = null;
  private error: Error | undefined;
  /** The digests came back: nothing is left to abort. */
  private ended = false;
  /** Called once if the job fails while nothing waits on it (a thread died between chunks). */
  onFailure: ((err: Error) => void) | undefined;
  /** A segment job's hashes, in order, as batches are hashed. */
  onSegments: ((hashes: string[]) => void) | undefined;

  constructor(
    private readonly pool: HashPool,
    private readonly thread: Thread,
    readonly id: number,
  ) {}

  /** Hashes `chunks` next; `done` runs when the caller may write again, or with the job's failure. */
  write(chunks: JobInput | JobInput[], done: (err?: Error) => void): void {
    if (this.error) return done(this.error);
    if (Array.isArray(chunks)) this.queue.push(...chunks);
    else this.queue.push(chunks);
    this.waiting = done;
    this.pump();
  }

  /**
   * Sends what is left and resolves with what the worker computed once it has hashed everything
   * (the caller checks it is complete).
   */
  finish(): Promise<JobResults> {
    if (this.error) return Promise.reject(this.error);
    const results = new Promise<JobResults>((resolve, reject) => (this.result = { resolve, reject }));
    this.ending = true;
    this.pump();
    return results;
  }

  /** Forgets the job (the body failed or was abandoned); its batches come back to the pool. */
  abort(): void {
    if (this.error || this.ended) return;
    this.error = new Error('hash job aborted');
    if (this.batch) this.pool.giveBack(this.batch.buffer as ArrayBuffer);
    this.batch = null;
    this.queue = [];
    this.waiting = null;
    if (this.result) this.result.reject(this.error);
    this.result = null;
    this.pool.detach(this.thread, this);
    this.pool.post(this.thread, { t: 'drop', id: this.id });
  }

  /** @internal */
  acked(segments: string[] | undefined): void {
    this.inFlight--;
    if (segments?.length) this.onSegments?.(segments);
    if (this.error) return; // onSegments may have failed the body
    if (this.waiting || this.ending) this.pump();
  }

  /** @internal The pool made room for the full batch this job holds. */
  granted(): void {
    this.awaitingRoom = false;
    if (this.error) return; // detach() took it off the queue; never granted after a failure
    this.send();
    if (this.waiting || this.ending) this.pump();
  }

  /** @internal */
  digested(m: Extract<FromWorker, { t: 'digest' }>): void {
    this.ended = true;
    this.pool.detach(this.thread, this);
    const result = this.result;
    this.result = null;
    result?.resolve({ md5: buffer(m.md5), sha256: buffer(m.sha256), checksum: buffer(m.checksum) });
  }

  /** @internal */
  fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.pool.detach(this.thread, this);
    const waiting = this.waiting;
    const result = this.result;
    this.waiting = null;
    this.result = null;
    if (waiting) waiting(err);
    else if (result) result.reject(err);
    else this.onFailure?.(err);
  }

  private pump(): void {
    for (;;) {
      // A full batch, or at the end the last one, goes out before anything else is copied.
      const last = this.ending && this.queue.length === 0;
      const ready = this.batch !== null && (this.fill === this.batch.length || (last && (this.fill > 0 || this.cuts.length > 0)));
      if (ready && !this.trySend()) return; // acked() or granted() resumes
      if (this.queue.length === 0) break;
      if (!this.batch) {
        this.batch = Buffer.from(this.pool.takeBuffer());
        this.fill = 0;
      }
      const chunk = this.queue[0];
      if (chunk === SEGMENT_END) {
        this.cuts.push(this.fill);
        this.queue.shift();
        continue;
      }
      const n = chunk.copy(this.batch, this.fill, this.offset);
      this.fill += n;
      this.offset += n;
      if (this.offset === chunk.length) {
        this.queue.shift();
        this.offset = 0;
      }
    }
    if (this.ending) return this.end();
    const done = this.waiting;
    this.waiting = null;
    done?.();
  }

  /** Sends the batch if the job and the pool have room for it; false: it waits for room. */
  private trySend(): boolean {
    if (this.awaitingRoom || this.inFlight >= MAX_IN_FLIGHT) return false;
    if (!this.pool.reserve(this)) {
      this.awaitingRoom = true;
      return false;
    }
    this.send();
    return true;
  }

  private send(): void {
    const buf = this.batch!.buffer as ArrayBuffer;
    const cuts = this.cuts.length > 0 ? this.cuts : undefined;
    this.cuts = [];
    this.pool.post(this.thread, { t: 'data', id: this.id, buf, len: this.fill, cuts }, [buf]);
    this.inFlight++;
    this.batch = null;
  }

  /** Everything is sent: asks for the digests (once). */
  private end(): void {
    if (this.endSent) return;
    this.endSent = true;
    if (this.batch) this.pool.giveBack(this.batch.buffer as ArrayBuffer);
    this.batch = null;
    this.pool.post(this.thread, { t: 'end', id: this.id });
  }
}

function buffer(bytes: Uint8Array | undefined): Buffer | undefined {
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// One pool per process, shared by every server in it; each running server holds it, and the last
// to close stops its threads.
let shared: HashPool | undefined;
let holders = 0;

export function sharedHashPool(): HashPool {
  return (shared ??= new HashPool());
}

/**
 * The pool to hash a body of `size` bytes on (undefined: not known yet): `choice` (default: the
 * shared pool), unless the body is declared smaller than OFFLOAD_THRESHOLD or the pool is null or
 * unusable.
 */
export function poolFor(size: number | undefined, choice: HashPool | null | undefined): HashPool | null {
  if (size !== undefined && size < OFFLOAD_THRESHOLD) return null;
  const pool = choice === undefined ? sharedHashPool() : choice;
  return pool?.usable ? pool : null;
}

/** Marks the shared pool in use by a server; the returned release stops its threads when it was the last. */
export function holdSharedHashPool(): () => Promise<void> {
  holders++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--holders > 0 || !shared) return;
    const pool = shared;
    shared = undefined;
    await pool.close();
  };
}
