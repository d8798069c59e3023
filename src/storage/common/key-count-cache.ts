/**
 * The key counts of devices (what every /sync of a device reports: its
 * unclaimed one-time keys and unused fallback keys), as last read from the
 * database, so a /sync that follows no change reads no SQL. Both backends
 * keep one per database, shared by the key store and the device deletion.
 *
 * Exact because every write that changes a device's keys (an upload, a claim
 * of its one-time or fallback key, the device's deletion) calls `forget` for
 * it once it has committed or rolled back, before it resolves (on SQLite
 * anywhere in its synchronous transaction: no read runs in between); and a read
 * fills the entry it began with: a `forget` while it read deleted that entry
 * from the cache, so what the read found goes nowhere (a later read starts
 * a new entry). A read that overlaps a write may cache what the database held
 * before that write committed, but the write's own `forget` then drops it
 * before the write resolves.
 */
import { LruCache } from '../../util/lru-cache.js';
import { pairKey } from '../../util/pair-key.js';

/** Devices whose key counts are remembered; the least recently synced are forgotten. */
const MAX_CACHED_KEY_COUNTS = 50_000;

interface KeyCounts {
  oneTimeKeys?: Readonly<Record<string, number>>;
  unusedFallbackTypes?: readonly string[];
}

export class KeyCountCache {
  /** By `pairKey(user, device)`: unambiguous for any strings (a claim names any user and device). */
  private readonly entries = new LruCache<string, KeyCounts>(MAX_CACHED_KEY_COUNTS);

  /** Unclaimed one-time keys per algorithm: remembered, or `read` (and remembered). A copy each time. */
  async oneTimeKeyCounts(
    userId: string,
    deviceId: string,
    read: () => Promise<Record<string, number>>,
  ): Promise<Record<string, number>> {
    const entry = this.entryOf(userId, deviceId);
    if (entry.oneTimeKeys) return { ...entry.oneTimeKeys };
    const counts = await read();
    entry.oneTimeKeys = { ...counts };
    return counts;
  }

  /** Algorithms with an unused fallback key: remembered, or `read` (and remembered). A copy each time. */
  async unusedFallbackKeyTypes(
    userId: string,
    deviceId: string,
    read: () => Promise<string[]>,
  ): Promise<string[]> {
    const entry = this.entryOf(userId, deviceId);
    if (entry.unusedFallbackTypes) return [...entry.unusedFallbackTypes];
    const types = await read();
    entry.unusedFallbackTypes = [...types];
    return types;
  }

  /** Must be called by every write that changes the device's keys, once it has committed (or failed). */
  forget(userId: string, deviceId: string): void {
    this.entries.delete(pairKey(userId, deviceId));
  }

  private entryOf(userId: string, deviceId: string): KeyCounts {
    return this.entries.getOrSet(pairKey(userId, deviceId), () => ({}));
  }
}

/** One cache per database (of either backend), shared by every store on it. */
export class KeyCountCaches<Database extends object> {
  private readonly caches = new WeakMap<Database, KeyCountCache>();

  of(db: Database): KeyCountCache {
    let cache = this.caches.get(db);
    if (!cache) {
      cache = new KeyCountCache();
      this.caches.set(db, cache);
    }
    return cache;
  }
}
