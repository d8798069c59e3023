/**
 * The room state the authorization rules read: a map from (type, state_key) to
 * the state event, built by the caller from an event's auth events or from the
 * room's current state. Pure: nothing here touches storage.
 */
import type { RoomVersion } from '../room-versions.js';
import { pairKey, splitPairKey } from '../../util/pair-key.js';
import type { JsonObject, JsonValue, StoredEvent } from '../pdu.js';

export type AuthState = ReadonlyMap<string, StoredEvent>;

export const CREATE = 'm.room.create';
export const MEMBER = 'm.room.member';
export const POWER_LEVELS = 'm.room.power_levels';
export const JOIN_RULES = 'm.room.join_rules';
export const THIRD_PARTY_INVITE = 'm.room.third_party_invite';

/** The map key of a (type, state_key) pair (built for every state lookup: see pairKey). */
export function stateMapKey(type: string, stateKey: string): string {
  return pairKey(type, stateKey);
}

/** The (type, state_key) pair a `stateMapKey` names. */
export function splitStateMapKey(key: string): { type: string; stateKey: string } {
  const [type, stateKey] = splitPairKey(key);
  return { type, stateKey };
}

/** The event type of a `stateMapKey`. */
export function stateMapKeyType(key: string): string {
  return splitStateMapKey(key).type;
}

/** Builds an AuthState from state events (a later event for the same pair wins). */
export function authStateOf(events: Iterable<StoredEvent>): AuthState {
  const state = new Map<string, StoredEvent>();
  for (const event of events) {
    if (event.pdu.state_key === undefined) continue;
    state.set(stateMapKey(event.pdu.type, event.pdu.state_key), event);
  }
  return state;
}

export function stateEvent(state: AuthState, type: string, stateKey = ''): StoredEvent | undefined {
  return state.get(stateMapKey(type, stateKey));
}

export function createEventOf(state: AuthState): StoredEvent | undefined {
  return stateEvent(state, CREATE);
}

export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A user's current membership (`join`, `invite`, `leave`, `ban`, `knock`), or undefined if none. */
export function membershipOf(state: AuthState, userId: string): string | undefined {
  const membership = stateEvent(state, MEMBER, userId)?.pdu.content.membership;
  return typeof membership === 'string' ? membership : undefined;
}

/**
 * The room's join rule. Without an `m.room.join_rules` event the room is
 * treated as `invite`, as Synapse does (the spec does not say).
 */
export function joinRuleOf(state: AuthState): string {
  const rule = stateEvent(state, JOIN_RULES)?.pdu.content.join_rule;
  return typeof rule === 'string' ? rule : 'invite';
}

/**
 * The room's creators: `content.creator` (v10), the create event's sender
 * (v11+), plus the valid entries of `additional_creators` (v12).
 */
export function roomCreators(state: AuthState, version: RoomVersion): string[] {
  const create = createEventOf(state)?.pdu;
  if (!create) return [];
  if (!version.creatorIsCreateSender) {
    return typeof create.content.creator === 'string' ? [create.content.creator] : [];
  }
  const additional = version.additionalCreators ? create.content.additional_creators : undefined;
  const extra = Array.isArray(additional)
    ? additional.filter((id): id is string => typeof id === 'string')
    : [];
  return [create.sender, ...extra];
}

/**
 * The user whose first join right after the create event is allowed (rule
 * 4.3.1): `content.creator` in v10, the create event's sender from v11 (in v12
 * only the sender, not the additional creators).
 */
export function firstJoiner(state: AuthState, version: RoomVersion): string | undefined {
  const create = createEventOf(state)?.pdu;
  if (!create) return undefined;
  if (version.creatorIsCreateSender) return create.sender;
  return typeof create.content.creator === 'string' ? create.content.creator : undefined;
}
