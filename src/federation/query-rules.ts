/**
 * The rules of the Server-Server queries, pure: the bodies other servers send
 * us (`/user/keys/query`, `/user/keys/claim`), and what we accept of their
 * answers when we ask them. A server speaks only for its own users: anything
 * in an answer about another server's user, or a device or key that names
 * another owner than the entry it is filed under, is left out.
 */
import { isValidUserId, serverNameOf } from '../events/auth/ids.js';
import { errors } from '../protocol/errors.js';
import type { ClaimedKeys, RemoteUserKeys } from '../e2ee/remote-keys.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A user ID of ours, else 400 (Synapse: "User is not hosted on this homeserver"). */
export function requireLocalUser(userId: string, serverName: string): void {
  if (!isValidUserId(userId)) throw errors.invalidParam(`Not a valid user ID: ${userId}`);
  if (serverNameOf(userId) !== serverName) {
    throw errors.invalidParam(`${userId} is not hosted on this homeserver`);
  }
}

/** `/user/keys/query`'s body: `device_keys`, our user → device IDs (empty: all). */
export function parseKeysQueryBody(body: unknown, serverName: string): Record<string, string[]> {
  const map = requiredUserMap(body, 'device_keys');
  for (const [userId, deviceIds] of Object.entries(map)) {
    if (!Array.isArray(deviceIds) || !deviceIds.every((id) => typeof id === 'string')) {
      throw errors.badJson(`device_keys.${userId} must be a list of device IDs`);
    }
    requireLocalUser(userId, serverName);
  }
  return map as Record<string, string[]>;
}

/** `/user/keys/claim`'s body: `one_time_keys`, our user → device ID → algorithm. */
export function parseKeysClaimBody(
  body: unknown,
  serverName: string,
): Record<string, Record<string, string>> {
  const map = requiredUserMap(body, 'one_time_keys');
  for (const [userId, devices] of Object.entries(map)) {
    if (!isObject(devices) || !Object.values(devices).every((a) => typeof a === 'string')) {
      throw errors.badJson(`one_time_keys.${userId} must map device IDs to algorithms`);
    }
    requireLocalUser(userId, serverName);
  }
  return map as Record<string, Record<string, string>>;
}

function requiredUserMap(body: unknown, field: string): Json {
  if (!isObject(body)) throw errors.badJson('The body must be a JSON object');
  const value = body[field];
  if (value === undefined || value === null) throw errors.missingParam(field);
  if (!isObject(value)) throw errors.badJson(`${field} must be an object`);
  return value;
}

/**
 * A server's `/user/keys/query` answer, for the users we asked it about:
 * each device whose keys name that user and device, and the cross-signing
 * keys that name the user and their usage. A user the answer leaves out is
 * left out (unknown there).
 */
export function readKeysQueryAnswer(
  asked: readonly string[],
  body: unknown,
): Map<string, RemoteUserKeys> {
  const answer = isObject(body) ? body : {};
  const deviceKeys = isObject(answer.device_keys) ? answer.device_keys : {};
  const masters = isObject(answer.master_keys) ? answer.master_keys : {};
  const selfSigning = isObject(answer.self_signing_keys) ? answer.self_signing_keys : {};
  const users = new Map<string, RemoteUserKeys>();
  for (const userId of asked) {
    const listed = deviceKeys[userId];
    if (!isObject(listed)) continue;
    const keys: RemoteUserKeys = { devices: {} };
    for (const [deviceId, device] of Object.entries(listed)) {
      if (isObject(device) && device.user_id === userId && device.device_id === deviceId) {
        keys.devices[deviceId] = device;
      }
    }
    const master = crossSigningKeyOf(masters[userId], userId, 'master');
    if (master) keys.master = master;
    const selfKey = crossSigningKeyOf(selfSigning[userId], userId, 'self_signing');
    if (selfKey) keys.selfSigning = selfKey;
    users.set(userId, keys);
  }
  return users;
}

function crossSigningKeyOf(key: unknown, userId: string, usage: string): Json | undefined {
  if (!isObject(key) || key.user_id !== userId) return undefined;
  return Array.isArray(key.usage) && key.usage.includes(usage) ? key : undefined;
}

/** A server's `/user/keys/claim` answer: the keys of the (user, device) pairs we claimed. */
export function readClaimAnswer(
  claims: Record<string, Record<string, string>>,
  body: unknown,
): ClaimedKeys {
  const answer = isObject(body) && isObject(body.one_time_keys) ? body.one_time_keys : {};
  const claimed: ClaimedKeys = {};
  for (const [userId, devices] of Object.entries(claims)) {
    const byDevice = answer[userId];
    if (!isObject(byDevice)) continue;
    for (const deviceId of Object.keys(devices)) {
      const keys = byDevice[deviceId];
      if (!isObject(keys) || Object.keys(keys).length === 0) continue;
      (claimed[userId] ??= {})[deviceId] = keys;
    }
  }
  return claimed;
}

/**
 * A server's `/query/profile` answer: its fields, without the nulls the spec
 * lets it send for unset display names and avatars; undefined when it is not
 * a JSON object.
 */
export function readProfileAnswer(body: unknown): Json | undefined {
  if (!isObject(body)) return undefined;
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
}

/** An error answer's description for a failures entry or a log line. */
export function describeErrorAnswer(server: string, status: number, body: unknown): string {
  const error = isObject(body) && typeof body.error === 'string' ? body.error : undefined;
  return `${server} answered ${status}${error ? `: ${error}` : ''}`;
}
