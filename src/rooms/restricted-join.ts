/**
 * Joining a restricted room (`restricted`, `knock_restricted`): a user who is
 * in one of the rooms the join rule allows may join without an invite, the
 * join naming a member who could have invited them (auth rule 4.3.5.2), and
 * this server vouching for it with its signature (rule 4.2.1).
 */
import { authStateOf, splitStateMapKey, stateMapKey } from '../events/auth-rules.js';
import { joinRuleOf, membershipOf, type AuthState } from '../events/auth/auth-state.js';
import type { JsonObject } from '../events/pdu.js';
import { namedLevel, powerLevelOf } from '../events/power-levels.js';
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import { roomVersion, type RoomVersion } from '../events/room-versions.js';

/** The join state of the room, and the rooms the joining user is in. */
export interface RestrictedJoinStorage {
  rooms: RoomStateReader & MembershipReader;
}

/** The rooms whose members a restricted join rule lets in (`m.room_membership` conditions). */
export function allowedRoomIds(joinRules: JsonObject | undefined): string[] {
  const allow = joinRules?.allow;
  if (!Array.isArray(allow)) return [];
  return allow.flatMap((entry) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return [];
    const ok = entry.type === 'm.room_membership' && typeof entry.room_id === 'string';
    return ok ? [entry.room_id as string] : [];
  });
}

export function isRestrictedJoinRule(joinRule: string | undefined, version: RoomVersion): boolean {
  if (joinRule === 'restricted') return true;
  return joinRule === 'knock_restricted' && version.knockRestrictedJoinRule;
}

/**
 * The user to name in `join_authorised_via_users_server` when `userId` joins
 * the room through its restricted join rule; undefined when the join needs
 * none (another join rule, already invited or joined) or none can be given
 * (the user is in no allowed room: the auth rules then refuse the join).
 */
export async function restrictedJoinAuthoriser(
  storage: RestrictedJoinStorage,
  roomId: string,
  userId: string,
): Promise<string | undefined> {
  const room = await storage.rooms.getRoom(roomId);
  if (!room) return undefined;
  const version = roomVersion(room.version);
  const state = await joinState(storage, roomId);
  if (!isRestrictedJoinRule(joinRuleOf(state), version)) return undefined;
  const current = membershipOf(state, userId);
  if (current === 'join' || current === 'invite') return undefined;
  const joinRules = state.get(stateMapKey('m.room.join_rules', ''))?.pdu.content;
  const joined = new Set(await storage.rooms.roomsWithMembership(userId, 'join'));
  if (!allowedRoomIds(joinRules).some((id) => joined.has(id))) return undefined;
  return mostPowerfulInviter(state, version);
}

/** Create, power levels, join rules and every member event of the current state. */
async function joinState(storage: RestrictedJoinStorage, roomId: string): Promise<AuthState> {
  const ids = await storage.rooms.currentStateIds(roomId);
  const wanted = [...ids].filter(([key]) => {
    const { type, stateKey } = splitStateMapKey(key);
    return type === 'm.room.member' || (stateKey === '' && JOIN_STATE_TYPES.includes(type));
  });
  return authStateOf(await storage.rooms.getEvents(wanted.map(([, eventId]) => eventId)));
}

const JOIN_STATE_TYPES = ['m.room.create', 'm.room.power_levels', 'm.room.join_rules'];

/** The joined member with the most power, if it reaches the invite level. */
function mostPowerfulInviter(state: AuthState, version: RoomVersion): string | undefined {
  const inviteLevel = namedLevel('invite', state, version);
  let best: { userId: string; level: number } | undefined;
  for (const event of state.values()) {
    const userId = event.pdu.state_key;
    if (event.pdu.type !== 'm.room.member' || userId === undefined) continue;
    if (event.pdu.content.membership !== 'join') continue;
    const level = powerLevelOf(userId, state, version);
    if (level >= inviteLevel && (!best || level > best.level)) best = { userId, level };
  }
  return best?.userId;
}
