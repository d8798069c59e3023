/**
 * History visibility against storage: reads the state before a run of events
 * once, then lets the pure rules (history-visibility.ts) roll through the run.
 */
import { stateMapKey } from '../events/auth-rules.js';
import type { EventRecord, StateIds, Storage } from '../storage/storage.js';
import { filterVisibleEvents, visibilityAt } from './history-visibility.js';
import type { VisibilityCheck } from './room-history.js';
import { stateBefore } from './sync-response.js';

const HISTORY_VISIBILITY = 'm.room.history_visibility';
const MEMBER = 'm.room.member';

export function visibilityCheckFor(storage: Storage): VisibilityCheck {
  return async (userId, roomId, events) => {
    const first = events[0];
    if (!first) return events;
    const stateAfterFirst = (await storage.rooms.stateIdsAfter(first.eventId)) ?? new Map();
    const contents = await contentsOf(storage, stateBefore(first, stateAfterFirst), userId);
    const before = visibilityAt(
      (type, stateKey) => contents.get(stateMapKey(type, stateKey)),
      userId,
    );
    const joinedLater = (await currentMembership(storage, roomId, userId)) === 'join';
    return filterVisibleEvents(events, { userId, joinedLater }, before, (e: EventRecord) => e.pdu);
  };
}

/** The contents of the two entries the rules read: the history visibility and the user's membership. */
async function contentsOf(storage: Storage, state: StateIds, userId: string) {
  const keys = [stateMapKey(HISTORY_VISIBILITY, ''), stateMapKey(MEMBER, userId)];
  const ids = keys.flatMap((key) => state.get(key) ?? []);
  const contents = new Map<string, unknown>();
  for (const event of await storage.rooms.getEvents(ids)) {
    contents.set(stateMapKey(event.pdu.type, event.pdu.state_key ?? ''), event.pdu.content);
  }
  return contents;
}

async function currentMembership(storage: Storage, roomId: string, userId: string) {
  const ids = await storage.rooms.currentStateIdsFor(roomId, [{ type: MEMBER, stateKey: userId }]);
  const eventId = ids.get(stateMapKey(MEMBER, userId));
  if (eventId === undefined) return undefined;
  return (await storage.rooms.getEvent(eventId))?.pdu.content.membership;
}
