/**
 * The Admin API's user list (`GET /_synapse/admin/v2/users`): the query that
 * admin/admin-rules.ts reads from a request and storage answers. Types only.
 */

/** What the Admin API's user list orders by (Synapse's `order_by`); ties go by user ID. */
export type UserListOrder =
  'name' | 'displayname' | 'avatar_url' | 'creation_ts' | 'admin' | 'deactivated' | 'is_guest';

/** A page of the Admin API's user list (`GET /_synapse/admin/v2/users`). */
export interface UserListQuery {
  /** Offset of the first user of the page. */
  from: number;
  limit: number;
  /** Only users whose ID contains it (case-insensitive). */
  userIdContains?: string;
  /** Only users whose localpart or display name contains it (case-insensitive). */
  nameContains?: string;
  /** false: guests left out. */
  guests: boolean;
  /** true: only deactivated users; false: only active ones; undefined: both. */
  deactivated?: boolean;
  /** true: only admins; false: only non-admins; undefined: both. */
  admins?: boolean;
  orderBy: UserListOrder;
  /** `f`: ascending, `b`: descending (ties by user ID, ascending, either way). */
  direction: 'f' | 'b';
}

/** A user of the Admin API's list: the account flags and the profile's name and avatar. */
export interface ListedUser {
  userId: string;
  isGuest: boolean;
  isAdmin: boolean;
  deactivated: boolean;
  createdTs: number;
  displayName: string | null;
  avatarUrl: string | null;
  /** Account moderation (absent: false, and no user type). */
  locked?: boolean;
  suspended?: boolean;
  shadowBanned?: boolean;
  userType?: string | null;
}
