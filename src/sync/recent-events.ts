/**
 * The newest events of the busiest rooms, kept in memory as they commit, so
 * the read sync makes most often — "this room's events after a position a
 * moment old", once per member woken — needs no query and no JSON parsing.
 *
 * Each room's window holds every event of the room after its `floor`: it starts
 * with the first event committed through the persist queue after start-up
 * (only a room's create event is stored another way, and it comes first), and
 * the floor rises as old events are dropped. A range reaching below the floor is
 * not answered here; the caller reads storage.
 *
 * Fed before the notifier hears of a batch, so every event a sync's upper bound
 * covers is already here.
 */
import type { EventRecord } from '../storage/storage.js';

/** Events kept per room: a default timeline (10) with room to spare. */
const EVENTS_PER_ROOM = 24;
/** Rooms kept, least recently written dropped first: bounds memory to about 24k events. */
const MAX_ROOMS = 1_000;

interface RoomWindow {
  /** Every event of the room after this position is in `events`. */
  floor: number;
  /** Oldest first. */
  events: EventRecord[];
}

export class RecentEvents {
  private readonly rooms = new Map<string, RoomWindow>();

  constructor(
    private readonly eventsPerRoom = EVENTS_PER_ROOM,
    private readonly maxRooms = MAX_ROOMS,
  ) {}

  /** Takes a committed batch, in commit order. */
  add(records: readonly EventRecord[]): void {
    for (const record of records) {
      const window = this.touch(record.roomId, record.streamOrdering - 1);
      window.events.push(record);
      if (window.events.length > this.eventsPerRoom) {
        window.floor = window.events.shift()!.streamOrdering;
      }
      this.applyRedaction(window, record);
    }
  }

  /**
   * The room's events with positions in (after, upTo], at most `limit`, in the
   * order asked; undefined when the window does not reach down to `after`.
   */
  range(
    roomId: string,
    after: number,
    upTo: number,
    limit: number,
    order: 'newest-first' | 'oldest-first',
  ): EventRecord[] | undefined {
    const window = this.rooms.get(roomId);
    if (!window || after < window.floor) return undefined;
    const inRange = window.events.filter(
      (e) => e.streamOrdering > after && e.streamOrdering <= upTo,
    );
    return order === 'newest-first' ? inRange.reverse().slice(0, limit) : inRange.slice(0, limit);
  }

  /** An admin purge deleted some of the room's events: its window goes (reads fall back to storage). */
  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  /** The room's window, made most recently used; a new one starts at `floor`. */
  private touch(roomId: string, floor: number): RoomWindow {
    const window = this.rooms.get(roomId) ?? { floor, events: [] };
    this.rooms.delete(roomId);
    this.rooms.set(roomId, window);
    if (this.rooms.size > this.maxRooms) {
      this.rooms.delete(this.rooms.keys().next().value as string);
    }
    return window;
  }

  /** A redaction marks its target, if the window holds it (records are replaced, never changed). */
  private applyRedaction(window: RoomWindow, record: EventRecord): void {
    const { pdu } = record;
    if (pdu.type !== 'm.room.redaction') return;
    const redacts = pdu.redacts ?? pdu.content.redacts;
    const index = window.events.findIndex((e) => e.eventId === redacts);
    const target = window.events[index];
    if (target && target.redactedBy === undefined) {
      window.events[index] = { ...target, redactedBy: record.eventId };
    }
  }
}
