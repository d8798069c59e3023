/**
 * The space hierarchy (GET /_matrix/client/v1/rooms/{roomId}/hierarchy): a
 * depth-first walk of `m.space.child` state events from a room, page by page.
 *
 * The walk, the ordering of children and the pagination tokens are pure; the
 * service reads each room's current state through storage. A room none of
 * our users is joined to is asked of other servers (`GET /hierarchy` over
 * federation, once `useRemote` gave the client), as Synapse does: through the
 * `via` of the child event that led to it (the root, through the server its
 * ID names); one answer describes a space and its children, so a child the
 * answer described is asked again only when it is a space whose children are
 * still to be walked. Other servers' rooms are judged for the viewer from
 * what the answer says (join rule, world-readable, allowed rooms).
 */
import { stateMapKey, stateMapKeyType } from '../events/auth-rules.js';
import { isValidServerName, serverNameOf } from '../events/auth/ids.js';
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import type { EventRecord, RoomStore, StateIds } from '../storage/storage.js';
import { currentMembership } from './current-membership.js';
import { allowedRoomIds } from './restricted-join.js';
import {
  DETAIL_STATE_TYPES,
  roomDetails,
  roomSummary,
  SUMMARY_STATE_TYPES,
} from './room-summary.js';
import { roomVersion } from '../events/room-versions.js';

const SPACE_CHILD = 'm.space.child';
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;
/** Deeper spaces than this are cut off: the spec asks for a server maximum. */
const MAX_DEPTH = 50;
/** The spec's `order`: 1–50 printable ASCII characters, else treated as absent. */
const VALID_ORDER = /^[\x20-\x7E]{1,50}$/;

// ---------------------------------------------------------------------------
// Children of a space (pure)

/** A child link of a space: its `m.space.child` event, which is only valid with a `via`. */
export function hasValidVia(content: JsonObject): boolean {
  const via = content.via;
  return Array.isArray(via) && via.length > 0 && via.every((server) => typeof server === 'string');
}

/** The servers a child link names to reach the child through: valid server names, each once. */
export function viaOf(content: JsonObject): string[] {
  const via = Array.isArray(content.via) ? content.via : [];
  const servers = via.filter((s): s is string => typeof s === 'string' && isValidServerName(s));
  return [...new Set(servers)];
}

/**
 * Valid child events in the spec's order ("Ordering of children within a
 * space"): those with a valid `order` first, by it; then by the event's
 * `origin_server_ts`; then by room ID.
 */
export function orderedChildren(events: EventRecord[]): EventRecord[] {
  const valid = events.filter((e) => e.pdu.type === SPACE_CHILD && hasValidVia(e.pdu.content));
  return valid.sort((a, b) => compareChildren(a.pdu, b.pdu));
}

/** The same order for children as another server's hierarchy gives them (stripped events). */
export function orderedStrippedChildren(children: readonly JsonObject[]): StrippedChild[] {
  const valid = children.filter(isStrippedChild).filter((e) => hasValidVia(e.content));
  return valid.sort(compareChildren);
}

/** A child event as the spec's StrippedChildStateEvent. */
export interface StrippedChild {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
}

type ChildFields = Pick<StrippedChild, 'content' | 'origin_server_ts'> & { state_key?: string };

function compareChildren(a: ChildFields, b: ChildFields): number {
  const orderA = orderOf(a.content);
  const orderB = orderOf(b.content);
  if (orderA !== orderB) {
    if (orderA === undefined) return 1;
    if (orderB === undefined) return -1;
    return orderA < orderB ? -1 : 1;
  }
  if (a.origin_server_ts !== b.origin_server_ts) {
    return a.origin_server_ts - b.origin_server_ts;
  }
  return compareStrings(a.state_key ?? '', b.state_key ?? '');
}

