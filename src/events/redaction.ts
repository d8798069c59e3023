/**
 * The redaction algorithm of the room versions Weft supports (spec rooms/v9
 * "Redactions", used by v10; rooms/v11 "Redactions", used unchanged by v12).
 * Redaction decides what survives a `m.room.redaction`, and it is the first
 * step of the reference hash (event IDs) and of event signing.
 */
import type { RoomVersion } from './room-versions.js';
import { errors } from '../protocol/errors.js';
import { MAX_NESTING_DEPTH } from './canonical-json.js';
import type { JsonObject, JsonValue, Pdu } from './pdu.js';

type Algorithm = RoomVersion['redactionAlgorithm'];

/** Top-level keys every algorithm keeps. */
const COMMON_TOP_LEVEL_KEYS = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'auth_events',
  'origin_server_ts',
];

/** v11 stopped protecting the top-level `origin`, `membership` and `prev_state` (rooms/v11). */
const TOP_LEVEL_KEYS: Record<Algorithm, ReadonlySet<string>> = {
  v9: new Set([...COMMON_TOP_LEVEL_KEYS, 'prev_state', 'origin', 'membership']),
  v11: new Set(COMMON_TOP_LEVEL_KEYS),
};

const POWER_LEVEL_KEYS = [
  'ban',
  'events',
  'events_default',
  'kick',
  'redact',
  'state_default',
  'users',
  'users_default',
];

/** Content keys kept per event type; `all` keeps the whole content (v11 `m.room.create`). */
type ContentRule = readonly string[] | 'all';

const CONTENT_KEYS: Record<Algorithm, Readonly<Record<string, ContentRule>>> = {
  v9: {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': POWER_LEVEL_KEYS,
    'm.room.history_visibility': ['history_visibility'],
  },
  v11: {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': 'all',
    'm.room.join_rules': ['join_rule', 'allow'],
    // v11 keeps `invite` too, as the auth rules read it.
    'm.room.power_levels': [...POWER_LEVEL_KEYS, 'invite'],
    'm.room.history_visibility': ['history_visibility'],
    // v11 moved `redacts` into content, and keeps it there.
    'm.room.redaction': ['redacts'],
  },
};

/**
 * Returns the redacted copy of an event; the input is not changed and shares
 * no objects with the result. `unsigned` is dropped like any unlisted key.
 */
export function redactEvent<T extends Pdu | JsonObject>(event: T, version: RoomVersion): T {
  const algorithm = version.redactionAlgorithm;
  const source = event as Record<string, unknown>;
  const redacted: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (TOP_LEVEL_KEYS[algorithm].has(key)) redacted[key] = copyJson(source[key], 0);
  }
  // Like Synapse, always emit `content`, so a redacted event is well formed.
  redacted.content = redactContent(source.type, source.content, algorithm);
  return redacted as T;
}

function redactContent(type: unknown, content: unknown, algorithm: Algorithm): JsonObject {
  if (!isObject(content) || typeof type !== 'string') return {};
  const rule = Object.hasOwn(CONTENT_KEYS[algorithm], type)
    ? CONTENT_KEYS[algorithm][type]
    : undefined;
  if (rule === undefined) return {};
  if (rule === 'all') return copyJson(content, 0) as JsonObject;
  const kept: JsonObject = {};
  for (const key of rule) {
    if (Object.hasOwn(content, key)) kept[key] = copyJson(content[key], 0);
  }
  if (type === 'm.room.member' && algorithm === 'v11') keepThirdPartySigned(content, kept);
  return kept;
}

/**
 * v11 (MSC3821) keeps `third_party_invite.signed` of a membership, which the
 * auth rules need to check a third-party invite; `display_name` is dropped.
 */
function keepThirdPartySigned(content: JsonObject, kept: JsonObject): void {
  const invite = content.third_party_invite;
  if (isObject(invite) && Object.hasOwn(invite, 'signed')) {
    kept.third_party_invite = { signed: copyJson(invite.signed, 0) };
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy, bounded like canonical JSON so hostile nesting cannot exhaust the stack. */
function copyJson(value: unknown, depth: number): JsonValue {
  if (typeof value !== 'object' || value === null) return value as JsonValue;
  if (depth >= MAX_NESTING_DEPTH) {
    throw errors.badJson(`JSON nested deeper than ${MAX_NESTING_DEPTH} levels`);
  }
  if (Array.isArray(value)) return value.map((item: unknown) => copyJson(item, depth + 1));
  const copy: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    // defineProperty, not `copy[key] =`: an own `__proto__` key must stay a key, not set a prototype.
    Object.defineProperty(copy, key, {
      value: copyJson(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}
