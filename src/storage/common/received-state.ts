/**
 * How the room stores hold the state of events received over federation,
 * whatever the backend: pure rules on state maps, with the writes left to
 * each store.
 *
 * A local event is built on the room's head: its state group is the room's
 * current group plus its own entry (room-rows.ts). A received event comes
 * with its whole state before it (NewRoomEvent.stateBefore), which may be
 * any state. Its group is planned here: the state after it as a delta over
 * the group of one of its prev_events when that is cheap to walk and write,
 * else a snapshot. Groups hold entries only (no removals), so a base whose
 * state has an entry the target lacks cannot be used. The room's current
 * state after resolution is planned the same way, over the room's previous
 * current group and the event's own group.
 */
import { splitStateMapKey, stateMapKey } from '../../events/auth/auth-state.js';
import type { Pdu } from '../../events/pdu.js';
import type { NewRoomEvent, StateIds } from '../storage.js';
import { SNAPSHOT_INTERVAL } from './room-rows.js';

/**
 * A delta with more entries than this is written as a snapshot instead: two
 * forks far apart would otherwise stack large deltas that every read walks.
 */
export const MAX_DELTA_ENTRIES = 100;
/** The prev_events whose groups are tried as bases (a merge of many forks names many). */
export const MAX_GROUP_BASES = 4;

/** A state group the new one may be a delta over. */
export interface GroupBase {
  group: number;
  chainLength: number;
  state: StateIds;
}

export type GroupPlan =
  /** The base's group already holds exactly this state (a message on an unchanged state). */
  | { kind: 'reuse'; group: number }
  | { kind: 'delta'; prevGroup: number; chainLength: number; entries: StateEntry[] }
  | { kind: 'snapshot'; entries: StateEntry[] };

export interface StateEntry {
  type: string;
  stateKey: string;
  eventId: string;
}

/** A change to a room's current state: `eventId` null removes the entry. */
export interface CurrentChange {
  type: string;
  stateKey: string;
  eventId: string | null;
}

/** Where an event is held: in the event stream, or off it (outliers, soft-failed, rejected). */
export type HeldKind = 'outlier' | 'soft_failed' | 'rejected';

/** Whether the event gets a place in the event stream (local events always do). */
export function isStreamed(event: NewRoomEvent): boolean {
  return !event.outlier && !event.softFailed && event.rejectedReason === undefined;
}

/** Events that do not follow the local path (built on the room's head). */
export function isReceived(event: NewRoomEvent): boolean {
  return event.stateBefore !== undefined || !isStreamed(event);
}

/** How an off-stream event is held; undefined for stream events. */
export function heldKindOf(event: NewRoomEvent): HeldKind | undefined {
  if (event.rejectedReason !== undefined) return 'rejected';
  if (event.outlier || event.stateBefore === undefined) return 'outlier';
  if (event.softFailed) return 'soft_failed';
  return undefined;
}

/** The state after an event given the state before it (a rejected event changes nothing). */
export function stateAfterEvent(
  stateBefore: StateIds,
  eventId: string,
  pdu: Pdu,
  rejected: boolean,
): StateIds {
  const after = new Map(stateBefore);
  if (pdu.state_key !== undefined && !rejected) {
    after.set(stateMapKey(pdu.type, pdu.state_key), eventId);
  }
  return after;
}

/** The state before an event given the state after it and the entry it replaced. */
export function stateBeforeEvent(
  stateAfter: StateIds,
  pdu: Pick<Pdu, 'type' | 'state_key'>,
  replacesState: string | null | undefined,
): StateIds {
  if (pdu.state_key === undefined) return stateAfter;
  const key = stateMapKey(pdu.type, pdu.state_key);
  if (replacesState) stateAfter.set(key, replacesState);
  else stateAfter.delete(key);
  return stateAfter;
}