function orderOf(content: JsonObject): string | undefined {
  const order = content.order;
  return typeof order === 'string' && VALID_ORDER.test(order) ? order : undefined;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isStrippedChild(value: JsonObject): value is JsonObject & StrippedChild {
  return (
    value.type === SPACE_CHILD &&
    typeof value.state_key === 'string' &&
    typeof value.sender === 'string' &&
    Number.isSafeInteger(value.origin_server_ts) &&
    typeof value.content === 'object' &&
    value.content !== null &&
    !Array.isArray(value.content)
  );
}

// ---------------------------------------------------------------------------
// The walk (pure, rooms loaded by the caller)

/** A room the walk may show: what it answers for it, and the children to walk into. */
export interface WalkedRoom {
  roomId: string;
  /** Child room IDs in order, already kept to the suggested ones when asked. */
  childIds: string[];
}

/**
 * The rooms of the hierarchy under `rootId`, depth first, each once (so
 * cycles end). `load` gives undefined for a room that cannot be shown
 * (unknown, on another server, or not visible to the requester): it is
 * skipped with everything only reachable through it. Children of rooms at
 * `maxDepth` are not walked.
 */
export async function* walkHierarchy<R extends WalkedRoom>(
  rootId: string,
  maxDepth: number,
  load: (roomId: string, depth: number) => Promise<R | undefined>,
): AsyncGenerator<R> {
  const stack = [{ roomId: rootId, depth: 0 }];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const { roomId, depth } = stack.pop()!;
    if (seen.has(roomId)) continue;
    seen.add(roomId);
    const room = await load(roomId, depth);
    if (!room) continue;
    yield room;
    if (depth >= maxDepth) continue;
    // Pushed last child first, so the first child is walked next.
    for (const childId of [...room.childIds].reverse()) {
      stack.push({ roomId: childId, depth: depth + 1 });
    }
  }
}

/** The `limit` rooms after the first `skip`, and whether any room follows them. */
export async function pageOf<R>(
  walk: AsyncIterable<R>,
  skip: number,
  limit: number,
): Promise<{ rooms: R[]; more: boolean }> {
  const rooms: R[] = [];
  let index = 0;
  for await (const room of walk) {
    if (index++ < skip) continue;
    if (rooms.length === limit) return { rooms, more: true };
    rooms.push(room);
  }
  return { rooms, more: false };
}

// ---------------------------------------------------------------------------
// Pagination tokens (pure)

/**
 * What a `from` token carries: the request it continues and how many rooms
 * were already served. Each page walks again from the root and skips those
 * (stateless; a space changed between pages may shift the pages).
 */
export interface HierarchyCursor {
  roomId: string;
  suggestedOnly: boolean;
  maxDepth: number;
  served: number;
}

export function encodeCursor(cursor: HierarchyCursor): string {
  const { roomId, suggestedOnly, maxDepth, served } = cursor;
  return Buffer.from(JSON.stringify([roomId, suggestedOnly, maxDepth, served])).toString(
    'base64url',
  );
}

/** The cursor of a token this server made, or undefined for anything else. */
export function decodeCursor(token: string): HierarchyCursor | undefined {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || parts.length !== 4) return undefined;
  const [roomId, suggestedOnly, maxDepth, served] = parts as unknown[];
  if (typeof roomId !== 'string' || typeof suggestedOnly !== 'boolean') return undefined;
  if (!isCount(maxDepth) || !isCount(served) || served === 0) return undefined;
  return { roomId, suggestedOnly, maxDepth, served };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

// ---------------------------------------------------------------------------
// Who may see a room (pure)

/** What the visibility rule reads of a room's state and of the requester. */
export interface RoomAccess {
  membership: string | undefined;
  joinRule: string | undefined;
  worldReadable: boolean;
  /** Room IDs a restricted join rule allows members of (`m.room_membership`). */
  allowRoomIds: string[];
  /** Whether the room version has `knock_restricted`. */
  knockRestricted: boolean;
}

/**
 * The spec's rule for the rooms of a hierarchy: joined or invited, world
 * readable, public or knockable, or restricted with the requester in one of
 * the allowed rooms. Banned users see nothing of the room.
 */
