// Blobs held by open reads in this process, counted per ref. Releasing a pinned blob is deferred:
// the blob is returned for deletion when its last pin goes. Each pinned ref remembers since when
// it has been pinned without a break, so that reads which last are also recorded in the metadata
// store, where the collectors of other nodes see them (see BlobLifecycle).

export class BlobPins {
  private readonly held = new Map<string, { count: number; since: number }>();
  /** Pinned refs no committed row references any more: delete them once unpinned. */
  private readonly deferred = new Set<string>();

  pin(refs: readonly string[], now = Date.now()): void {
    for (const ref of refs) {
      const h = this.held.get(ref);
      if (h) h.count++;
      else this.held.set(ref, { count: 1, since: now });
    }
  }

  /** Drops one pin per ref; returns the refs now free whose release was deferred. */
  unpin(refs: readonly string[]): string[] {
    const free: string[] = [];
    for (const ref of refs) {
      const h = this.held.get(ref);
      if (h && h.count > 1) {
        h.count--;
        continue;
      }
      this.held.delete(ref);
      if (this.deferred.delete(ref)) free.push(ref);
    }
    return free;
  }

  isPinned(ref: string): boolean {
    return this.held.has(ref);
  }

  /** Refs pinned without a break since `before` or earlier. */
  heldSince(before: number): string[] {
    const out: string[] = [];
    for (const [ref, h] of this.held) if (h.since <= before) out.push(ref);
    return out;
  }

  /** Asks to delete `ref`: true if it is pinned (the release waits for its last reader), false if it may go now. */
  deferRelease(ref: string): boolean {
    if (!this.held.has(ref)) return false;
    this.deferred.add(ref);
    return true;
  }
}
