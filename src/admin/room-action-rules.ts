/**
 * Pure rules of the Admin API's room actions (Synapse's join, make_room_admin
 * and forward_extremities): room identifiers, who sends the new power levels,
 * what they grant, and the shape of the extremities answer. Synapse is the
 * model throughout, since the spec has no Admin API.
 */
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';

/** A room named by ID (`!…`) or by alias (`#…`), as Synapse's resolve_room_id tells them apart. */
export type RoomIdentifier = { roomId: string } | { alias: string };

export function parseRoomIdentifier(identifier: string): RoomIdentifier {
  const colon = identifier.indexOf(':');
  if (identifier.startsWith('!') && identifier.length > 1) return { roomId: identifier };
  if (identifier.startsWith('#') && colon > 1 && colon < identifier.length - 1) {
    return { alias: identifier };
  }
  throw errors.invalidParam(`${identifier} was not legal room ID or room alias`);
}

/** What make_room_admin reads of the room's current state. */
export interface PowerState {
  /** The m.room.power_levels content; undefined when the room has none. */
  powerLevels: JsonObject | undefined;
  /** The create event's sender. */
  createSender: string;
  /** The v12 creators (infinite power, never in `users`); empty before v12. */
  creatorsWithInfinitePower: readonly string[];
}

/**
 * The local users who might send the new power levels, the most powerful first:
 * the v12 creators, then the `users` entries by level. Synapse's order; the
 * caller takes the first one who is joined. Without power levels only the
 * creator has power (and Synapse does not check their membership).
 */
export function roomAdminCandidates(state: PowerState, isLocal: (userId: string) => boolean) {
  if (!state.powerLevels) return isLocal(state.createSender) ? [state.createSender] : [];
  const users = usersOf(state.powerLevels);
  const byLevel = Object.keys(users)
    .filter(isLocal)
    .sort((a, b) => levelOf(users[b]) - levelOf(users[a]));
  const creators = state.creatorsWithInfinitePower.filter(isLocal);
  return [...creators, ...byLevel.filter((userId) => !creators.includes(userId))];
}

/**
 * The power levels with `target` raised to the sender's level; 100 when the
 * sender has no entry (a v12 creator, or a room without power levels), as
 * Synapse does.
 */
export function grantedPowerLevels(
  powerLevels: JsonObject | undefined,
  sender: string,
  target: string,
): JsonObject {
  const content: JsonObject = { ...(powerLevels ?? {}) };
  const users = { ...usersOf(powerLevels) };
  const senderLevel = users[sender];
  users[target] = typeof senderLevel === 'number' ? senderLevel : 100;
  content.users = users;
  return content;
}

/** An extremity as storage lists it (the fields of ForwardExtremityRecord the answer shows). */
export interface ExtremityRow {
  eventId: string;
  stateGroup: number;
  depth: number;
}

/** Synapse's forward_extremities answer; `received_ts` is the event's origin_server_ts here (all are local). */
export function forwardExtremitiesJson(
  extremities: readonly ExtremityRow[],
  receivedTs: ReadonlyMap<string, number>,
): JsonObject {
  return {
    count: extremities.length,
    results: extremities.map((e) => ({
      event_id: e.eventId,
      state_group: e.stateGroup,
      depth: e.depth,
      received_ts: receivedTs.get(e.eventId) ?? null,
    })),
  };
}

function usersOf(powerLevels: JsonObject | undefined): JsonObject {
  const users = powerLevels?.users;
  return typeof users === 'object' && users !== null && !Array.isArray(users) ? users : {};
}

function levelOf(value: JsonValue | undefined): number {
  return typeof value === 'number' ? value : 0;
}