export function mayViewRoom(access: RoomAccess, joinedRooms: ReadonlySet<string>): boolean {
  const { membership, joinRule } = access;
  if (membership === 'ban') return false;
  if (membership === 'join' || membership === 'invite' || access.worldReadable) return true;
  if (joinRule === 'public' || joinRule === 'knock') return true;
  const knockRestricted = joinRule === 'knock_restricted' && access.knockRestricted;
  if (knockRestricted) return true;
  if (joinRule !== 'restricted') return false;
  return access.allowRoomIds.some((roomId) => joinedRooms.has(roomId));
}

// ---------------------------------------------------------------------------
// The service

export interface HierarchyQuery {
  viewer: string;
  roomId: string;
  suggestedOnly?: boolean;
  limit?: number;
  maxDepth?: number;
  from?: string;
}

interface HierarchyRoom extends WalkedRoom {
  entry: JsonObject;
}

/** A child a room shows: its ID and the servers its link names. */
export interface ChildLink {
  roomId: string;
  via: string[];
}

/** A room described, before anyone's right to see it is judged. */
export interface DescribedRoom {
  roomId: string;
  /** The hierarchy entry: summary, details, and `children_state` (the children shown). */
  entry: JsonObject;
  children: ChildLink[];
  access: Omit<RoomAccess, 'membership'>;
}

/** A space as another server's `/hierarchy` describes it, kept to the spec's shapes. */
export interface RemoteSpace {
  /** The space's summary, with its `children_state`. */
  room: JsonObject;
  /** Summaries of the children the server described (with `children_state` when it gave them). */
  children: JsonObject[];
  /** Children the server says we may not see: not asked for again. */
  inaccessible: string[];
}

/** Other servers' spaces, asked over federation (federation/directory-client.ts). */
export interface RemoteHierarchy {
  /** The first answer of the servers of `via`, tried in turn; undefined when none gave one. */
  space(
    roomId: string,
    via: readonly string[],
    suggestedOnly: boolean,
  ): Promise<RemoteSpace | undefined>;
}

/** The rooms' current state and member counts, and the viewer's joined rooms: reads only. */
export interface HierarchyServiceStorage {
  rooms: RoomStateReader & MembershipReader & Pick<RoomStore, 'hasJoinedMember'>;
}

/** What one request's walk learns as it goes: how to reach each child, what answers said. */
interface WalkContext {
  viewer: string;
  joinedRooms: ReadonlySet<string>;
  suggestedOnly: boolean;
  maxDepth: number;
  via: Map<string, string[]>;
  /** Children's summaries from their parent's remote answer. */
  described: Map<string, JsonObject>;
  inaccessible: Set<string>;
}

export class HierarchyService {
  private remote: RemoteHierarchy | undefined;

  constructor(
    private readonly storage: HierarchyServiceStorage,
    private readonly serverName: string,
  ) {}

  /** Rooms none of our users is in are asked of other servers from now on. */
  useRemote(remote: RemoteHierarchy): void {
    this.remote = remote;
  }

  async hierarchy(query: HierarchyQuery): Promise<JsonObject> {
    const limit = limitOf(query.limit);
    const cursor = cursorOf(query);
    const context: WalkContext = {
      viewer: query.viewer,
      joinedRooms: new Set(await this.storage.rooms.roomsWithMembership(query.viewer, 'join')),
      suggestedOnly: cursor.suggestedOnly,
      maxDepth: cursor.maxDepth,
      via: new Map(),
      described: new Map(),
      inaccessible: new Set(),
    };
    const load = (roomId: string, depth: number) => this.loadRoom(roomId, depth, context);
    const root = await load(query.roomId, 0);
    if (!root) throw errors.forbidden('You are not allowed to view this room');
    const walk = walkHierarchy(query.roomId, cursor.maxDepth, (roomId, depth) =>
      roomId === query.roomId ? Promise.resolve(root) : load(roomId, depth),
    );
    const page = await pageOf(walk, cursor.served, limit);
    const served = cursor.served + page.rooms.length;
    return {
      rooms: page.rooms.map((room) => room.entry),
      ...(page.more ? { next_batch: encodeCursor({ ...cursor, served }) } : {}),
    };
  }

