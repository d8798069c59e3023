/**
 * The pure parts of assembling a /sync response: which state a room section
 * carries, stripped state for invites and knocks, lazy-loaded members, and
 * whether a response has anything in it. No storage, no HTTP.
 */
import { splitStateMapKey, stateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import type { AccountDataRecord } from '../domain/records.js';
import type { EventRecord, StateIds } from '../events/records.js';

/** The state events an invite or knock shows of the room (the spec's recommended list). */
export const STRIPPED_STATE_TYPES: readonly string[] = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.encryption',
];

/** How many other members the room summary names for clients to build a room name from. */
export const MAX_HEROES = 5;

/** The state that can name a room, so that its summary needs no heroes. */
export const ROOM_NAME_STATE: readonly { type: string; stateKey: string }[] = [
  { type: 'm.room.name', stateKey: '' },
  { type: 'm.room.canonical_alias', stateKey: '' },
];

/**
 * Whether these state events (a room's m.room.name and m.room.canonical_alias)
 * name it: sync.yaml requires `m.heroes` only when both are "unset or empty",
 * and Synapse sends none otherwise. A redacted one is empty (redaction keeps
 * neither `name` nor `alias`).
 */
export function namesTheRoom(events: readonly EventRecord[]): boolean {
  return events.some((event) => {
    if (event.redactedBy !== undefined) return false;
    const { type, content } = event.pdu;
    const value =
      type === 'm.room.name'
        ? content.name
        : type === 'm.room.canonical_alias'
          ? content.alias
          : undefined;
    return typeof value === 'string' && value !== '';
  });
}

// A type alias, not an interface, so it is assignable to JsonObject.
export type StrippedStateEvent = {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
};

export function strippedState(event: EventRecord): StrippedStateEvent {
  return {
    type: event.pdu.type,
    state_key: event.pdu.state_key ?? '',
    content: event.pdu.content,
    sender: event.pdu.sender,
  };
}

/** The event IDs of the state entries an invite or knock shows. */
export function strippedStateIds(state: StateIds): string[] {
  return STRIPPED_STATE_TYPES.flatMap((type) => {
    const eventId = state.get(stateMapKey(type, ''));
    return eventId === undefined ? [] : [eventId];
  });
}

/**
 * The state before an event, from the state after it: a state event replaced
 * the entry its `replacesState` names (or added a new one); anything else
 * changed nothing. This holds on any room graph, not only a linear one.
 */
export function stateBefore(event: EventRecord, stateAfter: StateIds): StateIds {
  const { type, state_key: stateKey } = event.pdu;
  if (stateKey === undefined) return stateAfter;
  const before = new Map(stateAfter);
  const key = stateMapKey(type, stateKey);
  if (before.get(key) !== event.eventId) return before;
  if (event.replacesState === undefined) before.delete(key);
  else before.set(key, event.replacesState);
  return before;
}

/** The entries of `to` that differ from `from`: what changed between two points. */
export function stateDelta(from: StateIds, to: StateIds): StateIds {
  const delta: StateIds = new Map();
  for (const [key, eventId] of to) {
    if (from.get(key) !== eventId) delta.set(key, eventId);
  }
  return delta;
}

/**
 * Lazy loading members: of a state map, the member events of the timeline's
 * senders (and of `alsoInclude`, e.g. the syncing user on a full sync), and
 * every entry that is not a member event.
 */
export function lazyLoadedState(
  state: StateIds,
  timeline: readonly EventRecord[],
  alsoInclude: readonly string[],
): StateIds {
  const wanted = new Set(alsoInclude);
  for (const event of timeline) wanted.add(event.pdu.sender);
  const result: StateIds = new Map();
  for (const [key, eventId] of state) {
    const { type, stateKey } = splitStateMapKey(key);
    if (type !== 'm.room.member' || wanted.has(stateKey)) result.set(key, eventId);
  }
  return result;
}

/** State entries minus those whose event is already in the timeline (a client applies those from there). */
export function withoutTimelineEvents(state: StateIds, timeline: readonly EventRecord[]): StateIds {
  const inTimeline = new Set(timeline.map((e) => e.eventId));
  return new Map([...state].filter(([, eventId]) => !inTimeline.has(eventId)));
}

export interface SyncRooms {
  join: Record<string, unknown>;
  invite: Record<string, unknown>;
  leave: Record<string, unknown>;
  knock: Record<string, unknown>;
}

/** Whether an incremental sync has something to say (else a long-poll keeps waiting). */
export function roomsHaveChanges(rooms: SyncRooms): boolean {
  return (
    Object.keys(rooms.join).length > 0 ||
    Object.keys(rooms.invite).length > 0 ||
    Object.keys(rooms.leave).length > 0 ||
    Object.keys(rooms.knock).length > 0
  );
}

/** The records of one room (or the global ones: no room) as the events clients are served. */
export function accountDataEventsOf(
  records: readonly AccountDataRecord[],
  roomId: string | undefined,
): { type: string; content: JsonObject }[] {
  return records
    .filter((record) => record.roomId === roomId)
    .map((record) => ({ type: record.type, content: record.content as JsonObject }));
}
