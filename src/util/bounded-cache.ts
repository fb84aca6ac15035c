/**
 * A map that keeps at most `limit` entries, dropping the oldest insertion first: for values that
 * are pure functions of their key (a derived signing key, a decrypted ciphertext), so a hit and a
 * miss give the same answer and only the cost differs.
 */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  /** The cached value of `key`, else `make()` (cached when it returns). */
  get(key: string, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    const value = make();
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, value);
    return value;
  }

  get size(): number {
    return this.map.size;
  }
}
