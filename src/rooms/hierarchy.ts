/**
 * The space hierarchy (GET /_matrix/client/v1/rooms/{roomId}/hierarchy): a
 * depth-first walk of `m.space.child` state events from a room, page by page.
 *
 * The walk, the ordering of children and the pagination tokens are pure; the
 * service reads each room's current state through storage. Without federation
 * only rooms this server holds can be described: any other child is skipped.
 */
import { stateMapKey, stateMapKeyType } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import type { EventRecord, StateIds } from '../storage/storage.js';
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

/**
 * Valid child events in the spec's order ("Ordering of children within a
 * space"): those with a valid `order` first, by it; then by the event's
 * `origin_server_ts`; then by room ID.
 */
export function orderedChildren(events: EventRecord[]): EventRecord[] {
  const valid = events.filter((e) => e.pdu.type === SPACE_CHILD && hasValidVia(e.pdu.content));
  return valid.sort(compareChildren);
}

function compareChildren(a: EventRecord, b: EventRecord): number {
  const orderA = orderOf(a);
  const orderB = orderOf(b);
  if (orderA !== orderB) {
    if (orderA === undefined) return 1;
    if (orderB === undefined) return -1;
    return orderA < orderB ? -1 : 1;
  }
  if (a.pdu.origin_server_ts !== b.pdu.origin_server_ts) {
    return a.pdu.origin_server_ts - b.pdu.origin_server_ts;
  }
  return compareStrings(a.pdu.state_key ?? '', b.pdu.state_key ?? '');
}

function orderOf(event: EventRecord): string | undefined {
  const order = event.pdu.content.order;
  return typeof order === 'string' && VALID_ORDER.test(order) ? order : undefined;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
  load: (roomId: string) => Promise<R | undefined>,
): AsyncGenerator<R> {
  const stack = [{ roomId: rootId, depth: 0 }];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const { roomId, depth } = stack.pop()!;
    if (seen.has(roomId)) continue;
    seen.add(roomId);
    const room = await load(roomId);
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

/** The rooms' current state and member counts, and the viewer's joined rooms: reads only. */
export interface HierarchyServiceStorage {
  rooms: RoomStateReader & MembershipReader;
}

export class HierarchyService {
  constructor(private readonly storage: HierarchyServiceStorage) {}

  async hierarchy(query: HierarchyQuery): Promise<JsonObject> {
    const limit = limitOf(query.limit);
    const cursor = cursorOf(query);
    const joinedRooms = new Set(await this.storage.rooms.roomsWithMembership(query.viewer, 'join'));
    const load = (roomId: string) =>
      this.loadRoom(roomId, query.viewer, joinedRooms, cursor.suggestedOnly);
    const root = await load(query.roomId);
    if (!root) throw errors.forbidden('You are not allowed to view this room');
    const walk = walkHierarchy(query.roomId, cursor.maxDepth, (roomId) =>
      roomId === query.roomId ? Promise.resolve(root) : load(roomId),
    );
    const page = await pageOf(walk, cursor.served, limit);
    const served = cursor.served + page.rooms.length;
    return {
      rooms: page.rooms.map((room) => room.entry),
      ...(page.more ? { next_batch: encodeCursor({ ...cursor, served }) } : {}),
    };
  }

  /** The room's hierarchy entry, or undefined when this server cannot show it to the viewer. */
  private async loadRoom(
    roomId: string,
    viewer: string,
    joinedRooms: ReadonlySet<string>,
    suggestedOnly: boolean,
  ): Promise<HierarchyRoom | undefined> {
    const room = await this.storage.rooms.getRoom(roomId);
    if (!room) return undefined;
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const state = await this.stateEvents(ids, viewer);
    const content = (type: string, stateKey = '') =>
      state.get(stateMapKey(type, stateKey))?.pdu.content;
    const access: RoomAccess = {
      membership: stringOr(content('m.room.member', viewer)?.membership),
      joinRule: stringOr(content('m.room.join_rules')?.join_rule),
      worldReadable: content('m.room.history_visibility')?.history_visibility === 'world_readable',
      allowRoomIds: allowedRoomIds(content('m.room.join_rules')),
      knockRestricted: roomVersion(room.version).knockRestrictedJoinRule,
    };
    if (!mayViewRoom(access, joinedRooms)) return undefined;
    const { joined } = await this.storage.rooms.memberCounts(roomId);
    const summary = roomSummary(roomId, (type) => content(type), joined);
    const children = childrenToShow(summary, [...state.values()], suggestedOnly);
    const details = roomDetails(room.version, (type) => content(type));
    return {
      roomId,
      childIds: children.map((child) => child.pdu.state_key!),
      entry: { ...summary, ...details, children_state: children.map(strippedChild) },
    };
  }

  /** The summary's state events, the viewer's member event and every space child event. */
  private async stateEvents(ids: StateIds, viewer: string): Promise<Map<string, EventRecord>> {
    const keys = [
      ...[...SUMMARY_STATE_TYPES, ...DETAIL_STATE_TYPES].map((type) => stateMapKey(type, '')),
      stateMapKey('m.room.member', viewer),
      ...[...ids.keys()].filter(isSpaceChildKey),
    ];
    const wanted = keys.flatMap((key) => ids.get(key) ?? []);
    const events = await this.storage.rooms.getEvents(wanted);
    return new Map(events.map((e) => [stateMapKey(e.pdu.type, e.pdu.state_key ?? ''), e]));
  }
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
