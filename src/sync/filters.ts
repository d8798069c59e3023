/**
 * Filters (spec: "Filtering"): parsing and validating a filter definition, and
 * the pure functions that apply it to events.
 *
 * Validation: a field of the wrong type is refused with 400 M_BAD_JSON when
 * the filter came in a request body (POST /user/{userId}/filter), and with
 * M_INVALID_PARAM when it came inline in a query parameter (/sync, /messages),
 * as `protocol/params.ts` does for every other field. Unknown keys are ignored, so
 * that filters written for newer spec versions or MSCs keep working. A `null`
 * value counts as absent, as elsewhere in Weft.
 *
 * Matching follows the spec and Synapse: a `not_*` list always wins over its
 * inclusion list; an absent inclusion list includes everything, an empty one
 * nothing; `*` in `types` / `not_types` matches any sequence of characters.
 */
import { MatrixError, errors } from '../protocol/errors.js';

/** Where a filter came from decides the error code of a refusal. */
export type FilterSource = 'body' | 'query';

export interface EventFilter {
  /** Clamped to [0, MAX_FILTER_LIMIT]; undefined when the client left it to the server. */
  limit: number | undefined;
  types: readonly string[] | undefined;
  notTypes: readonly string[];
  senders: readonly string[] | undefined;
  notSenders: readonly string[];
}

export interface RoomEventFilter extends EventFilter {
  rooms: readonly string[] | undefined;
  notRooms: readonly string[];
  /** true: only events whose content has a string `url`; false: only those without; undefined: either. */
  containsUrl: boolean | undefined;
  lazyLoadMembers: boolean;
  /** Only ever true when lazyLoadMembers is: the spec says it does not apply otherwise. */
  includeRedundantMembers: boolean;
  unreadThreadNotifications: boolean;
}

export interface RoomFilter {
  rooms: readonly string[] | undefined;
  notRooms: readonly string[];
  includeLeave: boolean;
  ephemeral: RoomEventFilter;
  state: RoomEventFilter;
  timeline: RoomEventFilter;
  accountData: RoomEventFilter;
}

export interface SyncFilter {
  /** Undefined (or, as Synapse reads it, an empty list): every field. */
  eventFields: readonly string[] | undefined;
  eventFormat: 'client' | 'federation';
  presence: EventFilter;
  accountData: EventFilter;
  room: RoomFilter;
}

/** The parts of an event (client format, presence, account data) that filters look at. */
export interface FilterableEvent {
  type: string;
  sender?: string;
  room_id?: string;
  content?: unknown;
}

/** The most events one filter may ask for; a larger limit is lowered to it. */
export const MAX_FILTER_LIMIT = 1000;
/** The timeline limit when the filter gives none (Synapse's default as well). */
export const DEFAULT_TIMELINE_LIMIT = 10;

type Json = Record<string, unknown>;

/** Reads one filter object, knowing where it is (for messages) and which error code to use. */
class FilterReader {
  constructor(
    private readonly source: FilterSource,
    private readonly where: string,
  ) {}

  refuse(message: string): MatrixError {
    const text = `Invalid filter: ${message}`;
    return this.source === 'body' ? errors.badJson(text) : errors.invalidParam(text);
  }

  object(value: unknown, key: string): Json {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw this.refuse(`${this.where}${key} must be an object`);
    }
    return value as Json;
  }

  nested(key: string): FilterReader {
    return new FilterReader(this.source, `${this.where}${key}.`);
  }

  stringList(obj: Json, key: string, prefix = ''): string[] | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    const valid =
      Array.isArray(value) &&
      value.every((item) => typeof item === 'string' && item.startsWith(prefix));
    if (!valid) {
      const what = prefix === '' ? 'strings' : `strings starting with ${prefix}`;
      throw this.refuse(`${this.where}${key} must be an array of ${what}`);
    }
    return value as string[];
  }

  boolean(obj: Json, key: string): boolean | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw this.refuse(`${this.where}${key} must be a boolean`);
    return value;
  }

  limit(obj: Json): number | undefined {
    const value = obj.limit;
    if (value === undefined || value === null) return undefined;
    // The spec asks for an integer > 0; 0 is tolerated (some clients send it for "no events").
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw this.refuse(`${this.where}limit must be a non-negative integer`);
    }
    return Math.min(value, MAX_FILTER_LIMIT);
  }
}

