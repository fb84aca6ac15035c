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
//   job's worker, which hands it back once hashed: one memcpy (a few ms per 64 MiB) and 64 messages
//   instead of ~100 ms of hashing, and no allocation per batch. A SharedArrayBuffer ring would
//   save the messages but not the copy (a socket's buffers are not shared memory), and the
//   messages cost well under a millisecond per 64 MiB. At most MAX_IN_FLIGHT batches per body are
//   out at a time (backpressure), so memory stays bounded however large the body.
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
import type { DigestPlan, DigestResults } from './checksum.js';
import type { FromWorker, JobPlan, ToWorker } from './hash-messages.js';

/** Bodies at least this large are hashed off the main thread. */
export const OFFLOAD_THRESHOLD = 1024 * 1024;
const BATCH = 1024 * 1024;
/** Batches of one job handed to its worker and not yet hashed; the body waits beyond this. */
const MAX_IN_FLIGHT = 4;
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
}

export interface HashPoolOptions {
  /** Most threads (default: one per core beyond the main thread's, 1 to 4). */
  size?: number;
  /** The worker's module (tests use one that fails). */
  script?: URL;
}

export class HashPool {
  private readonly size: number;
  private readonly script: URL;
  private readonly threads: Thread[] = [];
  private readonly spare: ArrayBuffer[] = [];
  private nextId = 1;

  /**
   * False when the worker's module is not beside this one (skep bundled into one file): bodies are
   * then hashed on the main thread, as before there was a pool.
   */
  readonly usable: boolean;

  constructor(opts: HashPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? defaultPoolSize());
    this.script = opts.script ?? WORKER_SCRIPT;
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

  /** Starts hashing a new body on the least busy thread (a new one while the pool has room). */
  open(plan: DigestPlan): HashJob {
    return this.start({ kind: 'digest', plan });
  }

  /**
   * Starts hashing the segments of a body: write() takes SEGMENT_END markers between its
   * chunks, and onSegments receives each segment's hex SHA-256, in order.
   */
  openSegments(): HashJob {
    return this.start({ kind: 'segments' });
  }

  private start(plan: JobPlan): HashJob {
    let thread = this.threads.reduce<Thread | undefined>((best, t) => (!best || t.jobs.size < best.jobs.size ? t : best), undefined);
    if (!thread || (thread.jobs.size > 0 && this.threads.length < this.size)) thread = this.spawn();
    const job = new HashJob(this, thread, this.nextId++);
    thread.jobs.set(job.id, job);
    this.post(thread, { t: 'open', id: job.id, job: plan });
    return job;
  }

  /** Stops every thread; jobs still running fail. The pool starts new threads if used again. */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    this.spare.length = 0;
    const err = new Error('The hashing threads were stopped (the server is shutting down).');
    for (const t of threads) for (const job of [...t.jobs.values()]) job.fail(err);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /** @internal */
  post(thread: Thread, message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (message.t === 'data' || message.t === 'end') {
      if (thread.awaited++ === 0) thread.worker.ref();
    }
    thread.worker.postMessage(message, transfer);
  }

  /** @internal A job has finished or was dropped. */
  detach(thread: Thread, job: HashJob): void {
    if (thread.jobs.get(job.id) === job) thread.jobs.delete(job.id);
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
    const thread: Thread = { worker, jobs: new Map(), awaited: 0 };
    this.threads.push(thread);
    worker.on('message', (m: FromWorker) => {
      this.replied(thread);
      if (m.t === 'ack') {
        this.giveBack(m.buf);
        thread.jobs.get(m.id)?.acked(m.segments);
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
    });
    return thread;
  }
}

/** Between chunks given to HashJob.write: the current segment ends here. */
export const SEGMENT_END = Symbol('segment end');
export type JobInput = Buffer | typeof SEGMENT_END;

/**
 * One body's hashing on a pool thread. write() copies chunks into batches and calls back once
 * the body may go on (at most MAX_IN_FLIGHT batches outstanding); finish() yields the digests.
 * Calls are serial: one write or finish at a time, as a Transform makes them.
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
  private result: { resolve(r: DigestResults): void; reject(err: Error): void } | null = null;
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

  /** Sends what is left and resolves with the digests once the worker has hashed everything. */
  finish(): Promise<DigestResults> {
    if (this.error) return Promise.reject(this.error);
    if (this.batch && (this.fill > 0 || this.cuts.length > 0)) this.send();
    else if (this.batch) this.pool.giveBack(this.batch.buffer as ArrayBuffer);
    this.batch = null;
    const digests = new Promise<DigestResults>((resolve, reject) => (this.result = { resolve, reject }));
    this.pool.post(this.thread, { t: 'end', id: this.id });
    return digests;
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
    if (this.waiting) this.pump();
  }

  /** @internal */
  digested(m: Extract<FromWorker, { t: 'digest' }>): void {
    this.ended = true;
    this.pool.detach(this.thread, this);
    const result = this.result;
    this.result = null;
    // A segment job has no digests: its results are its segments.
    result?.resolve({ md5: buffer(m.md5) ?? Buffer.alloc(0), sha256: buffer(m.sha256), checksum: buffer(m.checksum) });
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
    while (this.queue.length > 0) {
      if (!this.batch) {
        if (this.inFlight >= MAX_IN_FLIGHT) return; // acked() resumes
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
      if (this.fill === this.batch.length) this.send();
    }
    const done = this.waiting;
    this.waiting = null;
    done?.();
  }

  private send(): void {
    const buf = this.batch!.buffer as ArrayBuffer;
    const cuts = this.cuts.length > 0 ? this.cuts : undefined;
    this.cuts = [];
    this.pool.post(this.thread, { t: 'data', id: this.id, buf, len: this.fill, cuts }, [buf]);
    this.inFlight++;
    this.batch = null;
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
