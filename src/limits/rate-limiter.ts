// Sliding-window rate limits (failed sign-ins, audited authentication failures). The limiter's
// arithmetic is here; the events it counts live behind LimiterState, so that several nodes can
// share one state (a PostgreSQL table, say) by handing a different implementation to the wiring.

/** Where a limiter's events are kept. Keys are already namespaced by the limiter. */
export interface LimiterState {
  /** Times (ms) of the key's events at or after `since`, oldest first; older ones may be dropped. */
  recent(key: string, since: number): Promise<number[]>;
  /**
   * Records one event of the key at `at`; it counts until `until` (the end of its window). False
   * when the state could not take the key: a bounded state full of keys that still count.
   */
  add(key: string, at: number, until: number): Promise<boolean>;
  /**
   * Records one event as add() does, but only while fewer than `max` of the key's events are at or
   * after `since`, in one step: of callers racing for the last place (on any node sharing the
   * state) one gets it. False when the event was not recorded.
   */
  addBelow(key: string, max: number, since: number, at: number, until: number): Promise<boolean>;
  /** Whether the state counts the key's events at `now`: it holds the key, or has room for it. */
  hasRoom(key: string, now: number): Promise<boolean>;
  /** Forgets every event of the key. */
  clear(key: string): Promise<void>;
}

/** How often, at most, a full MemoryLimiterState looks through its keys for ended windows. */
const SWEEP_EVERY_MS = 1000;

/**
 * LimiterState in this process's memory: a limit that resets with the process only relaxes a guard.
 * It holds at most `maxKeys` keys. Full, it drops keys whose windows have ended, never one that
 * still counts: a flood of made-up keys would otherwise push out the keys being limited. A key it
 * has no room for is refused (see RateLimiter), not waved through.
 */
export class MemoryLimiterState implements LimiterState {
  private readonly events = new Map<string, { times: number[]; until: number }>();
  /** When a full state next looks for ended windows: not before the earliest one ends, nor within a second of the last look. */
  private nextSweep = 0;

  constructor(private readonly maxKeys = 10_000) {}

  async recent(key: string, since: number): Promise<number[]> {
    return this.recentNow(key, since);
  }

  async add(key: string, at: number, until: number): Promise<boolean> {
    return this.addNow(key, at, until);
  }

  // Counted and added with no await between: concurrent requests of this process cannot interleave.
  async addBelow(key: string, max: number, since: number, at: number, until: number): Promise<boolean> {
    return this.recentNow(key, since).length < max && this.addNow(key, at, until);
  }

  private recentNow(key: string, since: number): number[] {
    const entry = this.events.get(key);
    if (!entry) return [];
    const list = entry.times;
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

  private addNow(key: string, at: number, until: number): boolean {
    const entry = this.events.get(key);
    if (entry) {
      entry.times.push(at);
      entry.until = Math.max(entry.until, until);
      return true;
    }
    if (!this.makeRoom(at)) return false;
    this.events.set(key, { times: [at], until });
    this.nextSweep = Math.min(this.nextSweep, until);
    return true;
  }

  async hasRoom(key: string, now: number): Promise<boolean> {
    return this.events.has(key) || this.makeRoom(now);
  }

  async clear(key: string): Promise<void> {
    this.events.delete(key);
  }

  /** Whether a new key fits; when full, drops the keys whose windows ended (at most once a second). */
  private makeRoom(now: number): boolean {
    if (this.events.size < this.maxKeys) return true;
    if (now < this.nextSweep) return false;
    let earliest = Infinity;
    for (const [key, entry] of this.events) {
      if (entry.until <= now) this.events.delete(key);
      else earliest = Math.min(earliest, entry.until);
    }
    this.nextSweep = Math.max(earliest, now + SWEEP_EVERY_MS);
    return this.events.size < this.maxKeys;
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

  /** The oldest time still in the window at `now`. */
  private since(now: number): number {
    return now - this.windowMs + 1;
  }

  private recent(key: string, now: number): Promise<number[]> {
    return this.state.recent(this.key(key), this.since(now));
  }

  /**
   * Whether one more event is within the limit (`max`, the limiter's unless given); records it when
   * it is. A key the state has no room for is refused: uncounted must not mean unlimited.
   */
  async allow(key: string, now: number, max = this.max): Promise<boolean> {
    return this.state.addBelow(this.key(key), max, this.since(now), now, now + this.windowMs);
  }

  /** Records an event whatever the count (retryAfter refuses a key the state had no room for). */
  async note(key: string, now: number): Promise<void> {
    await this.state.add(this.key(key), now, now + this.windowMs);
  }

  /** Milliseconds until the key may act again (0 when it may now); a whole window for a key the state has no room for. */
  async retryAfter(key: string, now: number, max = this.max): Promise<number> {
    if (!(await this.state.hasRoom(this.key(key), now))) return this.windowMs;
    const recent = await this.recent(key, now);
    return recent.length < max ? 0 : recent[recent.length - max] + this.windowMs - now;
  }

  clear(key: string): Promise<void> {
    return this.state.clear(this.key(key));
  }
}
