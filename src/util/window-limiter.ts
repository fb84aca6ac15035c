// Counts events per key in a sliding time window; in memory, since a limit that resets with the
// process only relaxes a guard, never loses a fact.

export class WindowLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Times of this key's events still inside the window, oldest first. */
  recent(key: string, now: number): number[] {
    const kept = (this.events.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (kept.length === 0) this.events.delete(key);
    else this.events.set(key, kept);
    return kept;
  }

  /** Whether one more event is within the limit; records it when it is. */
  allow(key: string, now: number): boolean {
    const recent = this.recent(key, now);
    if (recent.length >= this.max) return false;
    this.note(key, now);
    return true;
  }

  /** Records an event unconditionally. */
  note(key: string, now: number): void {
    const list = this.events.get(key) ?? [];
    list.push(now);
    this.events.set(key, list);
    // Bound memory under a flood of distinct keys: drop the oldest keys first.
    if (this.events.size > 10_000) this.events.delete(this.events.keys().next().value!);
  }

  /** Milliseconds until the key may act again (0 when it may now). */
  retryAfter(key: string, now: number): number {
    const recent = this.recent(key, now);
    return recent.length < this.max ? 0 : recent[0] + this.windowMs - now;
  }

  clear(key: string): void {
    this.events.delete(key);
  }
}
