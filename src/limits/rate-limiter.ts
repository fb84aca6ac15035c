// Sliding-window rate limits (failed sign-ins, audited authentication failures). The limiter's
// arithmetic is here; the events it counts live behind LimiterState, so that several nodes can
// share one state (a PostgreSQL table, say) by handing a different implementation to the wiring.

/** Where a limiter's events are kept. Keys are already namespaced by the limiter. */
export interface LimiterState {
  /** Times (ms) of the key's events at or after `since`, oldest first; older ones may be dropped. */
  recent(key: string, since: number): Promise<number[]>;
  /** Records one event of the key at `at`. */
  add(key: string, at: number): Promise<void>;
  /** Forgets every event of the key. */
  clear(key: string): Promise<void>;
}

/** LimiterState in this process's memory: a limit that resets with the process only relaxes a guard. */
export class MemoryLimiterState implements LimiterState {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly maxKeys = 10_000) {}

  async recent(key: string, since: number): Promise<number[]> {
    const list = this.events.get(key);
    if (!list) return [];
    // Events arrive in time order: drop the old ones from the front, found by binary search (a
    // per-token limit may hold thousands of events; this stays cheap per request).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid] < since) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) list.splice(0, lo);
    if (list.length === 0) this.events.delete(key);
    return list;
  }

  async add(key: string, at: number): Promise<void> {
    const list = this.events.get(key) ?? [];
    list.push(at);
    this.events.set(key, list);
    // Bound memory under a flood of distinct keys: drop the oldest keys first.
    if (this.events.size > this.maxKeys) this.events.delete(this.events.keys().next().value!);
  }

  async clear(key: string): Promise<void> {
    this.events.delete(key);
  }
}

/** At most `max` events per key within any `windowMs`. */
export class RateLimiter {
  constructor(
    private readonly state: LimiterState,
    /** Keeps this limiter's keys apart from other limiters' in a shared state. */
    private readonly name: string,
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  private key(key: string): string {
    return `${this.name}|${key}`;
  }

  private recent(key: string, now: number): Promise<number[]> {
    return this.state.recent(this.key(key), now - this.windowMs + 1);
  }

  /** Whether one more event is within the limit (`max`, the limiter's unless given); records it when it is. */
  async allow(key: string, now: number, max = this.max): Promise<boolean> {
    if ((await this.recent(key, now)).length >= max) return false;
    await this.state.add(this.key(key), now);
    return true;
  }

  /** Records an event whatever the count. */
  note(key: string, now: number): Promise<void> {
    return this.state.add(this.key(key), now);
  }

  /** Milliseconds until the key may act again (0 when it may now). */
  async retryAfter(key: string, now: number, max = this.max): Promise<number> {
    const recent = await this.recent(key, now);
    return recent.length < max ? 0 : recent[recent.length - max] + this.windowMs - now;
  }

  clear(key: string): Promise<void> {
    return this.state.clear(this.key(key));
  }
}
