// Blobs held by open reads, counted per ref. Releasing a pinned blob is deferred: the blob is
// returned for deletion when its last pin goes. The counts live in this process only, which is
// enough for one node; a deferred release lost in a crash leaves an orphan for the sweep.

export class BlobPins {
  private readonly counts = new Map<string, number>();
  /** Pinned refs no committed row references any more: delete them once unpinned. */
  private readonly deferred = new Set<string>();

  pin(refs: readonly string[]): void {
    for (const ref of refs) this.counts.set(ref, (this.counts.get(ref) ?? 0) + 1);
  }

  /** Drops one pin per ref; returns the refs now free whose release was deferred. */
  unpin(refs: readonly string[]): string[] {
    const free: string[] = [];
    for (const ref of refs) {
      const count = (this.counts.get(ref) ?? 0) - 1;
      if (count > 0) {
        this.counts.set(ref, count);
        continue;
      }
      this.counts.delete(ref);
      if (this.deferred.delete(ref)) free.push(ref);
    }
    return free;
  }

  isPinned(ref: string): boolean {
    return this.counts.has(ref);
  }

  /** Asks to delete `ref`: true if it is pinned (the release waits for its last reader), false if it may go now. */
  deferRelease(ref: string): boolean {
    if (!this.counts.has(ref)) return false;
    this.deferred.add(ref);
    return true;
  }
}
