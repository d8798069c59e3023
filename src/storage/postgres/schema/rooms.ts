/**
 * PostgreSQL tables of this area (see ../migrations.ts for the conventions):
 * rooms, their events and state (state groups: ../room-store.ts), aliases and
 * the published directory. events.stream_ordering is the events stream's
 * position (../streams.ts), so it has no default: the room store takes the
 * positions of a batch before its transaction. state_groups.id is a plain ID.
 */
export const roomsSchema = `
CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  room_version TEXT NOT NULL,
  creator TEXT NOT NULL,
  -- The state group of the room's current state.
  state_group BIGINT,
  created_ts BIGINT NOT NULL
);

CREATE SEQUENCE events_stream_ordering_seq;
CREATE TABLE events (
  stream_ordering BIGINT PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  depth BIGINT NOT NULL,
  -- The state group of the state after this event.
  state_group BIGINT NOT NULL,
  -- The PDU as JSON (without event_id, which is derived from it).
  json TEXT NOT NULL,
  replaces_state TEXT,
  membership TEXT
);
CREATE INDEX events_by_room ON events (room_id, stream_ordering);
CREATE INDEX events_memberships ON events (state_key, stream_ordering)
  WHERE type = 'm.room.member';

CREATE SEQUENCE state_groups_id_seq;
CREATE TABLE state_groups (
  id BIGINT PRIMARY KEY DEFAULT nextval('state_groups_id_seq'),
  room_id TEXT NOT NULL,
  prev_group BIGINT,
  chain_length BIGINT NOT NULL
);
CREATE TABLE state_group_entries (
  state_group BIGINT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (state_group, type, state_key)
);

CREATE TABLE current_state (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  -- For m.room.member: the membership, so rooms of a user are one index lookup.
  membership TEXT,
  PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members ON current_state (state_key, membership)
  WHERE type = 'm.room.member';

CREATE TABLE forward_extremities (
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
);

CREATE TABLE room_aliases (
  alias TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts BIGINT NOT NULL
);
CREATE INDEX room_aliases_by_room ON room_aliases (room_id);

CREATE TABLE room_directory (
  room_id TEXT PRIMARY KEY,
  published_ts BIGINT NOT NULL
);

CREATE TABLE forgotten_rooms (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE redactions (
  redacted_event_id TEXT NOT NULL,
  redaction_event_id TEXT NOT NULL,
  PRIMARY KEY (redacted_event_id, redaction_event_id)
);

-- One row per event sent with a client transaction ID: a retry finds its event.
CREATE TABLE event_transactions (
  stream_ordering BIGINT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL
);
CREATE UNIQUE INDEX event_transactions_by_txn
  ON event_transactions (user_id, device_id, endpoint, txn_id);
`;
