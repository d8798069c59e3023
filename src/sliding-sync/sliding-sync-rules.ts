/**
 * The pure rules of simplified sliding sync (MSC4186, the unstable
 * `org.matrix.simplified_msc3575` endpoint): reading a request tolerantly,
 * resolving `required_state` (with its `$ME`, `$LAZY` and `*` sentinels),
 * list filters, range windows over the ordered room list, and the bump types.
 * No storage, no HTTP.
 *
 * The shapes read are those matrix-rust-sdk sends today (Ruma's
 * `sync_events::v5`). The MSC's newer form is read too: `pos`, `timeout` and
 * `set_presence` in the body, one `range`, `required_state` as `{include, exclude, lazy_members}` of
 * `{type, state_key}` objects, the `is_invited` filter. Unknown fields are
 * ignored, fields of the wrong type are a 400.
 */
import { errors, type MatrixError } from '../protocol/errors.js';

/** One `[type, state_key]` pattern of `required_state`. */
export type StatePattern = readonly [type: string, stateKey: string];

export interface RoomConfig {
  requiredState: readonly StatePattern[];
  /** The MSC's newer `exclude`: state not sent although `requiredState` matches it. */
  excludedState?: readonly StatePattern[];
  timelineLimit: number;
}

export interface ListFilters {
  isDm?: boolean;
  isEncrypted?: boolean;
  isInvite?: boolean;
  /** `null` in these lists stands for rooms without a type. */
  roomTypes?: readonly (string | null)[];
  notRoomTypes?: readonly (string | null)[];
}

export interface ListConfig extends RoomConfig {
  /** Inclusive index ranges over the list's order. */
  ranges: readonly (readonly [number, number])[];
  filters: ListFilters;
}

/** `lists`/`rooms` scoping of an extension: `'*'` for all of them. */
export type Scope = '*' | readonly string[];

export interface ScopedExtension {
  enabled: boolean;
  lists: Scope;
  rooms: Scope;
}

export interface ExtensionsConfig {
  toDevice: { enabled: boolean; limit?: number; since?: number };
  e2ee: { enabled: boolean };
  accountData: ScopedExtension;
  receipts: ScopedExtension;
  typing: ScopedExtension;
}

export interface SlidingSyncRequest {
  /** '' when the client sent none (the default connection). */
  connId: string;
  txnId?: string;
  /** The MSC's newer form carries `pos` in the body; today's clients put it in the query. */
  bodyPos?: string;
  /** Likewise `timeout` (milliseconds) and `set_presence`: the MSC's body fields. */
  bodyTimeoutMs?: number;
  bodySetPresence?: PresenceSetting;
  lists: ReadonlyMap<string, ListConfig>;
  roomSubscriptions: ReadonlyMap<string, RoomConfig>;
  extensions: ExtensionsConfig;
}

/** What `set_presence` may say, in the query or the body (as /sync's). */
const PRESENCE_SETTINGS = ['online', 'offline', 'unavailable'] as const;
export type PresenceSetting = (typeof PRESENCE_SETTINGS)[number];

/** `set_presence`'s value checked: an unknown one is 400 M_INVALID_PARAM, as the MSC says. */
export function presenceSetting(value: string, where: string): PresenceSetting {
  if (!(PRESENCE_SETTINGS as readonly string[]).includes(value)) {
    throw errors.invalidParam(`${where} must be online, offline or unavailable`);
  }
  return value as PresenceSetting;
}

/** The MSC's bump event types: what moves `bump_stamp`. */
export const BUMP_EVENT_TYPES: readonly string[] = [
  'm.room.create',
  'm.room.message',
  'm.room.encrypted',
  'm.sticker',
  'm.call.invite',
  'm.poll.start',
  'm.beacon_info',
];

/**
 * The largest timeline a room of a response carries: more is lowered to it
 * (the MSC lets servers cap; /sync filters are capped the same way).
 */
export const MAX_TIMELINE_LIMIT = 1000;
/** Guards against a request that asks for millions of list entries or patterns. */
const MAX_ITEMS = 1000;
const MAX_CONN_ID_LENGTH = 255;

export const WILDCARD = '*';
export const ME = '$ME';
export const LAZY = '$LAZY';

type Json = Record<string, unknown>;

