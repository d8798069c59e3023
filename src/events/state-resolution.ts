/**
 * State resolution v2 (rooms/v2, room versions 2–11) and v2.1 (rooms/v12,
 * MSC4297): the room state before an event whose `prev_events` disagree,
 * from the states after each of them. Pure: events come from the caller's
 * `loadEvents`, which is called in batches (one call per layer of the auth
 * DAG) and cached within the call.
 *
 * Cost, for n entries across the state sets, V events (E auth links)
 * reachable from them, c events in the full conflicted set:
 * - no conflict: O(n), a map copy, no event read;
 * - otherwise: O(n) to split the state, O(V + E) to load (in L calls, L the
 *   longest auth path) and walk the auth DAG for the auth difference and the
 *   conflicted subgraph, O(c log c) for the orderings, O(c) auth checks.
 *   The unconflicted state costs map copies only, never an auth check.
 *
 * Events rejected on receipt are the caller's concern: `loadEvents` should
 * not return them (their rejection status does not travel with StoredEvent).
 */
import type { RoomVersion } from './room-versions.js';
import type { SignatureVerifier } from './auth-rules.js';
import { POWER_LEVELS, stateMapKey } from './auth/auth-state.js';
import type { StoredEvent } from './pdu.js';
import { fullConflictedSet, isPowerEvent, separateStates } from './state-resolution/conflicts.js';
import { EventGraph, type EventLoader } from './state-resolution/event-graph.js';
import {
  iterativeAuthChecks,
  STATE_RESOLUTION_VERIFIER,
} from './state-resolution/iterative-auth.js';
import { compareIds, mainlineOrder, reversePowerOrder } from './state-resolution/ordering.js';

export type { EventLoader } from './state-resolution/event-graph.js';
export { STATE_RESOLUTION_VERIFIER } from './state-resolution/iterative-auth.js';

export interface StateResolutionInput {
  version: RoomVersion;
  /** The states to merge: maps stateMapKey(type, state_key) → event ID (StateIds, see src/events/records.ts). */
  stateSets: ReadonlyMap<string, string>[];
  /** Loads events by ID (state events, their auth events, transitively); missing IDs are left out. */
  loadEvents(eventIds: string[]): Promise<StoredEvent[]>;
  /** The auth rules' signature checks; STATE_RESOLUTION_VERIFIER unless given. */
  verifier?: SignatureVerifier;
}

const POWER_LEVELS_KEY = stateMapKey(POWER_LEVELS, '');

/** The resolved state: stateMapKey(type, state_key) → event ID. */
export async function resolveState(input: StateResolutionInput): Promise<Map<string, string>> {
  const { version, stateSets } = input;
  const separated = separateStates(stateSets);
  if (separated.conflicted.size === 0) return separated.unconflicted;

  const graph = new EventGraph((ids) => input.loadEvents(ids), version);
  await graph.loadWithAuthChains(stateSets.flatMap((set) => [...set.values()]));
  const full = fullConflictedSet(stateSets, separated, graph, version);
  const verifier = input.verifier ?? STATE_RESOLUTION_VERIFIER;

  // 1–2: the power events (and what of their auth chains is conflicted), by
  // power; v2.1 builds on their auth events alone, v2 on the unconflicted state.
  const powerEvents = [...full].filter((id) => isPowerEvent(graph.get(id) as StoredEvent));
  const powerOrder = reversePowerOrder(powerEvents, full, graph, version);
  const base = version.stateResolution === 'v2.1' ? new Map() : new Map(separated.unconflicted);
  const partial = iterativeAuthChecks(powerOrder, base, graph, version, verifier);

  // 3–4: the rest, along the mainline of the power levels just resolved.
  const ordered = new Set(powerOrder);
  const others = [...full].filter((id) => !ordered.has(id));
  const mainline = mainlineOrder(others, partial.get(POWER_LEVELS_KEY), graph);
  const resolved = iterativeAuthChecks(mainline, partial, graph, version, verifier);

  // 5: the unconflicted state always holds.
  for (const [key, eventId] of separated.unconflicted) resolved.set(key, eventId);
  return resolved;
}

/**
 * The auth chain of these events (what federation's send_join and
 * /event_auth return): their auth events, those events' auth events, and so
 * on, as far as `loadEvents` holds them; the given events only if one of them
 * is in another's chain. Oldest first (by depth, then event ID). In v12 the
 * create event named by the room ID is part of every chain; without
 * `version` the room ID's form tells.
 */
export async function authChain(
  eventIds: readonly string[],
  loadEvents: EventLoader,
  version?: RoomVersion,
): Promise<StoredEvent[]> {
  const graph = new EventGraph(loadEvents, version);
  await graph.loadWithAuthChains(eventIds);
  const chain = [...graph.authChainOf(eventIds)].map((id) => graph.get(id) as StoredEvent);
  return chain.sort((a, b) => a.pdu.depth - b.pdu.depth || compareIds(a.eventId, b.eventId));
}

/** S′(E): the state after an event, from the state before it (a state event replaces its own pair). */
export function stateAfter(
  event: StoredEvent,
  stateBefore: ReadonlyMap<string, string>,
): Map<string, string> {
  const after = new Map(stateBefore);
  const { type, state_key: stateKey } = event.pdu;
  if (stateKey !== undefined) after.set(stateMapKey(type, stateKey), event.eventId);
  return after;
}
