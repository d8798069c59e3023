/**
 * Each room's latest event position, kept in memory from the notifier's
 * changes, so that ordering a user's rooms by recency on every response (and
 * on every long-poll's wake-up) reads storage only for the rooms this process
 * has not seen an event of yet (after a start, or once evicted).
 *
 * An entry is always the room's newest notified position: a notification sets
 * it (positions of a stream are notified in increasing order), and a value
 * read from storage up to a bound fills only a missing entry. Every event at
 * or before the notifier's current position has been notified, so a read up to
 * that bound gives the room's true latest unless an event came after it; that
 * event's notification then either set the entry already (a fill never
 * overwrites) or was evicted, which `evictedUpTo` tells, and the fill is
 * skipped. Pure: the caller reads storage.
 */
import type { ObservedChange } from '../sync/notifier.js';

/** Rooms kept, least recently written dropped first: about 10 MB at most. */
const MAX_ROOMS = 100_000;

export interface RecencyLookup {
  /** Rooms whose latest position at or before the bound is known. */
  known: Map<string, number>;
  /** Rooms to read from storage (then `fill`). */
  missing: string[];
}

export class RoomRecency {
  private readonly latest = new Map<string, number>();
  /** The highest position an evicted entry held. */
  private evictedUpTo = 0;

  constructor(private readonly maxRooms = MAX_ROOMS) {}

  /** The notifier's change (Notifier.observe): a room event moves its rooms' entries. */
  observe(change: ObservedChange): void {
    if (change.stream !== 'roomEvents') return;
    for (const roomId of change.roomIds) this.set(roomId, change.position);
  }

  /**
   * Each room's latest position at or before `upTo`, where the entry says so;
   * the others (no entry, or one beyond the bound: an event came after it) are
   * for storage.
   */
  lookup(roomIds: Iterable<string>, upTo: number): RecencyLookup {
    const known = new Map<string, number>();
    const missing: string[] = [];
    for (const roomId of roomIds) {
      const position = this.latest.get(roomId);
      if (position !== undefined && position <= upTo) known.set(roomId, position);
      else missing.push(roomId);
    }
    return { known, missing };
  }

  /**
   * Positions read from storage up to `upTo`, kept for rooms with no entry:
   * unless an entry beyond the bound may have been evicted meanwhile.
   */
  fill(positions: ReadonlyMap<string, number>, upTo: number): void {
    if (this.evictedUpTo > upTo) return;
    for (const [roomId, position] of positions) {
      if (!this.latest.has(roomId)) this.set(roomId, position);
    }
  }

  get size(): number {
    return this.latest.size;
  }

  private set(roomId: string, position: number): void {
    const previous = this.latest.get(roomId);
    // Re-inserting moves the room to the most recently written end of the Map.
    this.latest.delete(roomId);
    this.latest.set(roomId, Math.max(previous ?? position, position));
    while (this.latest.size > this.maxRooms) {
      const [oldest, at] = this.latest.entries().next().value as [string, number];
      this.latest.delete(oldest);
      this.evictedUpTo = Math.max(this.evictedUpTo, at);
    }
  }
}
