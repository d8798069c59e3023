/**
 * PostgreSQL tables of this area (see ../migrations.ts for the conventions):
 * the relation index and push notifications, as in SQLite.
 */
export const relationsPushSchema = `
-- A child event's relationship to its parent; redacted children leave the index.
CREATE TABLE event_relations (
  event_id TEXT PRIMARY KEY,
  relates_to TEXT NOT NULL,
  rel_type TEXT NOT NULL,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  sender TEXT NOT NULL,
  is_state BIGINT NOT NULL,
  aggregation_key TEXT,
  has_new_content BIGINT NOT NULL,
  in_reply_to TEXT,
  thread_id TEXT,
  origin_server_ts BIGINT NOT NULL,
  stream_ordering BIGINT NOT NULL
);
CREATE INDEX event_relations_children ON event_relations (relates_to, rel_type, stream_ordering);
CREATE INDEX event_relations_by_sender
  ON event_relations (relates_to, rel_type, sender, aggregation_key);
-- Thread roots with their latest activity.
CREATE TABLE threads (
  root_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  latest_stream_ordering BIGINT NOT NULL
);
CREATE INDEX threads_by_activity ON threads (room_id, latest_stream_ordering);
-- How far each user has read each room: thread '' is an unthreaded receipt (every
-- thread); others are one thread's. Only ever moves forward.
CREATE TABLE push_read_positions (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (user_id, room_id, thread_id)
);
-- 'evaluated': every event at or before this position has been evaluated (absent: none).
CREATE TABLE push_progress (
  name TEXT PRIMARY KEY,
  stream_ordering BIGINT NOT NULL
);
-- User, room and thread IDs and action lists of the notification rows, interned.
CREATE SEQUENCE push_names_id_seq;
CREATE TABLE push_names (
  id BIGINT PRIMARY KEY DEFAULT nextval('push_names_id_seq'),
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE push_notifications (
  user_nid BIGINT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  room_nid BIGINT NOT NULL,
  thread_nid BIGINT NOT NULL,
  actions_nid BIGINT NOT NULL,
  highlight BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  PRIMARY KEY (user_nid, stream_ordering)
);
`;
