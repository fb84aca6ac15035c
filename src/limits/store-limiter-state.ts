import type { MetadataStore } from '../storage/metadata/metadata-store.js';
import type { LimiterState } from './rate-limiter.js';

// LimiterState in the metadata store, for nodes that share one (PostgreSQL): a client that fails
// to sign in on node 1 has used up its attempts on nodes 2 and 3 as well. Each check reads the
// key's recent events with one indexed query (a check that records its event counts and adds under
// a lock of the key, so racing nodes cannot both take a limit's last place); events older than any window are removed every
// few minutes.

/** Events older than this are of no limiter's window any more. */
const KEEP_MS = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 10 * 60 * 1000;

export class StoreLimiterState implements LimiterState {
  /** When (in the limiters' time, which tests may move) old events were last removed. */
  private lastPrune: number | undefined;

  constructor(private readonly meta: MetadataStore) {}

  recent(key: string, since: number): Promise<number[]> {
    return this.meta.limiterEvents(key, since);
  }

  async add(key: string, at: number): Promise<boolean> {
    await this.meta.addLimiterEvent(key, at);
    await this.prune(at);
    return true;
  }

  async addBelow(key: string, max: number, since: number, at: number): Promise<boolean> {
    const added = await this.meta.addLimiterEventBelow(key, max, since, at);
    if (added) await this.prune(at);
    return added;
  }

  /** The table has room for every key (old events are pruned by time, not by count). */
  async hasRoom(): Promise<boolean> {
    return true;
  }

  private async prune(at: number): Promise<void> {
    if (this.lastPrune !== undefined && Math.abs(at - this.lastPrune) < PRUNE_EVERY_MS) return;
    this.lastPrune = at;
    await this.meta.clearLimiterEvents({ before: at - KEEP_MS }).catch(() => undefined);
  }

  clear(key: string): Promise<void> {
    return this.meta.clearLimiterEvents({ key });
  }
}