/** The entries of `target` that `base` lacks or holds otherwise; undefined if `base` has an entry `target` lacks. */
function deltaOver(target: StateIds, base: StateIds): StateEntry[] | undefined {
  for (const key of base.keys()) if (!target.has(key)) return undefined;
  const entries: StateEntry[] = [];
  for (const [key, eventId] of target) {
    if (base.get(key) !== eventId) entries.push({ ...splitStateMapKey(key), eventId });
  }
  return entries;
}

/** The group for `target`: an equal base reused, the smallest usable delta, or a snapshot. */
export function planStateGroup(target: StateIds, bases: readonly GroupBase[]): GroupPlan {
  let best: { base: GroupBase; entries: StateEntry[] } | undefined;
  for (const base of bases) {
    const entries = deltaOver(target, base.state);
    if (entries === undefined) continue;
    if (entries.length === 0) return { kind: 'reuse', group: base.group };
    if (base.chainLength + 1 >= SNAPSHOT_INTERVAL || entries.length > MAX_DELTA_ENTRIES) continue;
    if (!best || entries.length < best.entries.length) best = { base, entries };
  }
  if (best) {
    return {
      kind: 'delta',
      prevGroup: best.base.group,
      chainLength: best.base.chainLength + 1,
      entries: best.entries,
    };
  }
  return { kind: 'snapshot', entries: entriesOf(target) };
}

export function entriesOf(state: StateIds): StateEntry[] {
  return [...state].map(([key, eventId]) => ({ ...splitStateMapKey(key), eventId }));
}

/** What changes from one current state to the next, entry by entry. */
export function currentChanges(before: StateIds, after: StateIds): CurrentChange[] {
  const changes: CurrentChange[] = [];
  for (const [key, eventId] of after) {
    if (before.get(key) !== eventId) changes.push({ ...splitStateMapKey(key), eventId });
  }
  for (const key of before.keys()) {
    if (!after.has(key)) changes.push({ ...splitStateMapKey(key), eventId: null });
  }
  return changes;
}

export function sameState(a: StateIds, b: StateIds): boolean {
  if (a.size !== b.size) return false;
  for (const [key, eventId] of a) if (b.get(key) !== eventId) return false;
  return true;
}

/** A membership made current by something else than its own event's arrival. */
export interface MembershipChange {
  userId: string;
  roomId: string;
  /** The member event now current (the arriving event itself when the entry was removed). */
  eventId: string;
  membership: string;
}

/**
 * Memberships per user are read from the event stream in order, the newest
 * in each room counting as current (room-caches.ts). Resolution breaks that:
 * an arriving member event may lose (the room keeps an older one), and an
 * arriving event of any type may make another member event current again, or
 * remove an entry. So the current-state membership wins: each such change is
 * recorded at the arriving event's position, after the event itself, naming
 * the member event now current (a removed entry counts as a leave).
 *
 * Only stream events call this (off-stream ones change no membership).
 */
export function membershipChanges(
  event: NewRoomEvent,
  changes: readonly CurrentChange[],
  /** The member event current for a user once the event is stored (null: none). */
  currentMemberEvent: (userId: string) => string | null,
  membershipOf: (eventId: string) => string | null,
): MembershipChange[] {
  const result: MembershipChange[] = [];
  const noted = new Set<string>();
  const note = (userId: string, eventId: string | null) => {
    noted.add(userId);
    const membership = eventId === null ? 'leave' : membershipOf(eventId);
    if (membership === null) return;
    result.push({ userId, roomId: event.roomId, eventId: eventId ?? event.eventId, membership });
  };
  for (const change of changes) {
    if (change.type !== 'm.room.member' || change.eventId === event.eventId) continue;
    note(change.stateKey, change.eventId);
  }
  const { pdu } = event;
  if (pdu.type === 'm.room.member' && pdu.state_key !== undefined && !noted.has(pdu.state_key)) {
    const current = currentMemberEvent(pdu.state_key);
    if (current !== event.eventId) note(pdu.state_key, current);
  }
  return result;
}
