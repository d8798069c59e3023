/**
 * What a room store keeps in memory, whatever its backend: every /sync reads
 * the same events, state and memberships again. Events never change once
 * stored but for a redaction marking them, state groups never change, and
 * the rest changes only through this process's room store, which tells the
 * caches of each commit (`committed`), in commit order. That is what keeps
 * them right, and it holds only while this process is the only writer:
 * several processes sharing a database would each have to hear of the
 * others' commits (events redacted, state and memberships changed, rooms
 * forgotten) and apply the same updates, e.g. from the bus that wakes their
 * notifiers (docs/ARCHITECTURE.md, "Stream positions").
 */
import type { EventRecord, MembershipEvent, NewRoomEvent, StateIds } from '../storage.js';
import type { PurgedFromCaches } from '../../domain/admin-jobs.js';
import { splitStateMapKey } from '../../events/auth/auth-state.js';
import { LruCache } from '../../util/lru-cache.js';
import { ReadThroughCache } from './read-through-cache.js';
import { currentStateKey, membershipOf, redactionTarget } from './room-rows.js';
import type { CurrentChange, MembershipChange } from './received-state.js';

/** Events and resolved state groups kept in memory (reads of hot rooms' state repeat a lot). */
const EVENT_CACHE_SIZE = 20_000;
const GROUP_CACHE_SIZE = 2_000;
/** Users whose membership events (and forgotten rooms) are kept: every /sync reads them. */
const MEMBERSHIP_CACHE_SIZE = 10_000;
/** Current state entries (room, type, state key) kept: history visibility reads them per /sync. */
const CURRENT_STATE_CACHE_SIZE = 50_000;
/** Rooms whose member counts are kept: every initial /sync reads them for each room. */
const MEMBER_COUNTS_CACHE_SIZE = 10_000;

export interface MemberCounts {
  joined: number;
  invited: number;
}

/** What the events' transaction reports of each event, in order. */
export interface PersistedEvent {
  streamOrdering: number;
  /** The state event this one replaced in the room's current state. */
  replacesState?: string;
  // --- federated events ---
  /** Held off the event stream (an outlier, soft-failed or rejected event): no position, nothing cached changes. */
  offStream?: boolean;
  /**
   * A received event's changes to the current state (resolution may change
   * several entries, or none): applied instead of "a state event is its
   * entry", which is how local events' entries are cached.
   */
  currentChanges?: CurrentChange[];
  /** Memberships made current otherwise than by this event's own arrival (received-state.ts). */
  membershipChanges?: MembershipChange[];
  /** The event was held as an outlier (at position 0) until now: its cached record is stale. */
  deOutliered?: boolean;
}

export class RoomCaches {
  readonly events = new ReadThroughCache<string, EventRecord>(EVENT_CACHE_SIZE, 'events');
  /** State groups never change once committed: their resolved state is cached. */
  readonly groups = new LruCache<number, StateIds>(GROUP_CACHE_SIZE);
  /**
   * Each cached user's membership events up to the position the store had
   * reported when they were read, oldest first: `committed` appends new ones,
   * in commit order, so an entry stays whole.
   */
  readonly memberships = new ReadThroughCache<string, MembershipEvent[]>(
    MEMBERSHIP_CACHE_SIZE,
    'memberships',
  );
  readonly forgotten = new ReadThroughCache<string, string[]>(MEMBERSHIP_CACHE_SIZE, 'forgotten');
  /** Current state event IDs by `currentStateKey` (null: none); `committed` sets new ones. */
  readonly currentState = new ReadThroughCache<string, string | null>(
    CURRENT_STATE_CACHE_SIZE,
    'current_state',
  );
  /** The state group after each event: fixed once the event is stored. */
  readonly eventGroups = new LruCache<string, number>(EVENT_CACHE_SIZE);
  /** Joined and invited members per room; a member event committed there drops the entry. */
  readonly memberCounts = new ReadThroughCache<string, MemberCounts>(
    MEMBER_COUNTS_CACHE_SIZE,
    'member_counts',
  );

