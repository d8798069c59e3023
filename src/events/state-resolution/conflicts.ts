/**
 * What state resolution has to decide (rooms/v2 and v12, "Definitions"): the
 * unconflicted state map, the conflicted state set, the auth difference, the
 * conflicted state subgraph (v2.1) and the full conflicted set.
 */
import type { RoomVersion } from '../room-versions.js';
import type { StoredEvent } from '../pdu.js';
import type { EventGraph } from './event-graph.js';

export interface SeparatedState {
  /** The pairs every state set holds with the same event. */
  unconflicted: Map<string, string>;
  /** For every other key, the events the state sets hold for it (a key missing from some set is conflicted too). */
  conflicted: Map<string, Set<string>>;
}

/** O(n) map operations for the n entries of all state sets; no event is read. */
export function separateStates(stateSets: readonly ReadonlyMap<string, string>[]): SeparatedState {
  const unconflicted = new Map<string, string>();
  const conflicted = new Map<string, Set<string>>();
  const [first, ...others] = stateSets;
  if (!first) return { unconflicted, conflicted };
  for (const [key, eventId] of first) {
    if (others.every((set) => set.get(key) === eventId)) unconflicted.set(key, eventId);
    else conflicted.set(key, valuesOf(stateSets, key));
  }
  for (const set of others) {
    for (const key of set.keys()) {
      if (!first.has(key) && !conflicted.has(key)) conflicted.set(key, valuesOf(stateSets, key));
    }
  }
  return { unconflicted, conflicted };
}

function valuesOf(stateSets: readonly ReadonlyMap<string, string>[], key: string): Set<string> {
  const values = new Set<string>();
  for (const set of stateSets) {
    const eventId = set.get(key);
    if (eventId !== undefined) values.add(eventId);
  }
  return values;
}

/**
 * The full conflicted set: the conflicted events, the auth difference and in
 * v2.1 the conflicted state subgraph, limited to the events the graph holds
 * (a missing event cannot be checked, so it takes no part).
 */
export function fullConflictedSet(
  stateSets: readonly ReadonlyMap<string, string>[],
  separated: SeparatedState,
  graph: EventGraph,
  version: RoomVersion,
): Set<string> {
  const conflictedIds = new Set<string>();
  for (const ids of separated.conflicted.values()) for (const id of ids) conflictedIds.add(id);
  const full = authDifference(stateSets, separated, graph);
  for (const id of conflictedIds) if (graph.has(id)) full.add(id);
  if (version.stateResolution === 'v2.1') {
    for (const id of conflictedSubgraph(conflictedIds, graph)) full.add(id);
  }
  return full;
}

/**
 * ∪Cᵢ − ∩Cᵢ, where Cᵢ is the full auth chain of state set i: its events and
 * their auth chains, as Synapse counts it. Every Cᵢ holds U, the unconflicted
 * events with their auth chains, so the difference is that of the Dᵢ (the
 * conflicted events of set i with their chains) less U. U is closed under
 * auth links, so the Dᵢ walks stop where they meet it: U is walked once, and
 * each Dᵢ only over what the sets do not share. O(V + E) over the loaded graph.
 */
function authDifference(
  stateSets: readonly ReadonlyMap<string, string>[],
  separated: SeparatedState,
  graph: EventGraph,
): Set<string> {
  const shared = graph.reachable(separated.unconflicted.values());
  const counts = new Map<string, number>();
  for (const set of stateSets) {
    const own = [...separated.conflicted.keys()].flatMap((key) => set.get(key) ?? []);
    for (const id of graph.reachable(own, shared)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const difference = new Set<string>();
  for (const [id, count] of counts) if (count < stateSets.length) difference.add(id);
  return difference;
}

/**
 * v2.1: every event on an auth path from one conflicted event to another,
 * ends included: the events reachable from a conflicted event (B) from which
 * a conflicted event is reachable, i.e. B's events that descend from a
 * conflicted event within B. O(V + E) over B.
 */
function conflictedSubgraph(conflictedIds: ReadonlySet<string>, graph: EventGraph): Set<string> {
  const below = graph.reachable(conflictedIds);
  const citedBy = new Map<string, string[]>();
  for (const id of below) {
    const event = graph.get(id) as StoredEvent;
    for (const authId of graph.authIds(event)) {
      if (!below.has(authId)) continue;
      const citing = citedBy.get(authId);
      if (citing) citing.push(id);
      else citedBy.set(authId, [id]);
    }
  }
  const subgraph = new Set<string>();
  const pending = [...conflictedIds].filter((id) => below.has(id));
  for (const id of pending) subgraph.add(id);
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    for (const citing of citedBy.get(id) ?? []) {
      if (subgraph.has(citing)) continue;
      subgraph.add(citing);
      pending.push(citing);
    }
  }
  return subgraph;
}

const POWER_TYPES = new Set(['m.room.power_levels', 'm.room.join_rules', 'm.room.create']);

/**
 * A power event: power levels, join rules, or a member event by which
 * someone else makes a user leave (kick) or bans them. The create event
 * counts too, as Synapse and Ruma count it (it can only be conflicted in a
 * forged room, and it sorts first either way).
 */
export function isPowerEvent(event: StoredEvent): boolean {
  const { type, state_key: stateKey, content, sender } = event.pdu;
  if (stateKey === undefined) return false;
  if (POWER_TYPES.has(type)) return stateKey === '';
  if (type !== 'm.room.member') return false;
  return (content.membership === 'leave' || content.membership === 'ban') && sender !== stateKey;
}
