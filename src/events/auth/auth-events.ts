/**
 * The `auth_events` of an event: which (type, state_key) pairs they may come
 * from (server-server API, "Auth events selection") and the checks on them
 * that need no storage (rules 2.1, 2.2, 2.4 of v10/v11; 3.1, 3.2, 3.5 of v12).
 * Rule 2.3 / 3.3 (auth events that were themselves rejected) needs the
 * rejection status and is the caller's.
 */
import type { RoomVersion } from '../room-versions.js';
import type { Pdu, StoredEvent } from '../pdu.js';
import {
  CREATE,
  isObject,
  JOIN_RULES,
  MEMBER,
  POWER_LEVELS,
  stateMapKey,
  THIRD_PARTY_INVITE,
} from './auth-state.js';
import { ALLOWED, type AuthResult, refusedBy } from './result.js';

export interface StatePair {
  type: string;
  stateKey: string;
}

/** Memberships whose auth events include the join rules (see the report on `knock`). */
const MEMBERSHIPS_NEEDING_JOIN_RULES = ['join', 'invite', 'knock'];

/**
 * The (type, state_key) pairs an event's `auth_events` must be drawn from.
 * Empty for `m.room.create`; v12 never lists the create event.
 */
export function authEventTypesFor(event: Pdu, version: RoomVersion): StatePair[] {
  if (event.type === CREATE) return [];
  const pairs: StatePair[] = [];
  if (version.authEventsIncludeCreate) pairs.push({ type: CREATE, stateKey: '' });
  pairs.push({ type: POWER_LEVELS, stateKey: '' }, { type: MEMBER, stateKey: event.sender });
  if (event.type === MEMBER && event.state_key !== undefined) {
    pairs.push(...memberAuthPairs(event, event.state_key));
  }
  return dedupe(pairs);
}

function memberAuthPairs(event: Pdu, target: string): StatePair[] {
  const pairs: StatePair[] = [{ type: MEMBER, stateKey: target }];
  const { membership, third_party_invite: thirdPartyInvite } = event.content;
  const authoriser = event.content.join_authorised_via_users_server;
  if (typeof membership === 'string' && MEMBERSHIPS_NEEDING_JOIN_RULES.includes(membership)) {
    pairs.push({ type: JOIN_RULES, stateKey: '' });
  }
  if (membership === 'invite' && isObject(thirdPartyInvite)) {
    const signed = thirdPartyInvite.signed;
    const token = isObject(signed) ? signed.token : undefined;
    if (typeof token === 'string') pairs.push({ type: THIRD_PARTY_INVITE, stateKey: token });
  }
  // Only a join names an authoriser (every supported version, v10+, has restricted rooms).
  if (membership === 'join' && typeof authoriser === 'string') {
    pairs.push({ type: MEMBER, stateKey: authoriser });
  }
  return pairs;
}

function dedupe(pairs: StatePair[]): StatePair[] {
  const seen = new Set<string>();
  return pairs.filter((pair) => {
    const key = stateMapKey(pair.type, pair.stateKey);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The checks on an event's auth events (already fetched) that need nothing
 * else: no two for one pair, none outside the selection, the create event
 * among them (v10/v11), all in the same room (v12).
 */
export function checkAuthEvents(
  event: Pdu,
  authEvents: readonly StoredEvent[],
  version: RoomVersion,
): AuthResult {
  return (
    refuseDuplicates(authEvents, version) ??
    refuseUnexpected(event, authEvents, version) ??
    refuseMissingCreate(authEvents, version) ??
    refuseOtherRooms(event, authEvents, version) ??
    ALLOWED
  );
}

function pairKey(event: StoredEvent): string {
  return stateMapKey(event.pdu.type, event.pdu.state_key ?? '');
}

/** Rule 2.1 (v12: 3.1). */
function refuseDuplicates(
  authEvents: readonly StoredEvent[],
  version: RoomVersion,
): AuthResult | undefined {
  const seen = new Set<string>();
  for (const authEvent of authEvents) {
    const key = pairKey(authEvent);
    if (seen.has(key)) {
      return refusedBy(version, '2.1', 'auth events: duplicate', `Two auth events for ${key}`);
    }
    seen.add(key);
  }
  return undefined;
}

/** Rule 2.2 (v12: 3.2, where the create event is not allowed either). */
function refuseUnexpected(
  event: Pdu,
  authEvents: readonly StoredEvent[],
  version: RoomVersion,
): AuthResult | undefined {
  const allowed = new Set(
    authEventTypesFor(event, version).map((p) => stateMapKey(p.type, p.stateKey)),
  );
  const unexpected = authEvents.find(
    (e) => e.pdu.state_key === undefined || !allowed.has(pairKey(e)),
  );
  if (!unexpected) return undefined;
  return refusedBy(
    version,
    '2.2',
    'auth events: unexpected entry',
    `Auth event ${unexpected.eventId} (${pairKey(unexpected)}) is not one the selection allows`,
  );
}

/** Rule 2.4 (v10/v11 only). */
function refuseMissingCreate(
  authEvents: readonly StoredEvent[],
  version: RoomVersion,
): AuthResult | undefined {
  if (!version.authEventsIncludeCreate) return undefined;
  const hasCreate = authEvents.some((e) => e.pdu.type === CREATE && e.pdu.state_key === '');
  if (hasCreate) return undefined;
  return refusedBy(version, '2.4', 'auth events: no create event', 'No m.room.create auth event');
}

/**
 * Rule 2.5 (v12: 3.5): an auth event from another room. Spelt out first for
 * v12, then added to every version's rules (MSC4307); Synapse checks it for
 * all versions too.
 */
function refuseOtherRooms(
  event: Pdu,
  authEvents: readonly StoredEvent[],
  version: RoomVersion,
): AuthResult | undefined {
  const stranger = authEvents.find((e) => e.pdu.room_id !== event.room_id);
  if (!stranger) return undefined;
  return refusedBy(
    version,
    '2.5',
    'auth events: other room',
    `Auth event ${stranger.eventId} is in another room`,
  );
}
