/**
 * Measurements taken deep in storage for the metrics (metrics.ts),
 * without those layers knowing of Prometheus: they report here, and the
 * metrics, when enabled, listen. With no listener (metrics off) a report is
 * one check of an empty set. Process-wide: two servers in one process (tests)
 * would count each other's work.
 */

/** What the layers below the metrics report. */
export interface ProbeListener {
  /** A database round trip: `kind` is `query` (PostgreSQL) or `writer` (the SQLite writer thread). */
  databaseQuery(kind: 'query' | 'writer', seconds: number): void;
  /** Read-through cache lookups (one call per batch of keys), by the cache's name. */
  cacheLookups(cache: string, hits: number, misses: number): void;
}

const listeners = new Set<ProbeListener>();

/** Starts reporting to `listener`; the function returned stops it. */
export function listenToProbes(listener: ProbeListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether anyone listens: callers skip taking the time when nobody does. */
export function probing(): boolean {
  return listeners.size > 0;
}

export const probes: ProbeListener = {
  databaseQuery(kind, seconds) {
    for (const listener of listeners) listener.databaseQuery(kind, seconds);
  },
  cacheLookups(cache, hits, misses) {
    for (const listener of listeners) listener.cacheLookups(cache, hits, misses);
  },
};

/** Seconds since a `performance.now()` reading. */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
