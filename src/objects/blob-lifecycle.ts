import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob/blob-store.js';
import type { BlobLedgerEntry, BlobPart, MetadataStore, ObjectRow } from '../storage/metadata/metadata-store.js';
import { BlobPins } from './blob-pins.js';

// The life of a blob, from before its first byte to its deletion, kept in the metadata store's
// blob ledger so that a crash anywhere leaves nothing behind and collection never lists the
// blob store (which, on an S3 backend, would mean listing millions of objects):
//
//   write:    record 'pending' -> stream the bytes (the record renewed while they stream)
//             -> the commit that refers to the blob removes the record (in its transaction)
//   release:  the commit that replaces or deletes a row records its blobs 'released' (same
//             transaction) -> they are deleted: at once by the releasing request on a single
//             node, or by the collector of any node after a grace when several nodes share the
//             store -> the record goes
//   collect:  a 'pending' record no longer renewed is a write cut short by a crash; a 'released'
//             record still there is a deletion that did not happen. The collector claims such a
//             record ('collecting'), deletes the blob, and leaves a 'collected' tombstone for a
//             while, which makes a late commit of that blob fail instead of pointing at nothing.
//
// Reads pin the blobs they stream (in this process); a released blob that is pinned is deleted
// when its last reader lets go. When several nodes share the store, a read that lasts also
// records its pins in the store, renewed while it reads, and no collector deletes a pinned blob:
// the grace between a release and its collection gives every read that started before the
// release the time to record its pins.

export interface BlobLifecycleOptions {
  /**
   * Keep the blob ledger (default: on). Off, for the embedded default, writes and releases touch
   * only the blob store; crash leftovers there are temp files (removed when the store opens) and
   * unreferenced blobs, which ObjectService.sweepOrphans finds by listing the local folder.
   */
  ledger?: boolean;
  /** A pending write not renewed for this long was cut short by a crash (default 15 min). */
  pendingTtlMs?: number;
  /**
   * Set when several nodes share the metadata store: released blobs are left to the collector,
   * which deletes them once released this long and pinned by no node (default: single node, the
   * releasing request deletes them at once).
   */
  sharedGraceMs?: number;
}

export const DEFAULT_PENDING_TTL_MS = 15 * 60_000;
export const DEFAULT_SHARED_GRACE_MS = 5 * 60_000;
/** One node: a released blob its request did not delete (a crash, a failed delete) is collected after this long. */
const LOCAL_LEFTOVER_MS = 60_000;
/** A collection that did not finish (the collector crashed, or the delete failed) is tried again after this long. */
const COLLECT_RETRY_MS = 5 * 60_000;
const SWEEP_BATCH = 500;
/** Blob deletions in flight at once for one release. */
const DELETE_CONCURRENCY = 8;

export class BlobLifecycle {
  private readonly pins = new BlobPins();
  /** Row lookups of leases in flight: each settles once its row's blobs are pinned. */
  private readonly lookups = new Set<Promise<void>>();
  /** Refs being written by this process: their pending records are renewed. */
  private readonly writing = new Set<string>();
  /** Pending records waiting to be written together (see recordPending). */
  private pendingBatch: Array<{ ref: string; done: (err?: unknown) => void }> = [];
  private renewTimer: NodeJS.Timeout | undefined;
  private pinTimer: NodeJS.Timeout | undefined;
  /** Refs whose pins this node has recorded in the store. */
  private published = new Set<string>();
  readonly pendingTtlMs: number;
  readonly sharedGraceMs: number | null;
  readonly ledger: boolean;

  constructor(
    private readonly meta: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly log: Logger,
    opts: BlobLifecycleOptions = {},
  ) {
    this.ledger = opts.ledger ?? true;
    this.pendingTtlMs = opts.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS;
    this.sharedGraceMs = opts.sharedGraceMs ?? null;
    if (this.sharedGraceMs !== null) {
      this.pinTimer = setInterval(() => void this.publishPins(), this.sharedGraceMs / 4);
      this.pinTimer.unref();
    }
  }

  // ---- writes ----

  /** Streams `body` into a new blob, recorded as pending until a commit refers to it. */
  async write(body: Readable): Promise<BlobPart> {
    if (!this.ledger) {
      const written = await this.blobs.put(body);
      return { ref: written.ref, size: written.size };
    }
    const ref = this.blobs.newRef();
    await this.recordPending(ref);
    this.startWriting(ref);
    try {
      const written = await this.blobs.put(body, ref);
      return { ref: written.ref, size: written.size };
    } finally {
      // On failure the record stays, no longer renewed, and the collector deletes the blob once it
      // is due: a backend request abandoned on a timeout may still complete after the store gave up
      // (a late PutObject), so "the store removed what it wrote" cannot be relied on.
      this.stopWriting(ref);
    }
  }

