/**
 * An LRU cache in front of reads that may be asynchronous (a PostgreSQL
 * query). A read that was in flight while a writer changed its key must not
 * cache what it read: it may be the value from before the write, which would
 * then stay in the cache. So `set`, `delete` and `update` void the reads of
 * their key in flight; their callers still get what was read, which was true
 * when they asked. Synchronous reads (SQLite) use `getOrSet`: nothing can
 * write meanwhile.
 */
import { LruCache } from '../../util/lru-cache.js';
import { probes, probing } from '../../util/probes.js';

export class ReadThroughCache<K, V> {
  private readonly entries: LruCache<K, V>;
  /** The newest read in flight per key; a write removes it, so that read caches nothing. */
  private readonly reading = new Map<K, symbol>();

  constructor(
    capacity: number,
    /** The cache's name in the metrics' lookup counts (weft_cache_lookups_total). */
    private readonly name = 'unnamed',
  ) {
    this.entries = new LruCache<K, V>(capacity);
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** The cached value, or `read()`'s (cached first); `read` must be synchronous. */
  getOrSet(key: K, read: () => V): V {
    if (!probing()) return this.entries.getOrSet(key, read);
    const cached = this.entries.get(key);
    probes.cacheLookups(this.name, cached !== undefined ? 1 : 0, cached !== undefined ? 0 : 1);
    return cached !== undefined ? cached : this.entries.getOrSet(key, read);
  }

  /** A writer's new value. */
  set(key: K, value: V): void {
    this.reading.delete(key);
    this.entries.set(key, value);
  }

  delete(key: K): void {
    this.reading.delete(key);
    this.entries.delete(key);
  }

  /** A writer's change to the cached value in place, if there is one. */
  update(key: K, change: (value: V) => void): void {
    this.reading.delete(key);
    const value = this.entries.get(key);
    if (value !== undefined) change(value);
  }

  /** The cached value, or what `read` resolves to (cached unless a write came meanwhile). */
  async getOrLoad(key: K, read: () => Promise<V>): Promise<V> {
    const found = await this.load([key], async () => new Map([[key, await read()]]));
    return found.get(key)!;
  }

  /**
   * The cached values of the keys, and for the others what `read` finds
   * (each cached unless a write to it came meanwhile). Keys `read` leaves
   * out are absent from the result and not cached.
   */
  async load(keys: Iterable<K>, read: (missing: K[]) => Promise<Map<K, V>>): Promise<Map<K, V>> {
    const found = new Map<K, V>();
    const missing = new Set<K>();
    for (const key of keys) {
      const value = this.entries.get(key);
      if (value !== undefined) found.set(key, value);
      else missing.add(key);
    }
    if (probing()) probes.cacheLookups(this.name, found.size, missing.size);
    if (missing.size === 0) return found;
    const ticket = Symbol('read');
    for (const key of missing) this.reading.set(key, ticket);
    try {
      for (const [key, value] of await read([...missing])) {
        if (this.reading.get(key) === ticket) this.entries.set(key, value);
        found.set(key, value);
      }
    } finally {
      for (const key of missing) if (this.reading.get(key) === ticket) this.reading.delete(key);
    }
    return found;
  }
}