  /**
   * A room this server holds with one of its users joined, described from
   * its current state (`children_state` kept to suggested children when
   * asked); undefined for any other room. What federation serves, too.
   */
  async describeLocal(roomId: string, suggestedOnly: boolean): Promise<DescribedRoom | undefined> {
    const room = await this.storage.rooms.getRoom(roomId);
    if (!room) return undefined;
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const state = await this.stateEvents(ids);
    const content = (type: string) => state.get(stateMapKey(type, ''))?.pdu.content;
    const { joined } = await this.storage.rooms.memberCounts(roomId);
    const summary = roomSummary(roomId, content, joined);
    const children = childrenToShow(summary, [...state.values()], suggestedOnly);
    const details = roomDetails(room.version, content);
    return {
      roomId,
      entry: { ...summary, ...details, children_state: children.map(strippedChild) },
      children: children.map((e) => ({ roomId: e.pdu.state_key!, via: viaOf(e.pdu.content) })),
      access: {
        joinRule: stringOr(content('m.room.join_rules')?.join_rule),
        worldReadable:
          content('m.room.history_visibility')?.history_visibility === 'world_readable',
        allowRoomIds: allowedRoomIds(content('m.room.join_rules')),
        knockRestricted: roomVersion(room.version).knockRestrictedJoinRule,
      },
    };
  }

  /** The room's hierarchy entry, or undefined when it cannot be shown to the viewer. */
  private async loadRoom(
    roomId: string,
    depth: number,
    context: WalkContext,
  ): Promise<HierarchyRoom | undefined> {
    const described = (await this.isLocal(roomId))
      ? await this.describeLocal(roomId, context.suggestedOnly)
      : await this.describeRemote(roomId, depth, context);
    if (!described) return undefined;
    const membership = await currentMembership(this.storage, roomId, context.viewer);
    if (!mayViewRoom({ ...described.access, membership }, context.joinedRooms)) return undefined;
    for (const child of described.children) {
      if (!context.via.has(child.roomId)) context.via.set(child.roomId, child.via);
    }
    return {
      roomId,
      childIds: described.children.map((child) => child.roomId),
      entry: described.entry,
    };
  }

  /** Whether the room is ours to describe: without federation, any room held is. */
  private async isLocal(roomId: string): Promise<boolean> {
    return !this.remote || this.storage.rooms.hasJoinedMember(roomId, this.serverName);
  }

  /**
   * A room of other servers: from its parent's answer when that described it
   * well enough, else from its own; a room we hold but left falls back to
   * what we hold when no server answers.
   */
  private async describeRemote(
    roomId: string,
    depth: number,
    context: WalkContext,
  ): Promise<DescribedRoom | undefined> {
    if (context.inaccessible.has(roomId)) return undefined;
    let entry = context.described.get(roomId);
    const childrenToWalk = entry?.room_type === 'm.space' && depth < context.maxDepth;
    if (!entry || (childrenToWalk && !Array.isArray(entry.children_state))) {
      const answer = await this.askRemote(roomId, context);
      entry = answer?.room ?? entry;
    }
    if (!entry) return this.describeLocal(roomId, context.suggestedOnly);
    return describedFromRemote(roomId, entry, context.suggestedOnly);
  }

  /** The room's own answer; what it says of the children is kept for when the walk reaches them. */
  private async askRemote(roomId: string, context: WalkContext): Promise<RemoteSpace | undefined> {
    const via = (context.via.get(roomId) ?? serversOfRoomId(roomId)).filter(
      (server) => server !== this.serverName,
    );
    if (via.length === 0 || !this.remote) return undefined;
    const answer = await this.remote.space(roomId, via, context.suggestedOnly);
    for (const child of answer?.children ?? []) {
      const childId = child.room_id as string;
      if (!context.described.has(childId)) context.described.set(childId, child);
    }
    for (const childId of answer?.inaccessible ?? []) context.inaccessible.add(childId);
    return answer;
  }

