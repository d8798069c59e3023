/** A user's membership in a room's current state, for the checks "is this user joined?". */
import { errors } from '../protocol/errors.js';
import type { RoomStateReader } from '../storage/readers.js';
import type { EventRecord } from '../storage/storage.js';
import { historyVisibilityOf } from '../events/history-visibility.js';

/** What these checks read: the room's current state entries and their events. */
export interface CurrentStateStorage {
  rooms: RoomStateReader;
}

/** The event of one entry of the room's current state (one index lookup, not the whole state). */
export async function currentStateEvent(
  storage: CurrentStateStorage,
  roomId: string,
  type: string,
  stateKey: string,
): Promise<EventRecord | undefined> {
  const [eventId] = (await storage.rooms.currentStateIdsFor(roomId, [{ type, stateKey }])).values();
  return eventId === undefined ? undefined : storage.rooms.getEvent(eventId);
}

export async function currentMembership(
  storage: CurrentStateStorage,
  roomId: string,
  userId: string,
): Promise<string | undefined> {
  const event = await currentStateEvent(storage, roomId, 'm.room.member', userId);
  const membership = event?.pdu.content.membership;
  return typeof membership === 'string' ? membership : undefined;
}

/** 403 unless the user is joined to the room (an unknown room too, as Synapse). */
export async function requireJoined(storage: CurrentStateStorage, roomId: string, userId: string) {
  if ((await currentMembership(storage, roomId, userId)) !== 'join') {
    throw errors.forbidden('You are not joined to this room');
  }
}

/** Whether anyone may read the room now: its history visibility is world_readable. */
export async function isWorldReadable(
  storage: CurrentStateStorage,
  roomId: string,
): Promise<boolean> {
  const event = await currentStateEvent(storage, roomId, 'm.room.history_visibility', '');
  return historyVisibilityOf(event?.pdu.content) === 'world_readable';
}
