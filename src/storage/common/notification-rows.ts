/**
 * Rows of the notification tables (`push_notifications`, `push_names`,
 * `push_read_positions`) as every backend reads them: the same columns and
 * encodings in SQLite and PostgreSQL, and the same joins (plain SQL both
 * accept as is).
 *
 * A notification row is a few integers: user, room and thread IDs and action
 * lists are interned in `push_names`. An event is unread for a user when it
 * is after both the room-wide read position ('' thread) and the position of
 * its own thread.
 */
import type { NotificationRecord } from '../storage.js';
import { decodeActions } from './actions-json.js';

/** Users whose read notifications one pruning transaction deletes. */
export const PRUNE_USERS_PER_STEP = 20;

export interface NotificationRow {
  user_id: string;
  room_id: string;
  event_id: string;
  stream_ordering: number;
  thread_id: string;
  highlight: number;
  actions: string;
  ts: number;
}

export function toNotificationRecord(row: NotificationRow): NotificationRecord {
  return {
    userId: row.user_id,
    roomId: row.room_id,
    eventId: row.event_id,
    streamOrdering: row.stream_ordering,
    threadId: row.thread_id,
    notify: true,
    highlight: row.highlight === 1,
    actions: decodeActions(row.actions),
    ts: row.ts,
  };
}

/** A notification with its names and event ID (`e`, see WITH_EVENT), for the queries that return records. */
export const NOTIFICATION_COLUMNS = `u.name AS user_id, rn.name AS room_id, e.event_id,
  n.stream_ordering, tn.name AS thread_id, n.highlight, an.name AS actions, n.ts`;
export const WITH_NAMES = `JOIN push_names u ON u.id = n.user_nid
  JOIN push_names rn ON rn.id = n.room_nid
  JOIN push_names tn ON tn.id = n.thread_nid
  JOIN push_names an ON an.id = n.actions_nid`;
/** The notification's event, for its ID: rows are found by position, the events' key. */
export const WITH_EVENT = `JOIN events e ON e.stream_ordering = n.stream_ordering`;
/** Joins each notification to the user's room-wide (r) and thread (t) read positions. */
export const WITH_READ_POSITIONS = `LEFT JOIN push_read_positions r
    ON r.user_id = u.name AND r.room_id = rn.name AND r.thread_id = ''
  LEFT JOIN push_read_positions t
    ON t.user_id = u.name AND t.room_id = rn.name AND t.thread_id = tn.name`;
export const IS_READ = `(n.stream_ordering <= COALESCE(r.stream_ordering, 0)
  OR n.stream_ordering <= COALESCE(t.stream_ordering, 0))`;
