/**
 * The two orderings of state resolution (rooms/v2, "Definitions"): the
 * reverse topological power ordering of the power events and the mainline
 * ordering of the others.
 */
import type { RoomVersion } from '../room-versions.js';
import { authStateOf, POWER_LEVELS } from '../auth/auth-state.js';
import type { StoredEvent } from '../pdu.js';
import { powerLevelOf } from '../power-levels.js';
import type { EventGraph } from './event-graph.js';
import { MinHeap } from './min-heap.js';

/** Event IDs compare by code unit, which for their ASCII is the spec's lexicographic order. */
export function compareIds(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/**
 * The power events with the events of their auth chains that are in the full
 * conflicted set, earliest first: Kahn's algorithm over their auth links,
 * taking at each step the ready event whose sender has the highest power
 * (by the event's own auth events), then the lowest origin_server_ts, then
 * the lowest event ID.
 *
 * As Synapse and Ruma do, the graph holds the auth links between events of
 * the full conflicted set only, and the walk from a power event goes on
 * through such events only. O(c log c + e) for c events and e links.
 */
export function reversePowerOrder(
  powerEventIds: Iterable<string>,
  fullConflicted: ReadonlySet<string>,
  graph: EventGraph,
  version: RoomVersion,
): string[] {
  const links = conflictedAuthLinks(powerEventIds, fullConflicted, graph);
  const key = new Map<string, { power: number; ts: number }>();
  for (const id of links.keys()) {
    const event = graph.get(id) as StoredEvent;
    key.set(id, { power: senderPowerLevel(event, graph, version), ts: event.pdu.origin_server_ts });
  }
  return kahn(links, (a, b) => {
    const x = key.get(a) as { power: number; ts: number };
    const y = key.get(b) as { power: number; ts: number };
    if (x.power !== y.power) return x.power > y.power ? -1 : 1;
    if (x.ts !== y.ts) return x.ts < y.ts ? -1 : 1;
    return compareIds(a, b);
  });
}

/** event → its auth events within the full conflicted set, for the power events and what they reach so. */
function conflictedAuthLinks(
  powerEventIds: Iterable<string>,
  fullConflicted: ReadonlySet<string>,
  graph: EventGraph,
): Map<string, Set<string>> {
  const links = new Map<string, Set<string>>();
  const pending = [...powerEventIds];
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    if (links.has(id)) continue;
    const cited = new Set<string>();
    links.set(id, cited);
    const event = graph.get(id);
    if (!event) continue;
    for (const authId of graph.authIds(event)) {
      if (!fullConflicted.has(authId)) continue;
      cited.add(authId);
      if (!links.has(authId)) pending.push(authId);
    }
  }
  return links;
}

/**
 * Kahn's algorithm from the events citing nothing (the oldest) towards those
 * citing them, the smallest ready event first. An event on a cycle (which
 * hash-named events cannot form) is never ready and is left out.
 */
function kahn(
  links: Map<string, Set<string>>,
  compare: (a: string, b: string) => number,
): string[] {
  const remaining = new Map<string, number>();
  const citedBy = new Map<string, string[]>();
  const ready = new MinHeap<string>(compare);
  for (const [id, cited] of links) {
    remaining.set(id, cited.size);
    if (cited.size === 0) ready.push(id);
    for (const authId of cited) {
      const citing = citedBy.get(authId);
      if (citing) citing.push(id);
      else citedBy.set(authId, [id]);
    }
  }
  const order: string[] = [];
  for (let id = ready.pop(); id !== undefined; id = ready.pop()) {
    order.push(id);
    for (const citing of citedBy.get(id) ?? []) {
      const left = (remaining.get(citing) as number) - 1;
      remaining.set(citing, left);
      if (left === 0) ready.push(citing);
    }
  }
  return order;
}

/**
 * The sender's power level by the event's auth events (the power levels and
 * create event they cite, in v12 the create event the room ID implies):
 * v12 creators infinite, else `users`, `users_default`, or without power
 * levels 100 for the creator and 0 for others.
 */
export function senderPowerLevel(
  event: StoredEvent,
  graph: EventGraph,
  version: RoomVersion,
): number {
  const authEvents = graph.authIds(event).flatMap((id) => graph.get(id) ?? []);
  return powerLevelOf(event.pdu.sender, authStateOf(authEvents), version);
}

/**
 * The mainline ordering based on the resolved power levels event: events
 * whose power levels chain meets the mainline at an older event first
 * (one that never meets it, first of all), then by origin_server_ts, then by
 * event ID. Positions are memoised per power levels event, so the walks cost
 * O(p) over the p power levels events reached; the sort O(n log n).
 */
export function mainlineOrder(
  eventIds: readonly string[],
  resolvedPowerLevelsId: string | undefined,
  graph: EventGraph,
): string[] {
  const positions = new MainlinePositions(graph, resolvedPowerLevelsId);
  const keyed = eventIds.flatMap((id) => {
    const event = graph.get(id);
    return event ? [{ id, position: positions.of(event), ts: event.pdu.origin_server_ts }] : [];
  });
  keyed.sort((a, b) => {
    if (a.position !== b.position) return a.position > b.position ? -1 : 1;
    if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
    return compareIds(a.id, b.id);
  });
  return keyed.map((entry) => entry.id);
}

/** Mainline positions: 0 for the resolved power levels event, 1 for the one it cites, …; ∞ off the mainline. */
class MainlinePositions {
  /** A power levels event → the position of the first mainline event at or below it. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly graph: EventGraph,
    resolvedPowerLevelsId: string | undefined,
  ) {
    let index = 0;
    for (let id = resolvedPowerLevelsId; id !== undefined && !this.known.has(id); index += 1) {
      this.known.set(id, index);
      const event = graph.get(id);
      id = event ? this.citedPowerLevels(event) : undefined;
    }
  }

  /** The event's position: that of the first mainline event on its chain of cited power levels (the event not counted). */
  of(event: StoredEvent): number {
    const path = new Set<string>();
    let position = Infinity;
    for (let id = this.citedPowerLevels(event); id !== undefined;) {
      const known = this.known.get(id);
      if (known !== undefined) {
        position = known;
        break;
      }
      if (path.has(id)) break; // a cycle: never meets the mainline
      path.add(id);
      const cited = this.graph.get(id);
      id = cited ? this.citedPowerLevels(cited) : undefined;
    }
    for (const id of path) this.known.set(id, position);
    return position;
  }

  /** The first `m.room.power_levels` event among the event's (known) auth events. */
  private citedPowerLevels(event: StoredEvent): string | undefined {
    for (const authId of event.pdu.auth_events) {
      const pdu = this.graph.get(authId)?.pdu;
      if (pdu?.type === POWER_LEVELS && pdu.state_key === '') return authId;
    }
    return undefined;
  }
}
