/** User ID grammar: @localpart:server_name. */
import { errors } from '../protocol/errors.js';

/** The localpart characters the spec allows for new user IDs. */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;
const MAX_USER_ID_LENGTH = 255;

export function userIdFor(localpart: string, serverName: string): string {
  return `@${localpart}:${serverName}`;
}

/**
 * Maps a requested username to a localpart or refuses it with M_INVALID_USERNAME.
 * Like Synapse: upper case is folded to lower case, a leading `_` is reserved
 * (application services and admin tooling use it), and all-digit localparts are
 * reserved for guests.
 */
export function localpartForUsername(username: string, serverName: string): string {
  const localpart = username.toLowerCase();
  if (localpart.length === 0) throw errors.invalidUsername('Username must not be empty');
  if (!LOCALPART.test(localpart)) {
    throw errors.invalidUsername('Username may only contain a-z, 0-9 and . _ = - / +');
  }
  if (localpart.startsWith('_')) throw errors.invalidUsername('Username may not begin with _');
  if (/^\d+$/.test(localpart)) {
    throw errors.invalidUsername('Numeric usernames are reserved for guests');
  }
  if (userIdFor(localpart, serverName).length > MAX_USER_ID_LENGTH) {
    throw errors.invalidUsername('Username is too long');
  }
  return localpart;
}

/**
 * Resolves what a client typed at login (a localpart or a full user ID) to a
 * local user ID, or undefined if it cannot name a local user.
 */
export function resolveLocalUserId(input: string, serverName: string): string | undefined {
  if (input.startsWith('@')) {
    const colon = input.indexOf(':');
    if (colon < 0 || input.slice(colon + 1) !== serverName) return undefined;
    return userIdFor(input.slice(1, colon).toLowerCase(), serverName);
  }
  return input.length > 0 ? userIdFor(input.toLowerCase(), serverName) : undefined;
}
