/**
 * The authorization rules of room versions 10, 11 and 12 (rooms/v10…v12,
 * "Authorization rules"), as a pure function of the event, the state it is
 * checked against and the room version. No storage, no I/O: the caller builds
 * the AuthState (from the event's auth events, the state before it, or the
 * current state) and injects signature checks. Rule numbers in refusals are
 * those of the version's own list.
 *
 * Outside this module: "events must be signed by the sender's server", hashes,
 * rule 2.3/3.3 (auth events that were rejected), and the later redaction check.
 */
import type { RoomVersion } from './room-versions.js';
import { namedLevel, powerLevelOf, requiredLevelForEvent } from './power-levels.js';
import { isStateEvent, type Pdu, type StoredEvent } from './pdu.js';
import { checkAuthEvents } from './auth/auth-events.js';
import {
  type AuthState,
  CREATE,
  createEventOf,
  MEMBER,
  membershipOf,
  POWER_LEVELS,
  THIRD_PARTY_INVITE,
} from './auth/auth-state.js';
import { authorizeCreate, refuseForeignRoomId } from './auth/create.js';
import { serverNameOf } from './auth/ids.js';
import { authorizeMember } from './auth/membership.js';
import { authorizePowerLevels } from './auth/power-levels-change.js';
import { ALLOWED, type AuthResult, refused, refusedBy } from './auth/result.js';
import type { SignatureVerifier } from './auth/verifier.js';

export type { AuthResult } from './auth/result.js';
export type { AuthState } from './auth/auth-state.js';
export type { SignatureVerifier } from './auth/verifier.js';
export { authStateOf, splitStateMapKey, stateMapKey, stateMapKeyType } from './auth/auth-state.js';
export { authEventTypesFor, checkAuthEvents, type StatePair } from './auth/auth-events.js';
export { roomIdFromCreateEventId } from './auth/create.js';
export { canRedact, shouldApplyRedaction } from './auth/redaction.js';

export interface AuthOptions {
  /** The event's auth events; when given, rules 2.1, 2.2, 2.4 (v12: 3.1, 3.2, 3.5) are checked. */
  authEvents?: readonly StoredEvent[];
  /** Signature checks for `join_authorised_via_users_server` and third-party invites; without it those are refused. */
  verifier?: SignatureVerifier;
}

export function authorizeEvent(
  event: Pdu,
  authState: AuthState,
  version: RoomVersion,
  options: AuthOptions = {},
): AuthResult {
  if (event.type === CREATE) return authorizeCreate(event, version); // 1
  const create = createEventOf(authState);
  if (!create) return refuseWithoutCreate(version);
  return (
    refuseForeignRoomId(event, create, version) ?? // v12 rule 2
    refuseBadAuthEvents(event, version, options.authEvents) ?? // 2 (v12: 3)
    refuseUnfederated(event, create, version) ?? // 3
    authorizeByType(event, authState, version, options)
  );
}

/** No create event to authorise against: rule 2.4 (v12: rule 2, no accepted create event). */
function refuseWithoutCreate(version: RoomVersion): AuthResult {
  if (version.roomIdFromCreateEvent) {
    return refused(
      '2 room_id: not the create event',
      'The room has no accepted m.room.create event',
    );
  }
  return refused('2.4 auth events: no create event', 'The room has no m.room.create event');
}

function refuseBadAuthEvents(
  event: Pdu,
  version: RoomVersion,
  authEvents: readonly StoredEvent[] | undefined,
): AuthResult | undefined {
  if (!authEvents) return undefined;
  const result = checkAuthEvents(event, authEvents, version);
  return result.allowed ? undefined : result;
}

/** 3 (v12: 4): `m.federate: false` keeps other servers' users out. */
function refuseUnfederated(
  event: Pdu,
  create: StoredEvent,
  version: RoomVersion,
): AuthResult | undefined {
  if (create.pdu.content['m.federate'] !== false) return undefined;
  if (serverNameOf(event.sender) === serverNameOf(create.pdu.sender)) return undefined;
  return refusedBy(version, '3', 'm.federate: other server', 'This room is not federated');
}

/** Rules 4–10 (v12: 5–11). */
function authorizeByType(
  event: Pdu,
  state: AuthState,
  version: RoomVersion,
  options: AuthOptions,
): AuthResult {
  if (event.type === MEMBER) return authorizeMember(event, state, version, options.verifier); // 4
  if (membershipOf(state, event.sender) !== 'join') {
    return refusedBy(version, '5', 'sender not joined', `${event.sender} is not in the room`);
  }
  const senderLevel = powerLevelOf(event.sender, state, version);
  if (event.type === THIRD_PARTY_INVITE)
    return authorizeThirdPartyInviteEvent(senderLevel, state, version); // 6
  return (
    refuseBelowRequiredLevel(event, senderLevel, state, version) ?? // 7
    refuseOthersStateKey(event, version) ?? // 8
    (event.type === POWER_LEVELS && isStateEvent(event)
      ? authorizePowerLevels(event, state, version) // 9
      : ALLOWED) // 10
  );
}

/** 6.1: only the invite level may send `m.room.third_party_invite`. */
function authorizeThirdPartyInviteEvent(
  senderLevel: number,
  state: AuthState,
  version: RoomVersion,
): AuthResult {
  if (senderLevel >= namedLevel('invite', state, version)) return ALLOWED;
  return refusedBy(
    version,
    '6.1',
    'third_party_invite: below invite level',
    'Sending a third-party invite needs the invite level',
  );
}

/** 7 */
function refuseBelowRequiredLevel(
  event: Pdu,
  senderLevel: number,
  state: AuthState,
  version: RoomVersion,
): AuthResult | undefined {
  const required = requiredLevelForEvent(event.type, isStateEvent(event), state, version);
  if (required <= senderLevel) return undefined;
  return refusedBy(
    version,
    '7',
    'below required power level',
    `${event.type} needs level ${required}, you have ${senderLevel}`,
  );
}

/** 8: a state key starting with `@` is that user's own. */
function refuseOthersStateKey(event: Pdu, version: RoomVersion): AuthResult | undefined {
  const key = event.state_key;
  if (key === undefined || !key.startsWith('@') || key === event.sender) return undefined;
  return refusedBy(version, '8', "state_key: another user's", `Only ${key} may set this state_key`);
}

/** Exposed for callers that report a refusal without an HTTP layer at hand. */
export function describeRefusal(result: AuthResult): string | undefined {
  return result.allowed ? undefined : `${result.rule}: ${result.reason}`;
}
