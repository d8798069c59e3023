/** Identifier grammar the authorization rules need (appendices: user IDs, server names). */

const MAX_USER_ID_LENGTH = 255;
/** Historical user IDs allow any printable ASCII except `:` in the localpart. */
const HISTORICAL_LOCALPART = /^[\x21-\x39\x3B-\x7E]+$/;
/** hostname (IPv4, [IPv6] or DNS name) with an optional port. */
const SERVER_NAME = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(:[0-9]{1,5})?$/;

export function isValidServerName(name: string): boolean {
  return SERVER_NAME.test(name);
}

/** `@localpart:server_name`, at most 255 bytes, with a historical-grammar localpart. */
export function isValidUserId(userId: string): boolean {
  if (!userId.startsWith('@') || Buffer.byteLength(userId, 'utf8') > MAX_USER_ID_LENGTH) {
    return false;
  }
  const colon = userId.indexOf(':');
  if (colon < 0) return false;
  return (
    HISTORICAL_LOCALPART.test(userId.slice(1, colon)) && isValidServerName(userId.slice(colon + 1))
  );
}

/** The server part of a user or room ID: everything after the first `:`. */
export function serverNameOf(id: string): string | undefined {
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(colon + 1);
}
