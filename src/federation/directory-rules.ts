/**
 * The rules of the Server-Server directory queries (`/publicRooms`,
 * `/hierarchy`, `/timestamp_to_event`), pure: the requests we serve read
 * field by field with the spec's error codes, the answers other servers give
 * kept to the spec's shapes (a field of the wrong type is dropped, an entry
 * without its required fields is left out, so what we pass on to our clients
 * always matches the spec), who may see a room of a hierarchy, and which
 * servers of a room to ask first.
 */
import { serverNameOf } from '../events/auth/ids.js';
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import type { RemoteSpace } from '../rooms/hierarchy.js';
import {
  objectBody,
  optionalBoolean,
  optionalObject,
  optionalString,
  queryString,
} from '../protocol/params.js';

// ---------------------------------------------------------------------------
// /publicRooms requests we serve

/** What another server asks of our directory. */
export interface FederationPublicRoomsQuery {
  /** Undefined for the spec's 0 (or absent): no limit of the requester's, ours applies. */
  limit?: number;
  since?: string;
  searchTerm?: string;
  roomTypes?: (string | null)[];
  thirdPartyInstanceId?: string;
  includeAllNetworks: boolean;
}

/** `GET /publicRooms`'s query string: `limit`, `since`, `include_all_networks`, `third_party_instance_id`. */
export function parsePublicRoomsQuery(query: unknown): FederationPublicRoomsQuery {
  const text = (key: string) => queryString(query, key);
  const limit = text('limit');
  if (limit !== undefined && !/^\d{1,9}$/.test(limit)) {
    throw errors.invalidParam('limit must be a non-negative integer');
  }
  const all = text('include_all_networks');
  if (all !== undefined && all !== 'true' && all !== 'false') {
    throw errors.invalidParam('include_all_networks must be true or false');
  }
  return {
    ...limitOf(limit === undefined ? undefined : Number(limit)),
    ...optional('since', text('since')),
    ...optional('thirdPartyInstanceId', text('third_party_instance_id')),
    includeAllNetworks: all === 'true',
  };
}

/** `POST /publicRooms`'s body: the same, with the client API's `filter`. */
export function parsePublicRoomsBody(body: unknown): FederationPublicRoomsQuery {
  const object = objectBody(body, { allowEmpty: true });
  const limit = object.limit;
  if (
    limit !== undefined &&
    limit !== null &&
    !(Number.isSafeInteger(limit) && Number(limit) >= 0)
  ) {
    throw errors.badJson('limit must be a non-negative integer');
  }
  const filter = optionalObject(object, 'filter') ?? {};
  return {
    ...limitOf((limit ?? undefined) as number | undefined),
    ...optional('since', optionalString(object, 'since')),
    ...optional('searchTerm', optionalString(filter, 'generic_search_term', 'filter.')),
    ...optional('roomTypes', roomTypesOf(filter)),
    ...optional('thirdPartyInstanceId', optionalString(object, 'third_party_instance_id')),
    includeAllNetworks: optionalBoolean(object, 'include_all_networks') ?? false,
  };
}

/** The spec's `room_types`: strings, and `null` for rooms without a type. */
function roomTypesOf(filter: JsonObject | Record<string, unknown>): (string | null)[] | undefined {
  const value = filter.room_types;
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((t) => t === null || typeof t === 'string')) {
    throw errors.badJson('filter.room_types must be an array of strings and nulls');
  }
  return value as (string | null)[];
}

/** `/hierarchy`'s `suggested_only`: `true` or `false`, false when absent. */
export function parseSuggestedOnly(query: unknown): boolean {
  const value = queryString(query, 'suggested_only');
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw errors.invalidParam('suggested_only must be true or false');
}

/** 0 is the spec's "no limit" for servers; our own page size then applies. */
function limitOf(limit: number | undefined): { limit?: number } {
  return limit === undefined || limit === 0 ? {} : { limit };
}

// ---------------------------------------------------------------------------
// Answers of other servers

/** A room summary's fields beyond the required ones that are strings (room_summary.yaml). */
const SUMMARY_STRINGS = [
  'name',
  'topic',
  'canonical_alias',
  'avatar_url',
  'join_rule',
  'room_type',
  'room_version',
  'encryption',
];

/**
 * A room as another server describes it (PublicRoomsChunk, RoomSummary),
 * with only the fields the spec defines and of their types; undefined when a
 * required one is missing. `children_state` is kept (its valid entries) when
 * `withChildren`.
 */
export function readRoomSummary(value: unknown, withChildren = false): JsonObject | undefined {
  if (!isObject(value)) return undefined;
  const { room_id: roomId, num_joined_members: joined } = value;
  if (typeof roomId !== 'string' || !roomId.startsWith('!')) return undefined;
  if (!Number.isSafeInteger(joined) || (joined as number) < 0) return undefined;
  if (typeof value.world_readable !== 'boolean' || typeof value.guest_can_join !== 'boolean') {
    return undefined;
  }
  const summary: JsonObject = {
    room_id: roomId,
    num_joined_members: joined as number,
    world_readable: value.world_readable,
    guest_can_join: value.guest_can_join,
  };
  for (const key of SUMMARY_STRINGS) {
    if (typeof value[key] === 'string') summary[key] = value[key];
  }
  if (typeof summary.avatar_url === 'string' && !summary.avatar_url.startsWith('mxc://')) {
    delete summary.avatar_url;
  }
  if (typeof summary.canonical_alias === 'string' && !summary.canonical_alias.startsWith('#')) {
    delete summary.canonical_alias;
  }
  const allowed = stringsOf(value.allowed_room_ids);
  if (allowed.length > 0) summary.allowed_room_ids = allowed;
  if (withChildren && Array.isArray(value.children_state)) {
    summary.children_state = value.children_state
      .map(readStrippedChild)
      .filter((child): child is JsonObject => child !== undefined);
  }
  return summary;
}

