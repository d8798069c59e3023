/**
 * Server ACLs (`m.room.server_acl`), pure: which servers may take part in a
 * room over federation. The spec's order (client-server API, "Server Access
 * Control Lists (ACLs) for rooms"):
 *
 *   1. no ACL in the room's state → allow;
 *   2. the server name is an IP literal and `allow_ip_literals` is `false` → deny;
 *   3. it matches an entry of `deny` → deny;
 *   4. it matches an entry of `allow` → allow;
 *   5. otherwise → deny.
 *
 * Entries are glob patterns (`*` any run of characters, `?` one character),
 * matched case-insensitively (v1.19) against the server name without its
 * port. `allow` and `deny` default to empty lists, `allow_ip_literals` to
 * true when missing or not a boolean. Where the spec is silent, as Synapse:
 * a list that is not an array counts as empty, entries that are not strings
 * are skipped, and an IPv6 literal is matched in its brackets (`[::1]`).
 */
import { hostForUrl, isIpLiteral, parseServerName } from './server-name.js';

export const SERVER_ACL_TYPE = 'm.room.server_acl';

export interface ServerAcl {
  allowIpLiterals: boolean;
  allow: readonly RegExp[];
  deny: readonly RegExp[];
}

/** An ACL event's content as rules; any content parses (bad fields take their defaults). */
export function parseServerAcl(content: unknown): ServerAcl {
  const fields = isObject(content) ? content : {};
  return {
    allowIpLiterals: fields.allow_ip_literals !== false,
    allow: globsOf(fields.allow),
    deny: globsOf(fields.deny),
  };
}

/** Whether the ACL lets the server take part; no ACL (undefined) lets everyone. */
export function isServerAllowed(acl: ServerAcl | undefined, serverName: string): boolean {
  if (!acl) return true;
  const name = parseServerName(serverName);
  // A name that is no server name cannot be matched honestly: it is denied.
  if (!name) return false;
  if (!acl.allowIpLiterals && isIpLiteral(name)) return false;
  const host = hostForUrl(name.host);
  if (acl.deny.some((glob) => glob.test(host))) return false;
  return acl.allow.some((glob) => glob.test(host));
}

/** A glob as an anchored, case-insensitive regular expression; every other character literal. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'isu');
}

function globsOf(value: unknown): RegExp[] {
  if (!Array.isArray(value)) return [];
  return value.filter((entry): entry is string => typeof entry === 'string').map(globToRegExp);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
