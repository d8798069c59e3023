/**
 * Which room events, ephemeral events and to-device messages an application
 * service is to receive (pure). As Synapse's ApplicationService.is_interested_in_*
 * (synapse/appservice/__init__.py): an event is of interest when its sender, or
 * the user a membership event is about, is the service's user or in its user
 * namespaces; or when its room is: the room ID in its room namespaces, one of the
 * room's aliases in its alias namespaces, or one of its users joined to the room.
 *
 * What a room is (aliases, joined namespaced users) is the caller's knowledge,
 * kept per room and rolled forward from membership and alias events
 * (RoomInterest below), so deciding costs no member scan per event.
 */
import type { AppServiceRegistration } from '../domain/appservice.js';
import { inNamespace, mayActAs } from './registration-rules.js';

/** The parts of a room event the rules read. */
export interface InterestEvent {
  roomId: string;
  type: string;
  sender: string;
  stateKey?: string;
  content: Record<string, unknown>;
}

/** What is known of a room for one service. */
export interface RoomInterest {
  /** The room's local aliases (the directory's), as loaded. */
  localAliases: Set<string>;
  /** Its m.room.canonical_alias: alias and alt_aliases. */
  canonicalAliases: string[];
  /** The service's users (its sender, namespaced users) joined to the room now. */
  joinedUsers: Set<string>;
}

/** Whether the service wants to hear of this user: its own user or one in its namespaces. */
export function interestedInUser(
  registration: AppServiceRegistration,
  userId: string,
  serverName: string,
): boolean {
  // The users a service hears of are the users it may act as.
  return mayActAs(registration, userId, serverName);
}

/** Whether the room as known interests the service (its ID, an alias, a joined user of its). */
export function interestedInRoom(
  registration: AppServiceRegistration,
  roomId: string,
  room: RoomInterest,
): boolean {
  if (inNamespace(registration, 'rooms', roomId)) return true;
  if (room.joinedUsers.size > 0) return true;
  const inAliases = (alias: string) => inNamespace(registration, 'aliases', alias);
  return [...room.localAliases].some(inAliases) || room.canonicalAliases.some(inAliases);
}

/** Whether the event is one for the service, the room as known BEFORE the event. */
export function interestedInEvent(
  registration: AppServiceRegistration,
  event: InterestEvent,
  room: RoomInterest,
  serverName: string,
): boolean {
  if (interestedInUser(registration, event.sender, serverName)) return true;
  if (
    event.type === 'm.room.member' &&
    event.stateKey !== undefined &&
    interestedInUser(registration, event.stateKey, serverName)
  ) {
    return true;
  }
  return interestedInRoom(registration, event.roomId, room);
}

/**
 * Rolls the room's knowledge forward over one of its events: a service user's
 * join or departure, a new canonical alias. Local directory aliases do not come
 * as events: the caller adds them when it loads the room.
 */
export function applyToRoomInterest(
  registration: AppServiceRegistration,
  room: RoomInterest,
  event: InterestEvent,
  serverName: string,
): void {
  if (event.type === 'm.room.member' && event.stateKey !== undefined) {
    if (!interestedInUser(registration, event.stateKey, serverName)) return;
    if (event.content.membership === 'join') room.joinedUsers.add(event.stateKey);
    else room.joinedUsers.delete(event.stateKey);
  } else if (event.type === 'm.room.canonical_alias' && event.stateKey === '') {
    room.canonicalAliases = canonicalAliases(event.content);
  }
}

/** The aliases an m.room.canonical_alias content names (alias, alt_aliases), valid or not. */
export function canonicalAliases(content: Record<string, unknown>): string[] {
  const aliases: string[] = [];
  if (typeof content.alias === 'string') aliases.push(content.alias);
  if (Array.isArray(content.alt_aliases)) {
    for (const alias of content.alt_aliases) if (typeof alias === 'string') aliases.push(alias);
  }
  return aliases;
}
