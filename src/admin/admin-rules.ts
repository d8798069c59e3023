/**
 * The rules of Synapse's Admin API that need no storage: reading the user
 * list's query parameters, the user objects and pages it answers, whois
 * connections, which user IDs are local. Pure.
 */
import { errors } from '../protocol/errors.js';
import { queryString } from '../protocol/params.js';
import type { ListedUser, UserListOrder, UserListQuery } from '../domain/user-list.js';

export const DEFAULT_USER_LIST_LIMIT = 100;

const ORDERS: readonly UserListOrder[] = [
  'name',
  'displayname',
  'avatar_url',
  'creation_ts',
  'admin',
  'deactivated',
  'is_guest',
];

/** A query parameter that is a non-negative integer (Synapse's parse_integer with negative=False). */
export function nonNegativeIntegerParam(query: unknown, key: string, fallback: number): number {
  const value = queryString(query, key);
  if (value === undefined) return fallback;
  const parsed = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(parsed)) {
    throw errors.invalidParam(`Query parameter ${key} must be a non-negative integer`);
  }
  return parsed;
}

/** A query parameter that is `true` or `false` (Synapse's parse_boolean); undefined when absent. */
export function booleanParam(query: unknown, key: string): boolean | undefined {
  const value = queryString(query, key);
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw errors.invalidParam(`Query parameter ${key} must be true or false`);
}

/**
 * `GET /_synapse/admin/v2/users`'s and `v3/users`' parameters. As in Synapse,
 * `user_id` is ignored when `name` is given, and unknown parameters are
 * ignored. The versions differ in `deactivated` only: in v2, `true` adds the
 * deactivated users to the rest (absent: left out); in v3 it is a filter
 * (`true` only them, `false` none of them, absent: everyone).
 */
export function parseUserListQuery(query: unknown, version: 'v2' | 'v3' = 'v2'): UserListQuery {
  const from = nonNegativeIntegerParam(query, 'from', 0);
  const limit = nonNegativeIntegerParam(query, 'limit', DEFAULT_USER_LIST_LIMIT);
  const orderBy = queryString(query, 'order_by') ?? 'name';
  if (!(ORDERS as readonly string[]).includes(orderBy)) {
    throw errors.invalidParam(`Unknown value for order_by: ${orderBy}`);
  }
  const direction = queryString(query, 'dir') ?? 'f';
  if (direction !== 'f' && direction !== 'b') {
    throw errors.invalidParam(`Unknown direction: ${direction}`);
  }
  const name = nonEmpty(queryString(query, 'name'));
  const userId = name === undefined ? nonEmpty(queryString(query, 'user_id')) : undefined;
  const admins = booleanParam(query, 'admins');
  const deactivated = booleanParam(query, 'deactivated');
  const deactivatedFilter = version === 'v3' ? deactivated : deactivated ? undefined : false;
  return {
    from,
    limit,
    ...(userId === undefined ? {} : { userIdContains: userId }),
    ...(name === undefined ? {} : { nameContains: name }),
    guests: booleanParam(query, 'guests') ?? true,
    ...(deactivatedFilter === undefined ? {} : { deactivated: deactivatedFilter }),
    ...(admins === undefined ? {} : { admins }),
    orderBy: orderBy as UserListOrder,
    direction,
  };
}

/** An empty filter filters nothing (as Synapse's `if name:`). */
const nonEmpty = (value: string | undefined) => (value === '' ? undefined : value);

/** A user as the Admin API shows it (Weft has no approvals: every user is approved). */
export interface AdminUserJson {
  name: string;
  user_type: string | null;
  is_guest: boolean;
  admin: boolean;
  deactivated: boolean;
  shadow_banned: boolean;
  displayname: string | null;
  avatar_url: string | null;
  creation_ts: number;
  locked: boolean;
  suspended: boolean;
  approved: boolean;
}

export function adminUserJson(user: ListedUser): AdminUserJson {
  return {
    name: user.userId,
    user_type: user.userType ?? null,
    is_guest: user.isGuest,
    admin: user.isAdmin,
    deactivated: user.deactivated,
    shadow_banned: user.shadowBanned ?? false,
    displayname: user.displayName,
    avatar_url: user.avatarUrl,
    creation_ts: user.createdTs,
    locked: user.locked ?? false,
    suspended: user.suspended ?? false,
    approved: true,
  };
}

export interface UserListJson {
  users: AdminUserJson[];
  total: number;
  /** The `from` of the next page, only while users remain after this one. */
  next_token?: string;
}

/** A page of the list; `next_token` while users remain after it (none for an empty page: no loop). */
export function userListJson(
  query: Pick<UserListQuery, 'from'>,
  page: { users: readonly ListedUser[]; total: number },
): UserListJson {
  const json: UserListJson = { users: page.users.map(adminUserJson), total: page.total };
  const next = query.from + page.users.length;
  if (page.users.length > 0 && next < page.total) json.next_token = String(next);
  return json;
}

/** A device's last connection, as whois lists it. */
export interface LastConnection {
  ip: string;
  lastSeen: number;
  userAgent: string | null;
}

/**
 * `GET /_synapse/admin/v1/whois/{userId}` (and the client API's
 * `/admin/whois`): every device's last connection, newest first, in
 * Synapse's one session. An unknown user agent is "", as Synapse stores a
 * missing header (the spec's schema wants a string).
 */
export function whoisJson(userId: string, connections: readonly LastConnection[]) {
  const sorted = [...connections].sort((a, b) => b.lastSeen - a.lastSeen);
  return {
    user_id: userId,
    devices: {
      '': {
        sessions: [
          {
            connections: sorted.map((c) => ({
              ip: c.ip,
              last_seen: c.lastSeen,
              user_agent: c.userAgent ?? '',
            })),
          },
        ],
      },
    },
  };
}

/**
 * Refuses what is not a user ID of this server: the Admin API manages local
 * users only (400, as Synapse).
 */
export function checkLocalUserId(
  userId: string,
  serverName: string,
  nonLocal = 'Only local users can be managed here',
): void {
  const colon = userId.indexOf(':');
  if (!userId.startsWith('@') || colon < 2) throw errors.invalidParam('Invalid user ID');
  if (userId.slice(colon + 1) !== serverName) throw errors.invalidParam(nonLocal);
}
