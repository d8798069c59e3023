/**
 * What a push notification tells about its event besides the event itself:
 * the sender's display name, the room's name and alias (from the room's
 * current state, as the gateway shows them now), and whether the user is the
 * subject of a member event.
 */
import { stateMapKey } from '../events/auth/auth-state.js';
import type { RoomStateReader } from '../storage/readers.js';
import type { EventRecord } from '../storage/storage.js';
import type { EventDetails } from './push-gateway.js';

function stringField(content: Record<string, unknown> | undefined, key: string) {
  const value = content?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export async function eventDetails(
  storage: { rooms: RoomStateReader },
  event: EventRecord,
  userId: string,
): Promise<EventDetails> {
  const { pdu } = event;
  const wanted = [
    { type: 'm.room.member', stateKey: pdu.sender },
    { type: 'm.room.name', stateKey: '' },
    { type: 'm.room.canonical_alias', stateKey: '' },
  ];
  const ids = await storage.rooms.currentStateIdsFor(event.roomId, wanted);
  const byKey = new Map(
    (await storage.rooms.getEvents([...ids.values()])).map((e) => [
      stateMapKey(e.pdu.type, e.pdu.state_key ?? ''),
      e.pdu.content,
    ]),
  );
  const details: EventDetails = {
    eventId: event.eventId,
    roomId: event.roomId,
    type: pdu.type,
    sender: pdu.sender,
    content: pdu.content,
    userIsTarget: pdu.type === 'm.room.member' && pdu.state_key === userId,
  };
  const senderName = stringField(
    byKey.get(stateMapKey('m.room.member', pdu.sender)),
    'displayname',
  );
  const roomName = stringField(byKey.get(stateMapKey('m.room.name', '')), 'name');
  const roomAlias = stringField(byKey.get(stateMapKey('m.room.canonical_alias', '')), 'alias');
  if (senderName !== undefined) details.senderDisplayName = senderName;
  if (roomName !== undefined) details.roomName = roomName;
  if (roomAlias !== undefined) details.roomAlias = roomAlias;
  return details;
}
