/**
 * Rows of the account tables (users, devices, uia_sessions, user_filters) as
 * every backend reads and writes them: the tables have the same columns and
 * encodings in SQLite and PostgreSQL (booleans as 0/1, lists as JSON text), so
 * the same conversions.
 */
import type {
  DeviceRecord,
  ListedUser,
  UiaSessionRecord,
  UserListOrder,
  UserListQuery,
  UserRecord,
} from '../storage.js';

export interface UserRow {
  user_id: string;
  password_hash: string | null;
  is_guest: number;
  is_admin: number;
  deactivated: number;
  created_ts: number;
  locked: number;
  suspended: number;
  shadow_banned: number;
  user_type: string | null;
}

export const toUser = (row: UserRow): UserRecord => ({
  userId: row.user_id,
  passwordHash: row.password_hash,
  isGuest: row.is_guest === 1,
  isAdmin: row.is_admin === 1,
  deactivated: row.deactivated === 1,
  createdTs: row.created_ts,
  locked: row.locked === 1,
  suspended: row.suspended === 1,
  shadowBanned: row.shadow_banned === 1,
  userType: row.user_type,
});

export interface DeviceRow {
  user_id: string;
  device_id: string;
  display_name: string | null;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
  last_seen_user_agent: string | null;
}

export const toDevice = (row: DeviceRow): DeviceRecord => ({
  userId: row.user_id,
  deviceId: row.device_id,
  displayName: row.display_name,
  lastSeenTs: row.last_seen_ts,
  lastSeenIp: row.last_seen_ip,
  lastSeenUserAgent: row.last_seen_user_agent,
});

/** The counter of guest localparts in the counters table. */
export const GUEST_COUNTER = 'guest_user';

export interface UiaSessionRow {
  session_id: string;
  user_id: string | null;
  operation: string;
  flows: string;
  completed: string;
  expires_ts: number;
}

export const toUiaSession = (row: UiaSessionRow): UiaSessionRecord => ({
  sessionId: row.session_id,
  userId: row.user_id,
  operation: row.operation,
  flows: JSON.parse(row.flows) as string[][],
  completed: JSON.parse(row.completed) as string[],
  expiresTs: row.expires_ts,
});

/** The values of a new uia_sessions row, in the column order of `toUiaSession`'s row. */
export const uiaSessionValues = (s: UiaSessionRecord): unknown[] => [
  s.sessionId,
  s.userId,
  s.operation,
  JSON.stringify(s.flows),
  JSON.stringify(s.completed),
  s.expiresTs,
];

/** The first filter ID of a user; 1 rather than 0, so no client mistakes an ID for "none". */
export const FIRST_FILTER_ID = 1;

/** The ID a user's next filter gets, after their highest one (null: none yet). */
export const nextFilterId = (highest: number | null): number =>
  highest === null ? FIRST_FILTER_ID : highest + 1;

/** A row of the Admin API's user list: users joined with their profiles. */
export interface ListedUserRow {
  user_id: string;
  is_guest: number;
  is_admin: number;
  deactivated: number;
  created_ts: number;
  displayname: string | null;
  avatar_url: string | null;
  locked: number;
  suspended: number;
  shadow_banned: number;
  user_type: string | null;
}

/** The columns of `users u` and `profiles p` a ListedUserRow holds, for both backends' SELECTs. */
export const LISTED_USER_COLUMNS = `u.user_id, u.is_guest, u.is_admin, u.deactivated, u.created_ts,
  p.displayname, p.avatar_url, u.locked, u.suspended, u.shadow_banned, u.user_type`;

export const toListedUser = (row: ListedUserRow): ListedUser => ({
  userId: row.user_id,
  isGuest: row.is_guest === 1,
  isAdmin: row.is_admin === 1,
  deactivated: row.deactivated === 1,
  createdTs: row.created_ts,
  displayName: row.displayname,
  avatarUrl: row.avatar_url,
  locked: row.locked === 1,
  suspended: row.suspended === 1,
  shadowBanned: row.shadow_banned === 1,
  userType: row.user_type,
});

/** The columns (of `users u` and `profiles p`) the user list orders by; text ones get the backend's collation. */
const USER_LIST_ORDER: Record<UserListOrder, { column: string; text: boolean }> = {
  name: { column: 'u.user_id', text: true },
  displayname: { column: 'p.displayname', text: true },
  avatar_url: { column: 'p.avatar_url', text: true },
  creation_ts: { column: 'u.created_ts', text: false },
  admin: { column: 'u.is_admin', text: false },
  deactivated: { column: 'u.deactivated', text: false },
  is_guest: { column: 'u.is_guest', text: false },
};

/**
 * The ORDER BY of a user list page, the same on every backend: missing names
 * and avatars sort after every value (before them descending), ties by user ID
 * ascending (as Synapse). `collate` makes text order bytewise where the
 * backend's default is not (PostgreSQL: ` COLLATE "C"`).
 */
export function userListOrderBy(
  query: Pick<UserListQuery, 'orderBy' | 'direction'>,
  collate = '',
): string {
  const { column, text } = USER_LIST_ORDER[query.orderBy];
  const descending = query.direction === 'b';
  return (
    `ORDER BY ${column}${text ? collate : ''} ${descending ? 'DESC NULLS FIRST' : 'ASC NULLS LAST'}, ` +
    `u.user_id${collate} ASC`
  );
}
