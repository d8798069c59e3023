/**
 * Rows of the user data tables (account_data, receipts, presence, and the user
 * directory's query) as every backend reads them: the tables have the same
 * columns and encodings in SQLite and PostgreSQL, so the same conversions.
 */
import type {
  AccountDataRecord,
  DirectoryUser,
  PresenceRecord,
  ReceiptRecord,
} from '../storage.js';

export interface AccountDataRow {
  stream_id: number;
  user_id: string;
  room_id: string;
  type: string;
  content_json: string;
}

/** Global account data is stored with room_id ''. */
export const GLOBAL_ROOM = '';

export const toAccountDataRecord = (row: AccountDataRow): AccountDataRecord => ({
  userId: row.user_id,
  ...(row.room_id === GLOBAL_ROOM ? {} : { roomId: row.room_id }),
  type: row.type,
  content: JSON.parse(row.content_json) as Record<string, unknown>,
  streamId: row.stream_id,
});

export interface ReceiptRow {
  stream_id: number;
  room_id: string;
  receipt_type: string;
  user_id: string;
  thread_id: string;
  event_id: string;
  ts: number;
}

/** Unthreaded receipts are stored with thread_id ''. */
export const UNTHREADED = '';

export const toReceiptRecord = (row: ReceiptRow): ReceiptRecord => ({
  roomId: row.room_id,
  receiptType: row.receipt_type,
  userId: row.user_id,
  ...(row.thread_id === UNTHREADED ? {} : { threadId: row.thread_id }),
  eventId: row.event_id,
  ts: row.ts,
  streamId: row.stream_id,
});

export interface PresenceRow {
  stream_id: number;
  user_id: string;
  state: string;
  status_msg: string | null;
  last_active_ts: number;
}

export const toPresenceRecord = (row: PresenceRow): PresenceRecord => ({
  userId: row.user_id,
  state: row.state,
  ...(row.status_msg === null ? {} : { statusMsg: row.status_msg }),
  lastActiveTs: row.last_active_ts,
  streamId: row.stream_id,
});

export interface DirectoryUserRow {
  user_id: string;
  displayname: string | null;
  avatar_url: string | null;
}

export const toDirectoryUser = (row: DirectoryUserRow): DirectoryUser => ({
  userId: row.user_id,
  ...(row.displayname === null ? {} : { displayName: row.displayname }),
  ...(row.avatar_url === null ? {} : { avatarUrl: row.avatar_url }),
});

/** More words than this are ignored: each one is a condition of the query. */
export const MAX_SEARCH_WORDS = 8;

/**
 * Rows fetched for several keys at once, put in the order of `keys` (a key
 * listed twice gets its rows twice), as one query per key in turn would return them.
 */
export function inKeyOrder<R>(keys: readonly string[], rows: R[], keyOf: (row: R) => string): R[] {
  const byKey = new Map<string, R[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = byKey.get(key);
    if (group) group.push(row);
    else byKey.set(key, [row]);
  }
  return keys.flatMap((key) => byKey.get(key) ?? []);
}