/** The well-formed summaries of a list, the others left out. */
function summariesOf(values: readonly unknown[], withChildren: boolean): JsonObject[] {
  return values
    .map((value) => readRoomSummary(value, withChildren))
    .filter((summary): summary is JsonObject => summary !== undefined);
}

/** An `m.space.child` event as a hierarchy gives it (stripped, with `origin_server_ts`). */
export function readStrippedChild(value: unknown): JsonObject | undefined {
  if (!isObject(value) || value.type !== 'm.space.child') return undefined;
  const { state_key: stateKey, content, sender, origin_server_ts: ts } = value;
  if (typeof stateKey !== 'string' || !stateKey.startsWith('!')) return undefined;
  if (!isObject(content) || typeof sender !== 'string' || !Number.isSafeInteger(ts)) {
    return undefined;
  }
  return {
    type: 'm.space.child',
    state_key: stateKey,
    content,
    sender,
    origin_server_ts: ts as number,
  };
}

/** A `/publicRooms` answer (public_rooms_response.yaml); undefined without a `chunk` list. */
export function readPublicRoomsAnswer(body: unknown): JsonObject | undefined {
  if (!isObject(body) || !Array.isArray(body.chunk)) return undefined;
  const answer: JsonObject = { chunk: summariesOf(body.chunk, false) };
  for (const key of ['next_batch', 'prev_batch']) {
    if (typeof body[key] === 'string' && body[key] !== '') answer[key] = body[key];
  }
  const estimate = body.total_room_count_estimate;
  if (Number.isSafeInteger(estimate) && (estimate as number) >= 0) {
    answer.total_room_count_estimate = estimate as number;
  }
  return answer;
}

/** A `/hierarchy` answer for `roomId`; undefined unless its `room` is that room, well formed. */
export function readHierarchyAnswer(roomId: string, body: unknown): RemoteSpace | undefined {
  if (!isObject(body)) return undefined;
  const room = readRoomSummary(body.room, true);
  if (!room || room.room_id !== roomId) return undefined;
  if (!Array.isArray(room.children_state)) room.children_state = [];
  const children = Array.isArray(body.children) ? summariesOf(body.children, true) : [];
  return { room, children, inaccessible: stringsOf(body.inaccessible_children) };
}

/** A `/timestamp_to_event` answer: the event named and its time, if well formed. */
export function readTimestampAnswer(
  body: unknown,
): { eventId: string; originServerTs: number } | undefined {
  if (!isObject(body)) return undefined;
  const { event_id: eventId, origin_server_ts: ts } = body;
  if (typeof eventId !== 'string' || !eventId.startsWith('$') || !Number.isSafeInteger(ts)) {
    return undefined;
  }
  return { eventId, originServerTs: ts as number };
}

/** Whether an event at `eventTs` lies the way `direction` looks from `ts` (or at it). */
export function liesTowards(ts: number, direction: 'f' | 'b', eventTs: number): boolean {
  return direction === 'f' ? eventTs >= ts : eventTs <= ts;
}

// ---------------------------------------------------------------------------
// Who may see a room of our hierarchy

/** What the rule for a requesting server reads of a room and of that server. */
export interface ServerRoomAccess {
  joinRule: string | undefined;
  worldReadable: boolean;
  /** Whether the room version has `knock_restricted`. */
  knockRestricted: boolean;
  /** One of the server's users is joined or invited now. */
  serverInRoom: boolean;
  /** For a restricted room: one of the server's users is joined to one of the rooms it allows. */
  serverInAllowedRoom: boolean;
}

/**
 * Whether a server may be told of a room (as Synapse judges it over
 * federation): public, knockable or world-readable rooms to any server;
 * others only to a server with a user joined or invited, or, for a
 * restricted room, joined to one of the rooms that allow joining. The
 * requesting server filters further for its user.
 */
export function mayServerViewRoom(access: ServerRoomAccess): boolean {
  const { joinRule } = access;
  if (joinRule === 'public' || joinRule === 'knock' || access.worldReadable) return true;
  if (joinRule === 'knock_restricted' && access.knockRestricted) return true;
  if (access.serverInRoom) return true;
  const restricted = joinRule === 'restricted' || joinRule === 'knock_restricted';
  return restricted && access.serverInAllowedRoom;
}

// ---------------------------------------------------------------------------
// Which servers to ask

/**
 * The servers of a room's joined members to ask, the creator's first while
 * it has a member (it has been there longest, the spec's hint), then by how
 * many members each has; ours left out.
 */
export function serversToAsk(
  joinedMembers: readonly string[],
  creator: string | undefined,
  ourServer: string,
): string[] {
  const counts = new Map<string, number>();
  for (const userId of joinedMembers) {
    const server = serverNameOf(userId);
    if (server !== undefined) counts.set(server, (counts.get(server) ?? 0) + 1);
  }
  counts.delete(ourServer);
  const creatorServer = creator === undefined ? undefined : serverNameOf(creator);
  return [...counts.entries()]
    .sort(([a, countA], [b, countB]) => {
      if (a === creatorServer || b === creatorServer) return a === creatorServer ? -1 : 1;
      return countB - countA || (a < b ? -1 : 1);
    })
    .map(([server]) => server);
}

// ---------------------------------------------------------------------------

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
