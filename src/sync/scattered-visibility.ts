/**
 * History visibility for events that are not a consecutive run (children of
 * different parents, thread roots of a room): the room history check rolls the
 * state forward through the events it is given, so a gap hiding a change of the
 * user's membership or of the history visibility would be missed. When neither
 * changed since the oldest event, one check covers them all; otherwise each
 * event is checked on its own.
 */
import type { RoomStateReader } from '../storage/readers.js';
import type { EventRecord } from '../storage/storage.js';
import type { VisibilityCheck } from './room-history.js';

/** The two current state entries the check compares with the oldest event: reads only. */
export interface ScatteredVisibilityStorage {
  rooms: RoomStateReader;
}

export async function visibleScattered(
  storage: ScatteredVisibilityStorage,
  visibleTo: VisibilityCheck,
  userId: string,
  events: readonly EventRecord[],
): Promise<EventRecord[]> {
  const visible: EventRecord[] = [];
  for (const [roomId, inRoom] of byRoom(events)) {
    const oldestFirst = inRoom.sort((a, b) => a.streamOrdering - b.streamOrdering);
    if (await unchangedSince(storage, roomId, userId, oldestFirst[0]!.streamOrdering)) {
      visible.push(...(await visibleTo(userId, roomId, oldestFirst)));
    } else {
      for (const event of oldestFirst) visible.push(...(await visibleTo(userId, roomId, [event])));
    }
  }
  return visible;
}

/** Whether the user's membership and the history visibility last changed before `position`. */
async function unchangedSince(
  storage: ScatteredVisibilityStorage,
  roomId: string,
  userId: string,
  position: number,
): Promise<boolean> {
  const ids = await storage.rooms.currentStateIdsFor(roomId, [
    { type: 'm.room.history_visibility', stateKey: '' },
    { type: 'm.room.member', stateKey: userId },
  ]);
  const entries = await storage.rooms.getEvents([...ids.values()]);
  return entries.every((entry) => entry.streamOrdering < position);
}

function byRoom(events: readonly EventRecord[]): Map<string, EventRecord[]> {
  const rooms = new Map<string, EventRecord[]>();
  for (const event of events) {
    const list = rooms.get(event.roomId) ?? [];
    list.push(event);
    rooms.set(event.roomId, list);
  }
  return rooms;
}