  /**
   * An admin purge deleted these events (and, for a whole room, its state):
   * they, the members' membership lists, the room's counts and the current
   * state entries named (`stateMapKey`s) leave the caches.
   */
  forgetPurged(roomId: string, purged: PurgedFromCaches): void {
    for (const eventId of purged.eventIds) {
      this.events.delete(eventId);
      this.eventGroups.delete(eventId);
    }
    for (const userId of purged.memberIds) {
      this.memberships.delete(userId);
      this.forgotten.delete(userId);
    }
    this.memberCounts.delete(roomId);
    for (const key of purged.stateMapKeys) {
      const { type, stateKey } = splitStateMapKey(key);
      this.currentState.delete(currentStateKey(roomId, type, stateKey));
    }
  }

  /** After the commit, in commit order: the caches learn of the event, and its record is made. */
  committed(event: NewRoomEvent, persisted: PersistedEvent): EventRecord {
    const { pdu } = event;
    if (persisted.deOutliered) this.events.delete(event.eventId);
    if (!persisted.offStream) this.streamEventCommitted(event, persisted);
    const stored: EventRecord = {
      eventId: event.eventId,
      roomId: event.roomId,
      pdu,
      streamOrdering: persisted.streamOrdering,
    };
    if (persisted.replacesState !== undefined) stored.replacesState = persisted.replacesState;
    const txn = event.transaction;
    if (txn) stored.transaction = { userId: txn.userId, deviceId: txn.deviceId, txnId: txn.txnId };
    return stored;
  }

  private streamEventCommitted(event: NewRoomEvent, persisted: PersistedEvent): void {
    const { pdu } = event;
    const redacts = redactionTarget(pdu);
    if (redacts !== undefined) this.events.delete(redacts);
    if (event.stateBefore !== undefined) {
      this.currentChanged(event.roomId, persisted.currentChanges ?? []);
    } else if (pdu.state_key !== undefined) {
      // Every local state event stored becomes its room's current entry (one line of history).
      this.currentState.set(currentStateKey(event.roomId, pdu.type, pdu.state_key), event.eventId);
    }
    if (pdu.type === 'm.room.member' && pdu.state_key !== undefined) {
      this.memberCounts.delete(event.roomId);
      // The transaction un-forgot the room (a new membership ends "forgotten").
      this.forgotten.delete(pdu.state_key);
      // Backfilled history goes before the list's events, not after: it is read again.
      if (event.backfillPosition !== undefined) this.memberships.delete(pdu.state_key);
      else
        this.memberships.update(pdu.state_key, (events) =>
          events.push({
            roomId: event.roomId,
            eventId: event.eventId,
            membership: membershipOf(pdu) as string,
            streamOrdering: persisted.streamOrdering,
          }),
        );
    }
    // After the event's own entry: "the newest is current" then finds the current-state membership.
    for (const change of persisted.membershipChanges ?? []) {
      this.memberships.update(change.userId, (events) =>
        events.push({
          roomId: change.roomId,
          eventId: change.eventId,
          membership: change.membership,
          streamOrdering: persisted.streamOrdering,
        }),
      );
    }
  }

  /** Resolution's changes to a room's current state: entries set or removed, member counts dropped. */
  private currentChanged(roomId: string, changes: readonly CurrentChange[]): void {
    for (const change of changes) {
      this.currentState.set(currentStateKey(roomId, change.type, change.stateKey), change.eventId);
      if (change.type === 'm.room.member') this.memberCounts.delete(roomId);
    }
  }
}

/** From a user's membership events, oldest first: the rooms where the newest has this membership. */
export function roomsWithCurrentMembership(
  events: readonly MembershipEvent[],
  membership: string,
): string[] {
  const latest = new Map<string, string>();
  for (const event of events) latest.set(event.roomId, event.membership);
  return [...latest].filter(([, m]) => m === membership).map(([roomId]) => roomId);
}