  /**
   * Records a blob as pending. The writes that start in one turn of the event loop share one
   * statement (and one commit): under load, many uploads begin together.
   */
  private recordPending(ref: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pendingBatch.length === 0) setImmediate(() => void this.flushPending());
      this.pendingBatch.push({ ref, done: (err) => (err === undefined ? resolve() : reject(err)) });
    });
  }

  private async flushPending(): Promise<void> {
    const batch = this.pendingBatch;
    this.pendingBatch = [];
    let failure: unknown;
    try {
      await this.meta.recordPendingBlobs(batch.map((b) => b.ref), new Date());
    } catch (err) {
      failure = err ?? new Error('recording pending blobs failed');
    }
    for (const b of batch) b.done(failure);
  }

  private startWriting(ref: string): void {
    this.writing.add(ref);
    // One timer for the life of the service (made on the first write), idle while nothing is written.
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      if (this.writing.size === 0) return;
      this.meta.renewPendingBlobs([...this.writing], new Date()).catch((err: unknown) => this.log.warn({ err }, 'renewing pending blob records failed'));
    }, this.pendingTtlMs / 4);
    this.renewTimer.unref();
  }

  private stopWriting(ref: string): void {
    this.writing.delete(ref);
  }

  // ---- reads ----

  pin(refs: readonly string[]): void {
    this.pins.pin(refs);
  }

  unpin(refs: readonly string[]): void {
    const free = this.pins.unpin(refs);
    if (free.length > 0) void this.deleteNow(free);
  }

  isPinned(ref: string): boolean {
    return this.pins.isPinned(ref);
  }

  /**
   * Reads a row and pins its blobs in one step that release() knows about: a release waits for
   * the lookups in flight when it starts, so a row read just before its replacement committed
   * is pinned before its blobs can be deleted.
   */
  lookupPinned<T extends ObjectRow>(load: () => Promise<T | null>): Promise<T | null> {
    const pinned = load().then((row) => {
      if (row) this.pins.pin(row.blobs.map((b) => b.ref));
      return row;
    });
    const settled = pinned.then(noop, noop);
    this.lookups.add(settled);
    void settled.then(() => this.lookups.delete(settled));
    return pinned;
  }

  /** Records this node's long reads in the store, and drops the records of reads that ended. */
  private async publishPins(): Promise<void> {
    const grace = this.sharedGraceMs as number;
    const now = Date.now();
    const held = this.pins.heldSince(now - grace / 4);
    const ended = [...this.published].filter((ref) => !this.pins.isPinned(ref));
    try {
      if (held.length > 0) await this.meta.holdPins(held, new Date(now + grace));
      if (ended.length > 0) await this.meta.dropPins(ended);
      this.published = new Set(held);
    } catch (err) {
      this.log.warn({ err }, 'recording read pins failed');
    }
  }

  // ---- release ----

  /**
   * The blobs no committed row references any more (the ledger has them as released). On one
   * node they are deleted now, or when the last read pinning them closes; a failure leaves them
   * to the collector. With several nodes the collector deletes them after the grace.
   */
  async release(blobs: readonly BlobPart[]): Promise<void> {
    if (blobs.length === 0) return; // most puts replace nothing: no need to wait for lookups
    if (this.sharedGraceMs !== null) return;
    // Leases that looked up the old row before it was replaced pin its blobs when the lookup returns.
    if (this.lookups.size > 0) await Promise.all([...this.lookups]);
    const now: string[] = [];
    for (const blob of blobs) if (!this.pins.deferRelease(blob.ref)) now.push(blob.ref);
    await this.deleteNow(now);
  }

  private async deleteNow(refs: string[]): Promise<void> {
    if (refs.length === 0) return;
    const gone: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < refs.length) {
        const ref = refs[next++];
        try {
          await this.blobs.delete(ref);
          gone.push(ref);
        } catch (err) {
          this.log.warn({ err, ref }, 'blob release failed; the collector will delete it');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, refs.length) }, worker));
    if (gone.length > 0 && this.ledger) await this.meta.forgetBlobs(gone).catch((err: unknown) => this.log.warn({ err }, 'forgetting released blobs failed'));
  }

  // ---- collection ----

  /** One pass of the collector (see the top of this file); returns how many blobs it deleted. */
  async sweep(): Promise<number> {
    if (!this.ledger) return 0;
    const now = Date.now();
    const before = (ms: number) => new Date(now - ms);
    let collected = 0;
    collected += await this.collect(await this.meta.dueBlobs('pending', before(this.pendingTtlMs), SWEEP_BATCH), true);
    collected += await this.collect(await this.meta.dueBlobs('released', before(this.sharedGraceMs ?? LOCAL_LEFTOVER_MS), SWEEP_BATCH), false);
    collected += await this.collect(await this.meta.dueBlobs('collecting', before(COLLECT_RETRY_MS), SWEEP_BATCH), true);
    // Tombstones outlive any write that could still try to commit their blob.
    const tombstones = await this.meta.dueBlobs('collected', before(this.pendingTtlMs), SWEEP_BATCH);
    if (tombstones.length > 0) await this.meta.forgetBlobs(tombstones.map((t) => t.ref));
    return collected;
  }

  private async collect(entries: BlobLedgerEntry[], partial: boolean): Promise<number> {
    let candidates = entries.filter((e) => !this.pins.isPinned(e.ref));
    if (candidates.length > 0 && this.sharedGraceMs !== null) {
      const pinned = await this.meta.pinnedBlobs(candidates.map((e) => e.ref), new Date());
      candidates = candidates.filter((e) => !pinned.has(e.ref));
    }
    let n = 0;
    for (const e of candidates) {
      const at = new Date();
      // Claimed by one collector only; a crash from here on leaves it to be tried again.
      if (!(await this.meta.moveBlob(e, 'collecting', at))) continue;
      try {
        await this.blobs.delete(e.ref, { partial });
      } catch (err) {
        this.log.warn({ err, ref: e.ref }, 'collecting a blob failed; will retry');
        continue;
      }
      await this.meta.moveBlob({ ...e, state: 'collecting', at }, 'collected', new Date());
      n++;
    }
    return n;
  }

  close(): void {
    clearInterval(this.renewTimer);
    clearInterval(this.pinTimer);
    this.renewTimer = undefined;
    this.pinTimer = undefined;
  }
}

function noop(): void {}