  /** The summary's state events and every space child event. */
  private async stateEvents(ids: StateIds): Promise<Map<string, EventRecord>> {
    const keys = [
      ...[...SUMMARY_STATE_TYPES, ...DETAIL_STATE_TYPES].map((type) => stateMapKey(type, '')),
      ...[...ids.keys()].filter(isSpaceChildKey),
    ];
    const wanted = keys.flatMap((key) => ids.get(key) ?? []);
    const events = await this.storage.rooms.getEvents(wanted);
    return new Map(events.map((e) => [stateMapKey(e.pdu.type, e.pdu.state_key ?? ''), e]));
  }
}

/**
 * A room as another server described it (already kept to the spec's shapes):
 * its children ordered and kept to suggested ones as we would; the room
 * version unknown, `knock_restricted` is taken as valid (as Synapse).
 */
function describedFromRemote(
  roomId: string,
  entry: JsonObject,
  suggestedOnly: boolean,
): DescribedRoom {
  const given = Array.isArray(entry.children_state) ? (entry.children_state as JsonObject[]) : [];
  const children = entry.room_type === 'm.space' ? orderedStrippedChildren(given) : [];
  const shown = suggestedOnly ? children.filter((e) => e.content.suggested === true) : children;
  const allowed = Array.isArray(entry.allowed_room_ids) ? entry.allowed_room_ids : [];
  return {
    roomId,
    entry: { ...entry, children_state: shown as unknown as JsonObject[] },
    children: shown.map((e) => ({ roomId: e.state_key, via: viaOf(e.content) })),
    access: {
      joinRule: stringOr(entry.join_rule),
      worldReadable: entry.world_readable === true,
      allowRoomIds: allowed.filter((id): id is string => typeof id === 'string'),
      knockRestricted: true,
    },
  };
}

/** The server a room ID names (IDs before room version 12 have one): where to ask of a root. */
function serversOfRoomId(roomId: string): string[] {
  const server = serverNameOf(roomId);
  return server !== undefined && isValidServerName(server) ? [server] : [];
}

/** Only spaces have children (the spec: children_state is empty for other rooms). */
function childrenToShow(
  summary: JsonObject,
  state: EventRecord[],
  suggestedOnly: boolean,
): EventRecord[] {
  if (summary.room_type !== 'm.space') return [];
  const children = orderedChildren(state);
  return suggestedOnly ? children.filter((e) => e.pdu.content.suggested === true) : children;
}

/** A child event as the spec's StrippedChildStateEvent. */
function strippedChild(event: EventRecord): JsonObject {
  return {
    type: event.pdu.type,
    state_key: event.pdu.state_key ?? '',
    content: event.pdu.content,
    sender: event.pdu.sender,
    origin_server_ts: event.pdu.origin_server_ts,
  };
}

function isSpaceChildKey(key: string): boolean {
  return stateMapKeyType(key) === SPACE_CHILD;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function limitOf(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (limit < 1) throw errors.invalidParam('limit must be greater than zero');
  return Math.min(limit, MAX_LIMIT);
}

/**
 * Where this page starts: a fresh walk, or the one a `from` token continues,
 * whose `suggested_only` and `max_depth` may not change (the spec's 400).
 */
function cursorOf(query: HierarchyQuery): HierarchyCursor {
  const suggestedOnly = query.suggestedOnly ?? false;
  const maxDepth = Math.min(query.maxDepth ?? MAX_DEPTH, MAX_DEPTH);
  if (query.from === undefined) return { roomId: query.roomId, suggestedOnly, maxDepth, served: 0 };
  const cursor = decodeCursor(query.from);
  if (!cursor || cursor.roomId !== query.roomId) throw errors.invalidParam('Unknown from token');
  const changed =
    (query.suggestedOnly !== undefined && query.suggestedOnly !== cursor.suggestedOnly) ||
    (query.maxDepth !== undefined && maxDepth !== cursor.maxDepth);
  if (changed) {
    throw errors.invalidParam('suggested_only and max_depth cannot change on paginated requests');
  }
  return cursor;
}
