/**
 * The iterative auth checks (rooms/v2, "Definitions"): each event in turn is
 * authorised against the state built so far and enters it if allowed.
 */
import type { RoomVersion } from '../room-versions.js';
import { authorizeEvent, type SignatureVerifier } from '../auth-rules.js';
import { authEventTypesFor } from '../auth/auth-events.js';
import { CREATE, isObject, stateMapKey } from '../auth/auth-state.js';
import type { JsonObject, StoredEvent } from '../pdu.js';
import { verifyJsonSignature } from '../signing.js';
import type { EventGraph } from './event-graph.js';

/**
 * Applies `eventIds` in order to `state` (changed in place and returned). The
 * state an event is checked against is its own auth events (those we hold),
 * overlaid with the resolved state's events for the pairs the auth rules read
 * for it (always the create event among them), as Synapse and Ruma build it.
 * A non-state event, or one the rules refuse, is left out. O(c · a) for c
 * events of at most a auth pairs.
 */
export function iterativeAuthChecks(
  eventIds: readonly string[],
  state: Map<string, string>,
  graph: EventGraph,
  version: RoomVersion,
  verifier: SignatureVerifier,
): Map<string, string> {
  for (const id of eventIds) {
    const event = graph.get(id);
    const stateKey = event?.pdu.state_key;
    if (!event || stateKey === undefined) continue;
    if (isAllowed(event, authStateFor(event, state, graph, version), version, verifier)) {
      state.set(stateMapKey(event.pdu.type, stateKey), id);
    }
  }
  return state;
}

function authStateFor(
  event: StoredEvent,
  state: ReadonlyMap<string, string>,
  graph: EventGraph,
  version: RoomVersion,
): Map<string, StoredEvent> {
  const authState = new Map<string, StoredEvent>();
  for (const authId of graph.authIds(event)) {
    const authEvent = graph.get(authId);
    const stateKey = authEvent?.pdu.state_key;
    if (authEvent && stateKey !== undefined) {
      authState.set(stateMapKey(authEvent.pdu.type, stateKey), authEvent);
    }
  }
  const keys = authEventTypesFor(event.pdu, version).map((p) => stateMapKey(p.type, p.stateKey));
  keys.push(stateMapKey(CREATE, ''));
  for (const key of keys) {
    const resolvedId = state.get(key);
    const resolved = resolvedId === undefined ? undefined : graph.get(resolvedId);
    if (resolved) authState.set(key, resolved);
  }
  return authState;
}

function isAllowed(
  event: StoredEvent,
  authState: ReadonlyMap<string, StoredEvent>,
  version: RoomVersion,
  verifier: SignatureVerifier,
): boolean {
  try {
    return authorizeEvent(event.pdu, authState, version, { verifier }).allowed;
  } catch {
    // Content too malformed for the rules to read is refused, as any refusal: not state.
    return false;
  }
}

/**
 * The signature checks the auth rules ask for during state resolution.
 * Rule 4.2.1 (a restricted join signed by the authorising user's server)
 * reads only the event's own signatures, which were verified when the event
 * was received (one that failed was never stored): the state being resolved
 * cannot change that answer, so it is accepted. Rule 4.4.1.7 (a third-party
 * invite's `signed` block against the public keys of the
 * `m.room.third_party_invite` event) depends on which invite event the
 * resolved state holds, so it is checked here.
 */
export const STATE_RESOLUTION_VERIFIER: SignatureVerifier = {
  isSignedBy: () => true,
  isSignedByAnyKey: signedByAnyKey,
};

function signedByAnyKey(signed: JsonObject, publicKeys: readonly string[]): boolean {
  const signatures = signed.signatures;
  if (!isObject(signatures)) return false;
  for (const [server, byServer] of Object.entries(signatures)) {
    if (!isObject(byServer)) continue;
    for (const keyId of Object.keys(byServer)) {
      if (publicKeys.some((key) => verifiesQuietly(signed, server, keyId, key))) return true;
    }
  }
  return false;
}

function verifiesQuietly(signed: JsonObject, server: string, keyId: string, key: string): boolean {
  try {
    return verifyJsonSignature(signed, server, keyId, key);
  } catch {
    return false; // no canonical JSON form: not a valid signature
  }
}