/** Validates a filter definition (the body of POST /user/{userId}/filter, or an inline filter). */
export function parseSyncFilter(value: unknown, source: FilterSource = 'body'): SyncFilter {
  const reader = new FilterReader(source, '');
  const json = reader.object(value, 'filter');
  return {
    eventFields: readEventFields(reader, json),
    eventFormat: readEventFormat(reader, json),
    presence: readEventFilter(reader.nested('presence'), reader.object(json.presence, 'presence')),
    accountData: readEventFilter(
      reader.nested('account_data'),
      reader.object(json.account_data, 'account_data'),
    ),
    room: readRoomFilter(reader.nested('room'), reader.object(json.room, 'room')),
  };
}

/** Validates a RoomEventFilter on its own (the `filter` parameter of /messages and /context). */
export function parseRoomEventFilter(
  value: unknown,
  source: FilterSource = 'query',
): RoomEventFilter {
  const reader = new FilterReader(source, '');
  return readRoomEventFilter(reader, reader.object(value, 'filter'));
}

/**
 * An inline filter from a query string: JSON text → a validated value, every
 * failure as M_INVALID_PARAM. (The /sync `filter` parameter is inline when it
 * starts with `{`, otherwise it is a filter ID: see isInlineFilter.)
 */
export function parseInlineJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw errors.invalidParam('Invalid filter: not valid JSON');
  }
}

export function isInlineFilter(filterParam: string): boolean {
  return filterParam.trimStart().startsWith('{');
}

function readEventFields(reader: FilterReader, json: Json): string[] | undefined {
  const fields = reader.stringList(json, 'event_fields');
  return fields !== undefined && fields.length > 0 ? fields : undefined;
}

function readEventFormat(reader: FilterReader, json: Json): 'client' | 'federation' {
  const format = json.event_format;
  if (format === undefined || format === null) return 'client';
  if (format !== 'client' && format !== 'federation') {
    throw reader.refuse('event_format must be "client" or "federation"');
  }
  return format;
}

function readEventFilter(reader: FilterReader, json: Json): EventFilter {
  return {
    limit: reader.limit(json),
    types: reader.stringList(json, 'types'),
    notTypes: reader.stringList(json, 'not_types') ?? [],
    senders: reader.stringList(json, 'senders', '@'),
    notSenders: reader.stringList(json, 'not_senders', '@') ?? [],
  };
}

function readRoomEventFilter(reader: FilterReader, json: Json): RoomEventFilter {
  const lazyLoadMembers = reader.boolean(json, 'lazy_load_members') ?? false;
  return {
    ...readEventFilter(reader, json),
    rooms: reader.stringList(json, 'rooms', '!'),
    notRooms: reader.stringList(json, 'not_rooms', '!') ?? [],
    containsUrl: reader.boolean(json, 'contains_url'),
    lazyLoadMembers,
    includeRedundantMembers:
      lazyLoadMembers && (reader.boolean(json, 'include_redundant_members') ?? false),
    unreadThreadNotifications: reader.boolean(json, 'unread_thread_notifications') ?? false,
  };
}

function readRoomFilter(reader: FilterReader, json: Json): RoomFilter {
  const part = (key: string) =>
    readRoomEventFilter(reader.nested(key), reader.object(json[key], key));
  return {
    rooms: reader.stringList(json, 'rooms', '!'),
    notRooms: reader.stringList(json, 'not_rooms', '!') ?? [],
    includeLeave: reader.boolean(json, 'include_leave') ?? false,
    ephemeral: part('ephemeral'),
    state: part('state'),
    timeline: part('timeline'),
    accountData: part('account_data'),
  };
}

/** The filter a request without one gets. */
export const DEFAULT_SYNC_FILTER: SyncFilter = parseSyncFilter({});

// ---------------------------------------------------------------------------
// Matching

/** Glob with `*` only, without building a RegExp (no ReDoS, no cache needed). */
export function matchesWildcard(value: string, pattern: string): boolean {
  if (!pattern.includes('*')) return value === pattern;
  const pieces = pattern.split('*');
  const first = pieces[0] ?? '';
  const last = pieces[pieces.length - 1] ?? '';
  if (!value.startsWith(first)) return false;
  let position = first.length;
  // Taking each middle piece at its leftmost place leaves the most room for the rest.
  for (const piece of pieces.slice(1, -1)) {
    const found = value.indexOf(piece, position);
    if (found < 0) return false;
    position = found + piece.length;
  }
  return value.length - position >= last.length && value.endsWith(last);
}