/** The client's error for a field of the wrong shape. */
function bad(where: string, what: string): MatrixError {
  return errors.badJson(`${where} must be ${what}`);
}

function objectAt(value: unknown, where: string): Json {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(where, 'an object');
  return value as Json;
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw bad(where, 'a boolean');
  return value;
}

function nonNegativeInteger(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(where, 'a non-negative integer');
  }
  return value;
}

function stringArray(value: unknown, where: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw bad(where, 'an array of strings');
  if (!value.every((item) => typeof item === 'string')) throw bad(where, 'an array of strings');
  return value as string[];
}

/** Room type lists: strings, or null for "no type". */
function roomTypeArray(value: unknown, where: string): (string | null)[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw bad(where, 'an array');
  if (!value.every((item) => item === null || typeof item === 'string')) {
    throw bad(where, 'an array of strings or nulls');
  }
  return value as (string | null)[];
}

/** The body of POST .../org.matrix.simplified_msc3575/sync. */
export function parseSlidingSyncRequest(body: unknown): SlidingSyncRequest {
  const top = objectAt(body, 'The body');
  const connId = top.conn_id ?? '';
  if (typeof connId !== 'string' || connId.length > MAX_CONN_ID_LENGTH) {
    throw bad('conn_id', `a string of at most ${MAX_CONN_ID_LENGTH} characters`);
  }
  // Older SDKs send txn_id; today's do not. Echoed back when it is a string.
  const txnId = typeof top.txn_id === 'string' ? top.txn_id : undefined;
  if (top.pos !== undefined && top.pos !== null && typeof top.pos !== 'string') {
    throw bad('pos', 'a string');
  }
  const bodyTimeoutMs = nonNegativeInteger(top.timeout, 'timeout');
  if (top.set_presence !== undefined && top.set_presence !== null) {
    if (typeof top.set_presence !== 'string') throw bad('set_presence', 'a string');
  }
  return {
    connId,
    txnId,
    bodyPos: typeof top.pos === 'string' ? top.pos : undefined,
    ...(bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs }),
    ...(typeof top.set_presence === 'string'
      ? { bodySetPresence: presenceSetting(top.set_presence, 'set_presence') }
      : {}),
    lists: parseLists(top.lists),
    roomSubscriptions: parseSubscriptions(top.room_subscriptions),
    extensions: parseExtensions(top.extensions),
  };
}

function parseLists(value: unknown): Map<string, ListConfig> {
  const lists = new Map<string, ListConfig>();
  const entries = Object.entries(objectAt(value, 'lists'));
  if (entries.length > MAX_ITEMS) throw bad('lists', `at most ${MAX_ITEMS} lists`);
  for (const [name, raw] of entries) {
    const where = `lists.${name}`;
    const list = objectAt(raw, where);
    lists.set(name, {
      ...parseRoomConfig(list, where),
      ranges: parseRanges(list, where),
      filters: parseFilters(list.filters, `${where}.filters`),
    });
  }
  return lists;
}

function parseSubscriptions(value: unknown): Map<string, RoomConfig> {
  const subscriptions = new Map<string, RoomConfig>();
  const entries = Object.entries(objectAt(value, 'room_subscriptions'));
  if (entries.length > MAX_ITEMS) throw bad('room_subscriptions', `at most ${MAX_ITEMS} rooms`);
  for (const [roomId, raw] of entries) {
    const where = `room_subscriptions.${roomId}`;
    if (!roomId.startsWith('!')) throw errors.invalidParam(`${where}: not a room ID`);
    subscriptions.set(roomId, parseRoomConfig(objectAt(raw, where), where));
  }
  return subscriptions;
}

function parseRoomConfig(config: Json, where: string): RoomConfig {
  const limit = nonNegativeInteger(config.timeline_limit, `${where}.timeline_limit`) ?? 0;
  const { include, exclude } = parseRequiredState(config.required_state, `${where}.required_state`);
  return {
    requiredState: include,
    ...(exclude.length > 0 ? { excludedState: exclude } : {}),
    timelineLimit: Math.min(limit, MAX_TIMELINE_LIMIT),
  };
}

