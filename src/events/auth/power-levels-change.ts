/**
 * Rule 9 (v12: 10): `m.room.power_levels` — the content's shape, then what the
 * sender may change relative to the current power levels event. Rule numbers
 * are v10/v11's; `refusedBy` shifts them for v12.
 */
import type { RoomVersion } from '../room-versions.js';
import {
  isPowerLevelValue,
  NAMED_LEVELS,
  powerLevelOf,
  powerLevelsContent,
} from '../power-levels.js';
import type { JsonObject, JsonValue, Pdu } from '../pdu.js';
import { type AuthState, isObject, roomCreators } from './auth-state.js';
import { isValidUserId } from './ids.js';
import { ALLOWED, type AuthResult, refused, refusedBy } from './result.js';

export function authorizePowerLevels(
  event: Pdu,
  state: AuthState,
  version: RoomVersion,
): AuthResult {
  const content = event.content;
  const shapeProblem =
    refuseNonIntegerLevels(content, version) ??
    refuseBadLevelMaps(content, version) ??
    refuseBadUsers(content, version) ??
    refuseCreatorsInUsers(content, state, version);
  if (shapeProblem) return shapeProblem;
  const current = powerLevelsContent(state);
  if (!current) return ALLOWED; // 9.4
  const senderLevel = powerLevelOf(event.sender, state, version);
  return (
    refuseNamedLevelChanges(current, content, senderLevel, version) ??
    refuseMapChanges(current, content, senderLevel, version) ??
    refuseUserChanges(current, content, event.sender, senderLevel, version) ??
    ALLOWED // 9.10
  );
}

/** 9.1 */
function refuseNonIntegerLevels(content: JsonObject, version: RoomVersion): AuthResult | undefined {
  const bad = NAMED_LEVELS.find(
    (name) => content[name] !== undefined && !isPowerLevelValue(content[name], version),
  );
  if (!bad) return undefined;
  return refusedBy(version, '9.1', 'power levels: not an integer', `${bad} is not an integer`);
}

function isLevelMap(value: JsonValue | undefined, version: RoomVersion): boolean {
  return isObject(value) && Object.values(value).every((v) => isPowerLevelValue(v, version));
}

/** 9.2 */
function refuseBadLevelMaps(content: JsonObject, version: RoomVersion): AuthResult | undefined {
  const bad = (['events', 'notifications'] as const).find(
    (name) => content[name] !== undefined && !isLevelMap(content[name], version),
  );
  if (!bad) return undefined;
  return refusedBy(version, '9.2', 'power levels: bad map', `${bad} must map to integers`);
}

/** 9.3 (an absent `users` is accepted, as Synapse does). */
function refuseBadUsers(content: JsonObject, version: RoomVersion): AuthResult | undefined {
  const users = content.users;
  if (users === undefined) return undefined;
  const valid = isLevelMap(users, version) && Object.keys(users as JsonObject).every(isValidUserId);
  if (valid) return undefined;
  return refusedBy(
    version,
    '9.3',
    'power levels: bad users',
    'users must map valid user IDs to integers',
  );
}

/** 10.4 of v12: creators have infinite power and must not appear in `users`. */
function refuseCreatorsInUsers(
  content: JsonObject,
  state: AuthState,
  version: RoomVersion,
): AuthResult | undefined {
  if (!version.creatorsHaveInfinitePower || !isObject(content.users)) return undefined;
  const users = content.users;
  const listed = roomCreators(state, version).find((creator) => Object.hasOwn(users, creator));
  if (!listed) return undefined;
  return refused(
    '10.4 power levels: creator in users',
    `Creator ${listed} cannot be listed in users`,
  );
}

/** A level present in the content, or undefined (absent values are not compared). */
function rawLevel(value: JsonValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  return typeof value === 'string' ? Number.parseInt(value, 10) : undefined;
}

/** 9.5: an added, changed or removed top-level level must be ≤ the sender's, before and after. */
function refuseNamedLevelChanges(
  current: JsonObject,
  next: JsonObject,
  senderLevel: number,
  version: RoomVersion,
): AuthResult | undefined {
  for (const name of NAMED_LEVELS) {
    const before = rawLevel(current[name]);
    const after = rawLevel(next[name]);
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) {
      return refusedBy(
        version,
        '9.5.1',
        'power levels: change above own level',
        `${name} is ${before}, above your ${senderLevel}`,
      );
    }
    if (after !== undefined && after > senderLevel) {
      return refusedBy(
        version,
        '9.5.2',
        'power levels: raise above own level',
        `${name} ${after} is above your ${senderLevel}`,
      );
    }
  }
  return undefined;
}

/** Each key of two level maps whose value differs: [key, before, after]. */
function changedEntries(
  before: JsonValue | undefined,
  after: JsonValue | undefined,
): [string, number | undefined, number | undefined][] {
  const old = isObject(before) ? before : {};
  const fresh = isObject(after) ? after : {};
  const keys = new Set([...Object.keys(old), ...Object.keys(fresh)]);
  return [...keys]
    .map((key): [string, number | undefined, number | undefined] => [
      key,
      rawLevel(old[key]),
      rawLevel(fresh[key]),
    ])
    .filter(([, b, a]) => b !== a);
}

/** 9.6 and 9.7: `events` and `notifications` entries. */
function refuseMapChanges(
  current: JsonObject,
  next: JsonObject,
  senderLevel: number,
  version: RoomVersion,
): AuthResult | undefined {
  for (const name of ['events', 'notifications']) {
    for (const [key, before, after] of changedEntries(current[name], next[name])) {
      if (before !== undefined && before > senderLevel) {
        return refusedBy(
          version,
          '9.6.1',
          'power levels: change above own level',
          `${name}.${key} is ${before}, above your ${senderLevel}`,
        );
      }
      if (after !== undefined && after > senderLevel) {
        return refusedBy(
          version,
          '9.7.1',
          'power levels: raise above own level',
          `${name}.${key} ${after} is above your ${senderLevel}`,
        );
      }
    }
  }
  return undefined;
}

/** 9.8 and 9.9: `users` entries; others at or above the sender's level are untouchable. */
function refuseUserChanges(
  current: JsonObject,
  next: JsonObject,
  sender: string,
  senderLevel: number,
  version: RoomVersion,
): AuthResult | undefined {
  for (const [userId, before, after] of changedEntries(current.users, next.users)) {
    if (userId !== sender && before !== undefined && before >= senderLevel) {
      return refusedBy(
        version,
        '9.8.1',
        "power levels: change a peer's level",
        `${userId} is at ${before}, not below your ${senderLevel}`,
      );
    }
    if (after !== undefined && after > senderLevel) {
      return refusedBy(
        version,
        '9.9.1',
        'power levels: raise above own level',
        `${userId} ${after} is above your ${senderLevel}`,
      );
    }
  }
  return undefined;
}
