/** Rule 1: `m.room.create`, and rule 2 of v12 (the room ID is the create event's). */
import { ROOM_VERSIONS, type RoomVersion } from '../room-versions.js';
import type { Pdu, StoredEvent } from '../pdu.js';
import { isValidUserId, serverNameOf } from './ids.js';
import { ALLOWED, type AuthResult, refused } from './result.js';

/** Rule 1: the create event stands alone; its content must be sound for the version. */
export function authorizeCreate(event: Pdu, version: RoomVersion): AuthResult {
  return (
    refuseWithPrevEvents(event) ??
    refuseBadRoomId(event, version) ??
    refuseUnknownRoomVersion(event) ??
    refuseMissingCreator(event, version) ??
    refuseBadAdditionalCreators(event, version) ??
    ALLOWED
  );
}

/** 1.1 */
function refuseWithPrevEvents(event: Pdu): AuthResult | undefined {
  if (event.prev_events.length === 0) return undefined;
  return refused('1.1 create: has prev_events', 'The create event must have no prev_events');
}

/** 1.2: v12 forbids a `room_id`; earlier versions require its domain to be the sender's. */
function refuseBadRoomId(event: Pdu, version: RoomVersion): AuthResult | undefined {
  if (version.roomIdFromCreateEvent) {
    if (event.room_id === undefined) return undefined;
    return refused('1.2 create: has room_id', 'The create event of this version has no room_id');
  }
  const roomServer = event.room_id === undefined ? undefined : serverNameOf(event.room_id);
  if (roomServer !== undefined && roomServer === serverNameOf(event.sender)) return undefined;
  return refused('1.2 create: room_id domain', "The room ID's domain must be the sender's domain");
}

/** 1.3 */
function refuseUnknownRoomVersion(event: Pdu): AuthResult | undefined {
  const roomVersion = event.content.room_version;
  if (roomVersion === undefined) return undefined;
  if (typeof roomVersion === 'string' && ROOM_VERSIONS.has(roomVersion)) return undefined;
  return refused(
    '1.3 create: unknown room_version',
    `Room version ${String(roomVersion)} is not recognised`,
  );
}

/** 1.4 of v10: `content.creator` is required until v11 made the sender the creator. */
function refuseMissingCreator(event: Pdu, version: RoomVersion): AuthResult | undefined {
  if (version.creatorIsCreateSender || event.content.creator !== undefined) return undefined;
  return refused('1.4 create: no creator', 'content.creator is required in this room version');
}

/** 1.4 of v12: `additional_creators`, when present, is an array of valid user IDs. */
function refuseBadAdditionalCreators(event: Pdu, version: RoomVersion): AuthResult | undefined {
  const additional = event.content.additional_creators;
  if (!version.additionalCreators || additional === undefined) return undefined;
  const valid =
    Array.isArray(additional) &&
    additional.every((id) => typeof id === 'string' && isValidUserId(id));
  if (valid) return undefined;
  return refused(
    '1.4 create: bad additional_creators',
    'additional_creators must be an array of valid user IDs',
  );
}

/** The room ID a v12 create event gives its room: its event ID with `!` for `$`. */
export function roomIdFromCreateEventId(createEventId: string): string {
  return `!${createEventId.slice(1)}`;
}

/** Rule 2 of v12: the event's room ID must be the (accepted) create event's ID with `!`. */
export function refuseForeignRoomId(
  event: Pdu,
  create: StoredEvent,
  version: RoomVersion,
): AuthResult | undefined {
  if (!version.roomIdFromCreateEvent) return undefined;
  if (event.room_id === roomIdFromCreateEventId(create.eventId)) return undefined;
  return refused('2 room_id: not the create event', "The room ID is not the create event's ID");
}