/**
 * `[[type, state_key], ...]` (Ruma), or the MSC's newer
 * `{include, exclude, lazy_members}`, whose elements are `{type, state_key}`
 * objects (an omitted field matches everything: `{}` is all state) or pairs;
 * `lazy_members: true` is `["m.room.member", "$LAZY"]`.
 */
export function parseRequiredState(
  value: unknown,
  where: string,
): { include: StatePattern[]; exclude: StatePattern[] } {
  if (value === undefined || value === null) return { include: [], exclude: [] };
  if (Array.isArray(value)) return { include: parsePatterns(value, where), exclude: [] };
  const request = objectAt(value, where);
  const include = parsePatterns(request.include, `${where}.include`);
  const exclude = parsePatterns(request.exclude, `${where}.exclude`);
  if (optionalBoolean(request.lazy_members, `${where}.lazy_members`)) {
    include.push(['m.room.member', LAZY]);
  }
  return { include, exclude };
}

function parsePatterns(value: unknown, where: string): StatePattern[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw bad(where, 'an array');
  return value.map((element, i) => parsePattern(element, `${where}[${i}]`));
}

/** `[type, state_key]`, or `{type?, state_key?}` (an omitted one is the `*` wildcard). */
function parsePattern(element: unknown, where: string): StatePattern {
  if (Array.isArray(element)) {
    const [type, stateKey] = element as unknown[];
    if (element.length !== 2 || typeof type !== 'string' || typeof stateKey !== 'string') {
      throw bad(where, 'a pair of strings');
    }
    return [type, stateKey];
  }
  if (element === null || typeof element !== 'object') throw bad(where, 'a pair or an object');
  const { type, state_key: stateKey } = element as Json;
  if (type !== undefined && typeof type !== 'string') throw bad(`${where}.type`, 'a string');
  if (stateKey !== undefined && typeof stateKey !== 'string') {
    throw bad(`${where}.state_key`, 'a string');
  }
  return [type ?? WILDCARD, stateKey ?? WILDCARD];
}

/** `ranges: [[a, b], ...]` (Ruma) or the MSC's newer single `range: [a, b]`. */
function parseRanges(list: Json, where: string): [number, number][] {
  const raw = list.ranges ?? (list.range === undefined ? [] : [list.range]);
  if (!Array.isArray(raw) || raw.length > MAX_ITEMS) throw bad(`${where}.ranges`, 'an array');
  return raw.map((range, i) => {
    const at = `${where}.ranges[${i}]`;
    if (!Array.isArray(range) || range.length !== 2) throw bad(at, 'a pair of integers');
    const start = nonNegativeInteger(range[0], at);
    const end = nonNegativeInteger(range[1], at);
    if (start === undefined || end === undefined) throw bad(at, 'a pair of integers');
    if (end < start) throw errors.invalidParam(`${at}: the end is before the start`);
    return [start, end];
  });
}

function parseFilters(value: unknown, where: string): ListFilters {
  const filters = objectAt(value, where);
  // `spaces`, `tags`, `not_tags`, `room_name_like` and `is_tombstoned` are no longer sent: ignored.
  return {
    isDm: optionalBoolean(filters.is_dm, `${where}.is_dm`),
    isEncrypted: optionalBoolean(filters.is_encrypted, `${where}.is_encrypted`),
    // `is_invited` is the MSC's newer name.
    isInvite: optionalBoolean(
      filters.is_invite ?? filters.is_invited,
      `${where}.${filters.is_invite === undefined ? 'is_invited' : 'is_invite'}`,
    ),
    roomTypes: roomTypeArray(filters.room_types, `${where}.room_types`),
    notRoomTypes: roomTypeArray(filters.not_room_types, `${where}.not_room_types`),
  };
}

function parseScope(value: unknown, where: string): Scope {
  const names = stringArray(value, where);
  if (names === undefined || names.includes(WILDCARD)) return WILDCARD;
  return names;
}

function parseScoped(value: unknown, where: string): ScopedExtension {
  const ext = objectAt(value, where);
  return {
    enabled: optionalBoolean(ext.enabled, `${where}.enabled`) ?? false,
    lists: parseScope(ext.lists, `${where}.lists`),
    rooms: parseScope(ext.rooms, `${where}.rooms`),
  };
}

