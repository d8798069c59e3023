/**
 * The rules of the Admin API's user writes that need no storage: reading the
 * bodies of `PUT v2/users/{userId}`, `v1/deactivate`, `v1/reset_password` and
 * the device endpoints, and the device objects answered. Pure.
 */
import { errors } from '../protocol/errors.js';
import type { JsonObject } from '../protocol/params.js';
import { USER_TYPES } from './account-moderation-rules.js';

/** Synapse's bound on a password given to the Admin API. */
export const MAX_ADMIN_PASSWORD_LENGTH = 512;

/** What `PUT /_synapse/admin/v2/users/{userId}` asks for; absent fields are left as they are. */
export interface UserChanges {
  password?: string;
  /** With a new password on an existing user: log out every device (default true). */
  logoutDevices: boolean;
  /** Checked by the profile rules (profiles/profile-rules.ts) when applied. */
  displayName?: unknown;
  avatarUrl?: unknown;
  admin?: boolean;
  deactivated?: boolean;
  locked?: boolean;
  /** A user type of USER_TYPES, or null for a regular user. */
  userType?: string | null;
}

/**
 * Reads the body. Weft stores no 3PIDs or external IDs: `threepids` and
 * `external_ids` may only be empty; anything else is refused rather than dropped.
 */
export function parseUserChanges(body: JsonObject): UserChanges {
  const changes: UserChanges = { logoutDevices: flag(body, 'logout_devices') ?? true };
  const password = body.password;
  if (password !== undefined && password !== null) {
    if (typeof password !== 'string' || password.length > MAX_ADMIN_PASSWORD_LENGTH) {
      throw errors.invalidParam('Invalid password');
    }
    changes.password = password;
  }
  if (Object.hasOwn(body, 'displayname')) changes.displayName = body.displayname;
  if (Object.hasOwn(body, 'avatar_url')) changes.avatarUrl = body.avatar_url;
  const admin = flag(body, 'admin');
  if (admin !== undefined) changes.admin = admin;
  const deactivated = flag(body, 'deactivated');
  if (deactivated !== undefined) changes.deactivated = deactivated;

  const userType = body.user_type;
  if (userType !== undefined) {
    if (userType !== null && typeof userType !== 'string') {
      throw errors.badJson('user_type must be a string or null');
    }
    if (userType !== null && !USER_TYPES.includes(userType)) {
      throw errors.invalidParam('Invalid user type');
    }
    changes.userType = userType;
  }
  const locked = flag(body, 'locked');
  if (locked !== undefined) changes.locked = locked;
  for (const key of ['threepids', 'external_ids']) {
    const value = body[key];
    if (value === undefined || value === null) continue;
    if (!Array.isArray(value)) throw errors.badJson(`${key} must be an array`);
    if (value.length > 0) throw errors.invalidParam(`Weft does not store ${key} yet`);
  }
  return changes;
}

/** `POST v1/deactivate/{userId}`'s `erase` (default false). */
export function parseErase(body: JsonObject): boolean {
  const erase = body.erase;
  if (erase === undefined) return false;
  if (typeof erase !== 'boolean') throw errors.badJson("Param 'erase' must be a boolean, if given");
  return erase;
}

/** `POST v1/reset_password/{userId}`: the new password, and whether to log out (default true). */
export function parsePasswordReset(body: JsonObject): { password: string; logoutDevices: boolean } {
  const password = body.new_password;
  if (password === undefined || password === null) throw errors.missingParam('new_password');
  if (typeof password !== 'string' || password.length > MAX_ADMIN_PASSWORD_LENGTH) {
    throw errors.invalidParam('Invalid password');
  }
  return { password, logoutDevices: flag(body, 'logout_devices') ?? true };
}

/** A device as the Admin API lists it. */
export interface AdminDeviceJson {
  user_id: string;
  device_id: string;
  display_name: string | null;
  last_seen_ip: string | null;
  last_seen_ts: number | null;
  last_seen_user_agent: string | null;
}

export function adminDeviceJson(
  userId: string,
  device: {
    device_id: string;
    display_name?: string;
    last_seen_ip?: string;
    last_seen_ts?: number;
    last_seen_user_agent?: string;
  },
): AdminDeviceJson {
  return {
    user_id: userId,
    device_id: device.device_id,
    display_name: device.display_name ?? null,
    last_seen_ip: device.last_seen_ip ?? null,
    last_seen_ts: device.last_seen_ts ?? null,
    last_seen_user_agent: device.last_seen_user_agent ?? null,
  };
}

/** A boolean field, M_BAD_JSON if it is anything else; undefined when absent or null. */
function flag(body: JsonObject, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw errors.badJson(`'${key}' parameter is not of type boolean`);
  return value;
}
