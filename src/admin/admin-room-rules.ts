/**
 * The rules of Synapse's Admin API for rooms that need no storage: the room
 * list's query parameters, the room objects, and filtering, ordering and
 * paging the rooms storage lists. Pure.
 */
import type { JsonObject, JsonValue } from '../events/pdu.js';
import type { ListedRoom } from '../domain/room-list.js';
import { errors } from '../protocol/errors.js';
import { queryString } from '../protocol/params.js';
import { nonNegativeIntegerParam } from './admin-rules.js';

export const DEFAULT_ROOM_LIST_LIMIT = 100;

/** The orders Weft supports of Synapse's `order_by` values. */
export type RoomListOrder =
  | 'name'
  | 'canonical_alias'
  | 'joined_members'
  | 'joined_local_members'
  | 'version'
  | 'creator'
  | 'encryption'
  | 'federatable'
  | 'public'
  | 'join_rules'
  | 'guest_access'
  | 'history_visibility'
  | 'state_events';

const ORDERS: readonly RoomListOrder[] = [
  'name',
  'canonical_alias',
  'joined_members',
  'joined_local_members',
  'version',
  'creator',
  'encryption',
  'federatable',
  'public',
  'join_rules',
  'guest_access',
  'history_visibility',
  'state_events',
];

/** As Synapse: the counts and the room version go largest first when `dir` is `f`, the rest smallest first. */
const LARGEST_FIRST: ReadonlySet<RoomListOrder> = new Set([
  'joined_members',
  'joined_local_members',
  'version',
  'state_events',
]);

/** Synapse's deprecated names of two orders. */
const ALIASES: ReadonlyMap<string, RoomListOrder> = new Map([
  ['alphabetical', 'name'],
  ['size', 'joined_members'],
]);

export interface RoomListQuery {
  from: number;
  limit: number;
  orderBy: RoomListOrder;
  direction: 'f' | 'b';
  /** Rooms whose name or canonical alias contains it (case-insensitive), or whose ID does. */
  searchTerm?: string;
}

/** `GET /_synapse/admin/v1/rooms`'s parameters (unknown ones ignored). */
export function parseRoomListQuery(query: unknown): RoomListQuery {
  const from = nonNegativeIntegerParam(query, 'from', 0);
  const limit = nonNegativeIntegerParam(query, 'limit', DEFAULT_ROOM_LIST_LIMIT);
  const asked = queryString(query, 'order_by') ?? 'name';
  const orderBy = ALIASES.get(asked) ?? asked;
  if (!(ORDERS as readonly string[]).includes(orderBy)) {
    throw errors.invalidParam(`Unknown value for order_by: ${orderBy}`);
  }
  const direction = queryString(query, 'dir') ?? 'f';
  if (direction !== 'f' && direction !== 'b') {
    throw errors.invalidParam(`Unknown direction: ${direction}`);
  }
  const searchTerm = queryString(query, 'search_term');
  if (searchTerm === '') throw errors.invalidParam('search_term cannot be empty');
  return {
    from,
    limit,
    orderBy: orderBy as RoomListOrder,
    direction,
    ...(searchTerm === undefined ? {} : { searchTerm }),
  };
}

/** A room as the Admin API's list shows it. */
export interface AdminRoomJson {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  joined_members: number;
  joined_local_members: number;
  version: string;
  creator: string;
  encryption: string | null;
  federatable: boolean;
  public: boolean;
  join_rules: string | null;
  guest_access: string | null;
  history_visibility: string | null;
  state_events: number;
  room_type: string | null;
}

/** A string field of a state event's content; null when the event or the field is missing, or not a string. */
function stateString(room: ListedRoom, type: string, key: string): string | null {
  const value: JsonValue | undefined = room.state[type]?.[key];
  return typeof value === 'string' ? value : null;
}

export function adminRoomJson(room: ListedRoom): AdminRoomJson {
  const create: JsonObject = room.state['m.room.create'] ?? {};
  return {
    room_id: room.roomId,
    name: stateString(room, 'm.room.name', 'name'),
    canonical_alias: stateString(room, 'm.room.canonical_alias', 'alias'),
    joined_members: room.joinedMembers,
    joined_local_members: room.joinedLocalMembers,
    version: room.version,
    creator: room.creator,
    encryption: stateString(room, 'm.room.encryption', 'algorithm'),
    // m.federate defaults to true (a room is federatable unless its creation said otherwise).
    federatable: create['m.federate'] !== false,
    public: room.published,
    join_rules: stateString(room, 'm.room.join_rules', 'join_rule'),
    guest_access: stateString(room, 'm.room.guest_access', 'guest_access'),
    history_visibility: stateString(room, 'm.room.history_visibility', 'history_visibility'),
    state_events: room.stateEvents,
    room_type: typeof create.type === 'string' ? create.type : null,
  };
}

/** `GET /_synapse/admin/v1/rooms/{roomId}`: the list's fields and a few more. */
export interface AdminRoomDetailsJson extends AdminRoomJson {
  avatar: string | null;
  topic: string | null;
  joined_local_devices: number;
  forgotten: boolean;
}

export function adminRoomDetailsJson(
  room: ListedRoom,
  joinedLocalDevices: number,
): AdminRoomDetailsJson {
  return {
    ...adminRoomJson(room),
    avatar: stateString(room, 'm.room.avatar', 'url'),
    topic: stateString(room, 'm.room.topic', 'topic'),
    joined_local_devices: joinedLocalDevices,
    // Synapse's "forgotten by every local member": Weft purges no rooms, so none is.
    forgotten: false,
  };
}

export interface RoomListJson {
  rooms: AdminRoomJson[];
  offset: number;
  total_rooms: number;
  /** The `from` of the next page, while rooms remain after this one. */
  next_batch?: number;
  /** The `from` of the page before, unless this one starts at the first room. */
  prev_batch?: number;
}

function matches(room: AdminRoomJson, term: string): boolean {
  const lower = term.toLowerCase();
  return (
    (room.name?.toLowerCase().includes(lower) ?? false) ||
    (room.canonical_alias?.toLowerCase().includes(lower) ?? false) ||
    room.room_id.includes(term)
  );
}

type Sortable = string | number | boolean | null;

/** Compares two values of one column, missing ones after present ones. */
function compareValues(a: Sortable, b: Sortable): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The page the query asks for: rooms filtered by `search_term`, ordered by
 * `order_by` (ties by room ID, in the same direction; rooms without the value
 * last in ascending order), then `limit` rooms from `from`.
 */
export function roomListJson(query: RoomListQuery, listed: readonly ListedRoom[]): RoomListJson {
  const term = query.searchTerm;
  let rooms = listed.map(adminRoomJson);
  if (term !== undefined) rooms = rooms.filter((room) => matches(room, term));
  const ascending = LARGEST_FIRST.has(query.orderBy)
    ? query.direction === 'b'
    : query.direction === 'f';
  const sign = ascending ? 1 : -1;
  const key = query.orderBy;
  rooms.sort(
    (a, b) => sign * compareValues(a[key], b[key]) || sign * compareValues(a.room_id, b.room_id),
  );
  const page = rooms.slice(query.from, query.from + query.limit);
  const json: RoomListJson = { rooms: page, offset: query.from, total_rooms: rooms.length };
  if (query.from + query.limit < rooms.length) json.next_batch = query.from + page.length;
  if (query.from > 0) json.prev_batch = Math.max(0, query.from - query.limit);
  return json;
}