function parseExtensions(value: unknown): ExtensionsConfig {
  const ext = objectAt(value, 'extensions');
  const toDevice = objectAt(ext.to_device, 'extensions.to_device');
  const e2ee = objectAt(ext.e2ee, 'extensions.e2ee');
  return {
    toDevice: {
      enabled: optionalBoolean(toDevice.enabled, 'extensions.to_device.enabled') ?? false,
      limit: nonNegativeInteger(toDevice.limit, 'extensions.to_device.limit'),
      since: parseToDeviceSince(toDevice.since),
    },
    e2ee: { enabled: optionalBoolean(e2ee.enabled, 'extensions.e2ee.enabled') ?? false },
    accountData: parseScoped(ext.account_data, 'extensions.account_data'),
    receipts: parseScoped(ext.receipts, 'extensions.receipts'),
    typing: parseScoped(ext.typing, 'extensions.typing'),
  };
}

/** The to-device `since`: the `next_batch` this server gave, a decimal position. */
function parseToDeviceSince(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(value)) {
    throw errors.invalidParam('extensions.to_device.since is not a next_batch of this server');
  }
  return Number(value);
}

// ---------------------------------------------------------------------------
// required_state

/** What a `required_state` asks for, resolved for one user. */
export interface StateWanted {
  /** `["*", "*"]`: every state event. */
  all: boolean;
  /** Per type: every key (`*`), or these keys. */
  byType: ReadonlyMap<string, '*' | ReadonlySet<string>>;
  /** `["*", key]`: that key of any type. */
  anyTypeKeys: ReadonlySet<string>;
  /** `["m.room.member", "$LAZY"]`. */
  lazyMembers: boolean;
  /** What `exclude` takes out again (never the lazy members, as the MSC says). */
  excluded?: StateWanted;
}

export function resolveRequiredState(
  patterns: readonly StatePattern[],
  userId: string,
  excluded: readonly StatePattern[] = [],
): StateWanted {
  let all = false;
  let lazyMembers = false;
  const byType = new Map<string, '*' | Set<string>>();
  const anyTypeKeys = new Set<string>();
  for (const [type, rawKey] of patterns) {
    const stateKey = rawKey === ME ? userId : rawKey;
    if (type === WILDCARD && stateKey === WILDCARD) all = true;
    else if (type === WILDCARD) anyTypeKeys.add(stateKey);
    else if (type === 'm.room.member' && rawKey === LAZY) lazyMembers = true;
    else if (stateKey === WILDCARD) byType.set(type, WILDCARD);
    else {
      const keys = byType.get(type);
      if (keys === WILDCARD) continue;
      if (keys) keys.add(stateKey);
      else byType.set(type, new Set([stateKey]));
    }
  }
  const exclusion = excluded.length > 0 ? resolveRequiredState(excluded, userId) : undefined;
  return { all, byType, anyTypeKeys, lazyMembers, ...(exclusion ? { excluded: exclusion } : {}) };
}

/**
 * Whether a state entry is wanted. `lazyUsers` are the members `$LAZY` brings
 * in (the timeline's senders and membership targets).
 */
export function wantsState(
  wanted: StateWanted,
  type: string,
  stateKey: string,
  lazyUsers: ReadonlySet<string>,
): boolean {
  if (type === 'm.room.member' && wanted.lazyMembers && lazyUsers.has(stateKey)) return true;
  if (!matchesPatterns(wanted, type, stateKey)) return false;
  return !(wanted.excluded && matchesPatterns(wanted.excluded, type, stateKey));
}

function matchesPatterns(wanted: StateWanted, type: string, stateKey: string): boolean {
  if (wanted.all || wanted.anyTypeKeys.has(stateKey)) return true;
  const keys = wanted.byType.get(type);
  return keys === WILDCARD || keys?.has(stateKey) === true;
}

/** The users `$LAZY` loads for a timeline: its senders and the targets of its member events. */
export function lazyUsersOf(
  timeline: readonly { sender: string; type: string; stateKey?: string }[],
): Set<string> {
  const users = new Set<string>();
  for (const event of timeline) {
    users.add(event.sender);
    if (event.type === 'm.room.member' && event.stateKey !== undefined) users.add(event.stateKey);
  }
  return users;
}

/**
 * Merges the configs of a room in several lists and subscriptions: every
 * pattern, the longest timeline, and only the exclusions all of them make
 * (more state than asked is allowed; less is not).
 */
