/**
 * Reading `m.room.power_levels` with the spec's defaults (client-server API,
 * m.room.power_levels), and the creators' power: 100 when the room has no
 * power levels event (v10–11), infinitely high in every case (v12).
 */
import type { RoomVersion } from './room-versions.js';
import {
  type AuthState,
  isObject,
  POWER_LEVELS,
  roomCreators,
  stateEvent,
} from './auth/auth-state.js';
import type { JsonObject, JsonValue } from './pdu.js';

/** The top-level levels of `m.room.power_levels` whose value is a single integer. */
export const NAMED_LEVELS = [
  'users_default',
  'events_default',
  'state_default',
  'ban',
  'redact',
  'kick',
  'invite',
] as const;
export type NamedLevel = (typeof NAMED_LEVELS)[number];

/** Defaults when the key is missing from an existing power levels event. */
const NAMED_LEVEL_DEFAULTS: Record<NamedLevel, number> = {
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  redact: 50,
  kick: 50,
  invite: 0,
};

/** The creator's level when there is no power levels event (v10–11). */
export const CREATOR_LEVEL_WITHOUT_EVENT = 100;
/** The default of a notification level (the spec defines only `room`, default 50). */
const NOTIFICATION_DEFAULT = 50;

/**
 * Whether a value is a valid power level: an integer in v10+, also an
 * integer-like string in earlier versions.
 */
export function isPowerLevelValue(value: JsonValue | undefined, version: RoomVersion): boolean {
  if (typeof value === 'number') return Number.isInteger(value);
  return (
    !version.integerPowerLevels && typeof value === 'string' && /^[+-]?\d+$/.test(value.trim())
  );
}

/** The value as a power level, or undefined if it is not one. */
export function asPowerLevel(
  value: JsonValue | undefined,
  version: RoomVersion,
): number | undefined {
  if (!isPowerLevelValue(value, version)) return undefined;
  return typeof value === 'number' ? value : Number.parseInt(String(value), 10);
}

export function powerLevelsContent(state: AuthState): JsonObject | undefined {
  return stateEvent(state, POWER_LEVELS)?.pdu.content;
}

/** `users_default`, `ban`, `kick`, `redact`, `invite`, … with their defaults. */
export function namedLevel(name: NamedLevel, state: AuthState, version: RoomVersion): number {
  // Without a power levels event too: `state_default` is then 50, not 0 (the m.room.power_levels
  // schema; 0 was the old rule that let anyone take over such a room).
  const content = powerLevelsContent(state);
  if (!content) return NAMED_LEVEL_DEFAULTS[name];
  return asPowerLevel(content[name], version) ?? NAMED_LEVEL_DEFAULTS[name];
}

/** Whether the user is a creator whose power is infinite (v12). */
export function hasInfinitePower(userId: string, state: AuthState, version: RoomVersion): boolean {
  return version.creatorsHaveInfinitePower && roomCreators(state, version).includes(userId);
}

/**
 * A user's power level: infinite for v12 creators; otherwise `users[userId]`,
 * else `users_default`; without a power levels event the creator has 100 and
 * everyone else 0.
 */
export function powerLevelOf(userId: string, state: AuthState, version: RoomVersion): number {
  if (hasInfinitePower(userId, state, version)) return Infinity;
  const content = powerLevelsContent(state);
  if (!content) {
    return roomCreators(state, version).includes(userId) ? CREATOR_LEVEL_WITHOUT_EVENT : 0;
  }
  const users = content.users;
  const own = isObject(users) && Object.hasOwn(users, userId) ? users[userId] : undefined;
  return asPowerLevel(own, version) ?? namedLevel('users_default', state, version);
}

/**
 * The level needed to send an event of this type: `events[type]`, else
 * `state_default` for state events or `events_default` for others.
 */
export function requiredLevelForEvent(
  type: string,
  isState: boolean,
  state: AuthState,
  version: RoomVersion,
): number {
  const events = powerLevelsContent(state)?.events;
  const explicit = isObject(events) && Object.hasOwn(events, type) ? events[type] : undefined;
  const fallback = namedLevel(isState ? 'state_default' : 'events_default', state, version);
  return asPowerLevel(explicit, version) ?? fallback;
}

/** The level needed to trigger a notification such as `@room` (`notifications.room`, default 50). */
export function notificationLevel(key: string, state: AuthState, version: RoomVersion): number {
  const notifications = powerLevelsContent(state)?.notifications;
  const value =
    isObject(notifications) && Object.hasOwn(notifications, key) ? notifications[key] : undefined;
  return asPowerLevel(value, version) ?? NOTIFICATION_DEFAULT;
}
