/**
 * What building a room's next event needs — its version, forward extremities,
 * the current state entries used for auth and those events — kept in memory,
 * so that sending a message reads nothing from storage. Valid because every
 * local event is built under the room's lock and reported here once stored;
 * any failure drops the room's head, and the next event reloads it.
 */
import { stateMapKey } from '../events/auth-rules.js';
import type { StoredEvent } from '../events/pdu.js';
import type { RoomRecord, StateIds, Storage } from '../storage/storage.js';
import { roomVersion, type RoomVersion } from '../events/room-versions.js';

export interface RoomHead {
  room: RoomRecord;
  version: RoomVersion;
  extremities: { eventId: string; depth: number }[];
  /** Current state entries looked up so far; null: known to be absent. */
  state: Map<string, string | null>;
}

const MAX_HEADS = 10_000;
const MAX_CACHED_EVENTS = 50_000;

/** The rooms' store: rooms, extremities, current state entries and events. */
export type RoomHeadsStorage = Pick<Storage, 'rooms'>;

export class RoomHeads {
  private readonly heads = new Map<string, RoomHead>();
  /** State events by ID (immutable once built), for auth checks; includes events still being committed. */
  private readonly events = new Map<string, StoredEvent>();

  constructor(private readonly storage: RoomHeadsStorage) {}

  async get(roomId: string): Promise<RoomHead | undefined> {
    const cached = this.heads.get(roomId);
    if (cached) return touch(this.heads, roomId, cached);
    const room = await this.storage.rooms.getRoom(roomId);
    if (!room) return undefined;
    const head: RoomHead = {
      room,
      version: roomVersion(room.version),
      extremities: await this.storage.rooms.forwardExtremities(roomId),
      state: new Map(),
    };
    bounded(this.heads, MAX_HEADS).set(roomId, head);
    return head;
  }

  /** The head of a room not stored yet: createRoom builds its events before storing any. */
  seed(room: RoomRecord, create: StoredEvent): RoomHead {
    const head: RoomHead = {
      room,
      version: roomVersion(room.version),
      extremities: [],
      state: new Map(),
    };
    bounded(this.heads, MAX_HEADS).set(room.roomId, head);
    this.applied(head, create);
    return head;
  }

  /** The current state event IDs of the given pairs. */
  async stateIds(head: RoomHead, pairs: { type: string; stateKey: string }[]): Promise<StateIds> {
    const missing = pairs.filter((p) => !head.state.has(stateMapKey(p.type, p.stateKey)));
    if (missing.length > 0) {
      const loaded = await this.storage.rooms.currentStateIdsFor(head.room.roomId, missing);
      for (const p of missing) {
        const key = stateMapKey(p.type, p.stateKey);
        head.state.set(key, loaded.get(key) ?? null);
      }
    }
    const result: StateIds = new Map();
    for (const p of pairs) {
      const eventId = head.state.get(stateMapKey(p.type, p.stateKey));
      if (eventId) result.set(stateMapKey(p.type, p.stateKey), eventId);
    }
    return result;
  }

  async eventsById(eventIds: string[]): Promise<StoredEvent[]> {
    const missing = eventIds.filter((id) => !this.events.has(id));
    for (const event of missing.length > 0 ? await this.storage.rooms.getEvents(missing) : []) {
      this.remember(event);
    }
    return eventIds.flatMap((id) => {
      const event = this.events.get(id);
      return event ? [event] : [];
    });
  }

  /**
   * Records a local event handed to storage as the room's new head (before its
   * commit: see PersistQueue): its prev_events stop being extremities (all of
   * them, unless there were more than a local event names), it is the new one.
   */
  applied(head: RoomHead, event: StoredEvent): void {
    const named = new Set(event.pdu.prev_events);
    head.extremities = [
      ...head.extremities.filter((e) => !named.has(e.eventId)),
      { eventId: event.eventId, depth: event.pdu.depth },
    ];
    if (event.pdu.state_key !== undefined) {
      head.state.set(stateMapKey(event.pdu.type, event.pdu.state_key), event.eventId);
      this.remember(event);
    }
  }

  // --- federated events ---
  /**
   * Records a received event handed to storage: the extremities as they now
   * are and, when resolution changed the current state, the entries this head
   * had looked up, from the new state (the others are read from storage, which
   * RoomService lets commit before the room's next event is built).
   */
  received(
    head: RoomHead,
    event: StoredEvent,
    extremities: { eventId: string; depth: number }[],
    currentState: StateIds | undefined,
  ): void {
    head.extremities = extremities;
    if (currentState) {
      for (const key of head.state.keys()) head.state.set(key, currentState.get(key) ?? null);
    }
    if (event.pdu.state_key !== undefined) this.remember(event);
  }

  drop(roomId: string): void {
    this.heads.delete(roomId);
  }

  private remember(event: StoredEvent): void {
    // Redactions change how an event is served, not how it authorises (auth uses the
    // redacted form's kept keys anyway), so cached auth events stay valid.
    bounded(this.events, MAX_CACHED_EVENTS).set(event.eventId, event);
  }
}

/** Moves an entry to the young end of the map's insertion order (LRU). */
function touch<V>(map: Map<string, V>, key: string, value: V): V {
  map.delete(key);
  map.set(key, value);
  return value;
}

/** Drops the oldest entry when the map is full. */
function bounded<V>(map: Map<string, V>, max: number): Map<string, V> {
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  return map;
}
