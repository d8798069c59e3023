/**
 * PostgreSQL tables of this area (see ../migrations.ts for the conventions):
 * account data, receipts and presence. Their stream_id columns are stream
 * positions (../streams.ts), so they have no default: a change's writer takes
 * the position first. A change moves the row to its new position (the key stays unique).
 */
export const userDataSchema = `
CREATE SEQUENCE account_data_stream_id_seq;
CREATE TABLE account_data (
  stream_id BIGINT PRIMARY KEY,
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content_json TEXT NOT NULL
);
CREATE UNIQUE INDEX account_data_key ON account_data (user_id, room_id, type);
CREATE INDEX account_data_changes ON account_data (user_id, stream_id);

CREATE SEQUENCE receipts_stream_id_seq;
CREATE TABLE receipts (
  stream_id BIGINT PRIMARY KEY,
  room_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_position BIGINT NOT NULL,
  ts BIGINT NOT NULL
);
CREATE UNIQUE INDEX receipts_key ON receipts (room_id, receipt_type, user_id, thread_id);
CREATE INDEX receipts_by_room ON receipts (room_id, stream_id);

CREATE SEQUENCE presence_stream_id_seq;
CREATE TABLE presence (
  stream_id BIGINT PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts BIGINT NOT NULL
);
`;
