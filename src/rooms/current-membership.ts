/** A user's membership in a room's current state, for the checks "is this user joined?". */
import { errors } from '../http/errors.js';
import type { Storage } from '../storage/storage.js';

export async function currentMembership(
  storage: Storage,
  roomId: string,
  userId: string,
): Promise<string | undefined> {
  const pair = { type: 'm.room.member', stateKey: userId };
  const [eventId] = (await storage.rooms.currentStateIdsFor(roomId, [pair])).values();
  const event = eventId === undefined ? undefined : await storage.rooms.getEvent(eventId);
  const membership = event?.pdu.content.membership;
  return typeof membership === 'string' ? membership : undefined;
}

/** 403 unless the user is joined to the room (an unknown room too, as Synapse). */
export async function requireJoined(storage: Storage, roomId: string, userId: string) {
  if ((await currentMembership(storage, roomId, userId)) !== 'join') {
    throw errors.forbidden('You are not joined to this room');
  }
}
