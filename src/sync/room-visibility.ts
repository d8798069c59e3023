/**
 * History visibility against storage: finds the state before a run of events
 * once, then lets the pure rules (history-visibility.ts) roll through the run.
 * The rules read two state entries: the history visibility and the user's
 * membership. When neither has changed since the run began (the common case:
 * a sync of recent events), the current entries are the ones before the run,
 * which saves resolving the room state at that event.
 */
import { stateMapKey } from '../events/auth-rules.js';
import type { RoomStateReader, StateHistoryReader } from '../storage/readers.js';
import type { EventRecord, StateIds } from '../storage/storage.js';
import { filterVisibleEvents, visibilityAt } from '../events/history-visibility.js';
import type { VisibilityCheck } from './room-history.js';
import { stateBefore } from './sync-response.js';

const HISTORY_VISIBILITY = 'm.room.history_visibility';
const MEMBER = 'm.room.member';

/** The rooms' current state entries, the state after an event, and their events: reads only. */
export interface RoomVisibilityStorage {
  rooms: RoomStateReader & StateHistoryReader;
}

export function visibilityCheckFor(storage: RoomVisibilityStorage): VisibilityCheck {
  return async (userId, roomId, events) => {
    const first = events[0];
    if (!first) return events;
    const current = await entriesOf(storage, userId, await currentStateOf(storage, roomId, userId));
    // Local rooms are linear: an entry last changed before the run is also its value before the run.
    const unchangedSince = [...current.values()].every(
      (e) => e.streamOrdering < first.streamOrdering,
    );
    const before = unchangedSince ? current : await entriesBefore(storage, userId, first);
    const content = (type: string, stateKey: string) =>
      before.get(stateMapKey(type, stateKey))?.pdu.content;
    const joinedLater = current.get(stateMapKey(MEMBER, userId))?.pdu.content.membership === 'join';
    return filterVisibleEvents(
      events,
      { userId, joinedLater },
      visibilityAt(content, userId),
      (e) => e.pdu,
    );
  };
}

function currentStateOf(
  storage: RoomVisibilityStorage,
  roomId: string,
  userId: string,
): Promise<StateIds> {
  return storage.rooms.currentStateIdsFor(roomId, [
    { type: HISTORY_VISIBILITY, stateKey: '' },
    { type: MEMBER, stateKey: userId },
  ]);
}

async function entriesBefore(storage: RoomVisibilityStorage, userId: string, event: EventRecord) {
  const after = (await storage.rooms.stateIdsAfter(event.eventId)) ?? new Map();
  return entriesOf(storage, userId, stateBefore(event, after));
}

/** The two entries the rules read, as events keyed by their state map key. */
async function entriesOf(
  storage: RoomVisibilityStorage,
  userId: string,
  state: StateIds,
): Promise<Map<string, EventRecord>> {
  const keys = [stateMapKey(HISTORY_VISIBILITY, ''), stateMapKey(MEMBER, userId)];
  const ids = keys.flatMap((key) => state.get(key) ?? []);
  const entries = new Map<string, EventRecord>();
  for (const event of await storage.rooms.getEvents(ids)) {
    entries.set(stateMapKey(event.pdu.type, event.pdu.state_key ?? ''), event);
  }
  return entries;
}