export function mergeRoomConfigs(configs: readonly RoomConfig[]): RoomConfig {
  if (configs.length === 1) return configs[0]!;
  const seen = new Set<string>();
  const requiredState: StatePattern[] = [];
  let timelineLimit = 0;
  for (const config of configs) {
    timelineLimit = Math.max(timelineLimit, config.timelineLimit);
    for (const pattern of config.requiredState) {
      const key = JSON.stringify(pattern);
      if (seen.has(key)) continue;
      seen.add(key);
      requiredState.push(pattern);
    }
  }
  const [first, ...others] = configs.map((config) => config.excludedState ?? []);
  const excludedState = first!.filter((pattern) =>
    others.every((list) => list.some((other) => samePattern(other, pattern))),
  );
  return { requiredState, ...(excludedState.length ? { excludedState } : {}), timelineLimit };
}

function samePattern(a: StatePattern, b: StatePattern): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

const configKeys = new WeakMap<RoomConfig, string>();

/**
 * requiredStateKey() of a room config, worked out once per config object: a
 * list's rooms share their list's config, and a long-poll over the whole list
 * asks it of every room on each wake-up.
 */
export function configStateKey(config: RoomConfig): string {
  let key = configKeys.get(config);
  if (key === undefined) {
    key = requiredStateKey(config.requiredState, config.excludedState);
    configKeys.set(config, key);
  }
  return key;
}

/** A canonical text of a `required_state` (and its exclusions): equal texts ask for the same state. */
export function requiredStateKey(
  patterns: readonly StatePattern[],
  excluded: readonly StatePattern[] = [],
): string {
  const canonical = (list: readonly StatePattern[]) =>
    [...new Set(list.map((pattern) => JSON.stringify(pattern)))].sort().join(',');
  const included = `[${canonical(patterns)}]`;
  return excluded.length > 0 ? `${included}-[${canonical(excluded)}]` : included;
}

// ---------------------------------------------------------------------------
// Lists

/** What list filters look at of one room. */
export interface RoomFacts {
  membership: string;
  isDm: boolean;
  isEncrypted: boolean;
  /** The create event's `type`; null for an ordinary room. */
  roomType: string | null;
}

export function matchesListFilters(room: RoomFacts, filters: ListFilters): boolean {
  if (filters.isDm !== undefined && room.isDm !== filters.isDm) return false;
  if (filters.isEncrypted !== undefined && room.isEncrypted !== filters.isEncrypted) return false;
  if (filters.isInvite !== undefined && (room.membership === 'invite') !== filters.isInvite) {
    return false;
  }
  if (filters.roomTypes && !filters.roomTypes.includes(room.roomType)) return false;
  if (filters.notRoomTypes?.includes(room.roomType)) return false;
  return true;
}

export interface RankedRoom {
  roomId: string;
  /** The stream position of the latest event the user may see in the room. */
  recency: number;
}

/** Newest first; equal positions (never in practice) by room ID, so the order is stable. */
export function orderByRecency<R extends RankedRoom>(rooms: readonly R[]): R[] {
  return [...rooms].sort(
    (a, b) => b.recency - a.recency || (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0),
  );
}

/** The room IDs the ranges select of an ordered list (inclusive ranges, clipped to the list). */
export function roomsInRanges(
  ordered: readonly string[],
  ranges: readonly (readonly [number, number])[],
): string[] {
  const selected = new Set<string>();
  for (const [start, end] of ranges) {
    for (let i = start; i <= Math.min(end, ordered.length - 1); i++) selected.add(ordered[i]!);
  }
  return [...selected];
}

/** The rooms an extension covers: those of the lists and subscriptions its scope names. */
export function roomsInScope(
  extension: ScopedExtension,
  listRooms: ReadonlyMap<string, readonly string[]>,
  subscribed: readonly string[],
): Set<string> {
  const rooms = new Set<string>();
  for (const [name, ids] of listRooms) {
    if (extension.lists === WILDCARD || extension.lists.includes(name)) {
      for (const id of ids) rooms.add(id);
    }
  }
  for (const id of subscribed) {
    if (extension.rooms === WILDCARD || extension.rooms.includes(id)) rooms.add(id);
  }
  return rooms;
}
