/**
 * Storing the membership events federation hands us (joins, leaves and knocks
 * of remote users sent to our rooms; our users' joins to remote rooms; invites
 * of our users to rooms we may not be in). Events of rooms we are in go
 * through RoomService.persistReceived (E1: under the room's lock, through the
 * persist queue, extremities and current state planned on the head, announced
 * on `eventsCommitted`, so sync wakes and the outbound queue sends them on).
 * An invite, rejection or knock of a room we hold no state of is stored here
 * under the same lock (`rewriteExtremities`), in the stream but never an
 * extremity, and announced on the bus likewise.
 */
import { stateMapKey } from '../events/auth-rules.js';
import type { StoredEvent } from '../events/pdu.js';
import type { EventRecord, StateIds } from '../events/records.js';
import type { RoomVersion } from '../events/room-versions.js';
import { resolveState } from '../events/state-resolution.js';
import type { ServerEventBus } from '../domain/server-events.js';
import type { OutlierEvent, ReceivedEvent } from '../rooms/room-service.js';
import type { NewRoomEvent, RoomRecord, RoomStore } from '../storage/storage.js';

/** What of RoomService the writes use: the room lock and E1's received-event storage. */
export interface RoomWrites {
  rewriteExtremities<T>(roomId: string, change: () => Promise<T>): Promise<T>;
  persistReceived(roomId: string, events: readonly ReceivedEvent[]): Promise<EventRecord[]>;
  persistOutliers(roomId: string, events: readonly OutlierEvent[]): Promise<void>;
  createRemoteRoom(room: RoomRecord): Promise<void>;
}

export type MembershipWriterStore = Pick<
  RoomStore,
  'createRoom' | 'getRoom' | 'persistEvents' | 'heldEvents' | 'stateIdsAfter' | 'currentStateIds'
>;

export class MembershipWriter {
  constructor(
    private readonly store: MembershipWriterStore,
    private readonly lock: RoomWrites,
    private readonly bus: ServerEventBus,
  ) {}

  /** The state after an event's prev_events (resolved when they are several). */
  async stateBeforeEvent(version: RoomVersion, prevIds: readonly string[]): Promise<StateIds> {
    const sets: StateIds[] = [];
    for (const prevId of prevIds) {
      const state = await this.store.stateIdsAfter(prevId);
      if (!state) throw new Error(`No state known after ${prevId}`);
      sets.push(state);
    }
    if (sets.length <= 1) return sets[0] ?? new Map();
    return resolveState({ version, stateSets: sets, loadEvents: (ids) => this.loadEvents(ids) });
  }

  /** A received event of a room we are in, built on events we hold, stored with its state. */
  async persistInRoom(
    roomId: string,
    event: StoredEvent,
    stateBefore: StateIds,
  ): Promise<EventRecord> {
    const [record] = await this.lock.persistReceived(roomId, [{ event, stateBefore }]);
    return record ?? { ...event, roomId, streamOrdering: 0 };
  }

  /**
   * Our user's join to a room we were not in: the room record (unless an
   * invite made it), the auth chain and state as outliers, then the join on
   * the returned state.
   */
  async persistJoinedRoom(
    room: RoomRecord,
    outliers: StoredEvent[],
    join: StoredEvent,
    stateBefore: StateIds,
  ): Promise<EventRecord> {
    await this.lock.createRemoteRoom(room);
    await this.lock.persistOutliers(
      room.roomId,
      outliers.map((event) => ({ event })),
    );
    return this.persistInRoom(room.roomId, join, stateBefore);
  }

  /**
   * A membership event of our user in a room we have no state of (an invite
   * received, a rejection or knock sent through another server): in the
   * stream, so /sync shows it, with the state after it being the room's
   * current state plus the event; never a forward extremity (we cannot build on it).
   */
  async persistStateless(room: RoomRecord, event: StoredEvent): Promise<EventRecord> {
    return this.lock.rewriteExtremities(room.roomId, async () => {
      if (!(await this.store.getRoom(room.roomId))) await this.store.createRoom(room, Date.now());
      const current = await this.store.currentStateIds(room.roomId);
      const after = new Map(current);
      after.set(stateMapKey(event.pdu.type, event.pdu.state_key ?? ''), event.eventId);
      return this.persist({
        ...event,
        roomId: room.roomId,
        stateBefore: current,
        currentState: after,
        extremities: { remove: [], add: [] },
      });
    });
  }

  /** Events known without their state (an invite to a room we are already in, before its /send). */
  async persistOutlier(roomId: string, event: StoredEvent): Promise<void> {
    await this.lock.persistOutliers(roomId, [{ event }]);
  }

  private async persist(event: NewRoomEvent): Promise<EventRecord> {
    const [record] = await this.store.persistEvents([event]);
    if (record && record.streamOrdering > 0) this.bus.emit('eventsCommitted', [record]);
    return record ?? { ...event, streamOrdering: 0 };
  }

  private async loadEvents(ids: string[]): Promise<StoredEvent[]> {
    return (await this.store.heldEvents(ids)).filter((e) => e.rejectedReason === undefined);
  }
}