/** An exclusion list beats the inclusion list; an absent inclusion list allows everything. */
function allowedBy(
  value: string | undefined,
  include: readonly string[] | undefined,
  exclude: readonly string[],
  matches: (value: string, entry: string) => boolean,
): boolean {
  if (value === undefined) return include === undefined;
  if (exclude.some((entry) => matches(value, entry))) return false;
  return include === undefined || include.some((entry) => matches(value, entry));
}

const equals = (value: string, entry: string) => value === entry;

/** Whether a room passes a filter's `rooms` / `not_rooms`. */
export function roomMatchesFilter(
  roomId: string,
  filter: Pick<RoomFilter, 'rooms' | 'notRooms'>,
): boolean {
  return allowedBy(roomId, filter.rooms, filter.notRooms, equals);
}

/**
 * Whether an event passes a filter. Room conditions apply only to filters that
 * have them and to events in a room (presence and global account data have
 * none). Sync's events carry no `room_id`: pass the room as `roomId`.
 */
export function eventMatchesFilter(
  event: FilterableEvent,
  filter: EventFilter | RoomEventFilter,
  roomId: string | undefined = event.room_id,
): boolean {
  if (!allowedBy(event.type, filter.types, filter.notTypes, matchesWildcard)) return false;
  if (!allowedBy(event.sender, filter.senders, filter.notSenders, equals)) return false;
  if (!('notRooms' in filter)) return true;
  if (roomId !== undefined && !roomMatchesFilter(roomId, filter)) return false;
  return filter.containsUrl === undefined || filter.containsUrl === hasUrl(event);
}

function hasUrl(event: FilterableEvent): boolean {
  const content = event.content;
  return (
    typeof content === 'object' &&
    content !== null &&
    typeof (content as Record<string, unknown>).url === 'string'
  );
}

/**
 * True when the filter matches no event at all (clients switch presence off
 * with `not_types: ["*"]`), so the stream behind it need not be read.
 */
export function filterBlocksEverything(filter: EventFilter | RoomEventFilter): boolean {
  return (
    filter.notTypes.includes('*') ||
    filter.types?.length === 0 ||
    filter.senders?.length === 0 ||
    ('notRooms' in filter && filter.rooms?.length === 0)
  );
}

// ---------------------------------------------------------------------------
// event_fields

/**
 * Splits a dot-separated property path (spec appendix): `\.` is a literal dot,
 * `\\` a literal backslash, any other backslash is kept as is.
 */
export function splitPropertyPath(path: string): string[] {
  const segments: string[] = [];
  let segment = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    const next = path[i + 1];
    if (char === '\\' && (next === '.' || next === '\\')) {
      segment += next;
      i++;
    } else if (char === '.') {
      segments.push(segment);
      segment = '';
    } else {
      segment += char;
    }
  }
  segments.push(segment);
  return segments;
}

/**
 * The event with only the fields the filter's `event_fields` lists. Paths that
 * do not exist, or go through a non-object, are skipped. The result shares the
 * selected values with the input (they are not copied): do not mutate either.
 */
export function applyEventFields<T extends object>(
  clientEvent: T,
  fields: readonly string[] | undefined,
): Partial<T> {
  if (fields === undefined || fields.length === 0) return clientEvent;
  const result: Json = {};
  for (const field of fields) copyPath(clientEvent as Json, result, splitPropertyPath(field));
  return result as Partial<T>;
}

function copyPath(source: Json, target: Json, path: string[]): void {
  const [key, ...rest] = path;
  if (key === undefined || !Object.hasOwn(source, key)) return;
  const value = source[key];
  const existing = target[key];
  // Already copied whole by a shorter path: writing into it would change the input event.
  if (Object.hasOwn(target, key) && existing === value) return;
  if (rest.length === 0) {
    setOwn(target, key, value);
    return;
  }
  if (!isPlainObject(value)) return;
  const child: Json = Object.hasOwn(target, key) && isPlainObject(existing) ? existing : {};
  copyPath(value, child, rest);
  if (Object.keys(child).length > 0) setOwn(target, key, child);
}

/** Plain assignment of `__proto__` would set the prototype instead of a property. */
function setOwn(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
