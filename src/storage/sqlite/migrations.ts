/**
 * Numbered schema migrations, applied in order at start and recorded in
 * `schema_version`. Never edit a released migration: add a new one.
 * (Migration 1 was still being written before Weft's first release.)
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    description: 'users, devices, access tokens, login tokens, UIA sessions',
    sql: `
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        password_hash TEXT,
        is_guest INTEGER NOT NULL DEFAULT 0,
        is_admin INTEGER NOT NULL DEFAULT 0,
        deactivated INTEGER NOT NULL DEFAULT 0,
        created_ts INTEGER NOT NULL
      );
      CREATE TABLE devices (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        display_name TEXT,
        last_seen_ts INTEGER,
        last_seen_ip TEXT,
        created_ts INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
      );
      CREATE TABLE access_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        created_ts INTEGER NOT NULL
      );
      CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id);
      CREATE TABLE login_tokens (
        nonce TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_ts INTEGER NOT NULL
      );
      CREATE TABLE uia_sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT,
        operation TEXT NOT NULL,
        flows TEXT NOT NULL,
        completed TEXT NOT NULL,
        expires_ts INTEGER NOT NULL
      );
      CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'rooms, events, state groups, current state, forward extremities, transactions',
    sql: `
      CREATE TABLE rooms (
        room_id TEXT PRIMARY KEY,
        room_version TEXT NOT NULL,
        creator TEXT NOT NULL,
        -- The state group of the room's current state.
        state_group INTEGER,
        created_ts INTEGER NOT NULL
      );
      -- stream_ordering orders every event of the server for sync.
      CREATE TABLE events (
        stream_ordering INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        room_id TEXT NOT NULL,
        type TEXT NOT NULL,
        state_key TEXT,
        sender TEXT NOT NULL,
        depth INTEGER NOT NULL,
        -- The state group of the state after this event.
        state_group INTEGER NOT NULL,
        -- The PDU as JSON (without event_id, which is derived from it).
        json TEXT NOT NULL
      );
      CREATE INDEX events_by_room ON events (room_id, stream_ordering);
      -- State groups: each holds its entries as a delta over prev_group; a chain
      -- is cut by a full snapshot (prev_group NULL) every few dozen links.
      CREATE TABLE state_groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        prev_group INTEGER,
        chain_length INTEGER NOT NULL
      );
      CREATE TABLE state_group_entries (
        state_group INTEGER NOT NULL,
        type TEXT NOT NULL,
        state_key TEXT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (state_group, type, state_key)
      ) WITHOUT ROWID;
      CREATE TABLE current_state (
        room_id TEXT NOT NULL,
        type TEXT NOT NULL,
        state_key TEXT NOT NULL,
        event_id TEXT NOT NULL,
        -- For m.room.member: the membership, so rooms of a user are one index lookup.
        membership TEXT,
        PRIMARY KEY (room_id, type, state_key)
      ) WITHOUT ROWID;
      CREATE INDEX current_state_members ON current_state (state_key, membership)
        WHERE type = 'm.room.member';
      CREATE TABLE forward_extremities (
        room_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (room_id, event_id)
      ) WITHOUT ROWID;
      -- Transaction IDs are scoped to the device that sent them (and the endpoint).
      CREATE TABLE event_transactions (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        txn_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (user_id, device_id, endpoint, txn_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description:
      'room aliases, the room directory, redactions, replaced state, transaction lookups, forgotten rooms',
    sql: `
      CREATE TABLE room_aliases (
        alias TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        creator TEXT NOT NULL,
        created_ts INTEGER NOT NULL
      );
      CREATE INDEX room_aliases_by_room ON room_aliases (room_id);
      -- Rooms published in the public room directory.
      CREATE TABLE room_directory (
        room_id TEXT PRIMARY KEY,
        published_ts INTEGER NOT NULL
      );
      -- For a state event: the event it replaced in the room state (unsigned.prev_content).
      ALTER TABLE events ADD COLUMN replaces_state TEXT;
      -- To give a sender's own device its transaction_id back with the event.
      CREATE INDEX event_transactions_by_event ON event_transactions (event_id);
      -- Rooms a user has forgotten (left rooms no longer shown to them).
      CREATE TABLE forgotten_rooms (
        user_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        PRIMARY KEY (user_id, room_id)
      ) WITHOUT ROWID;
      -- Which event redacts which; applied when events are served.
      CREATE TABLE redactions (
        redacted_event_id TEXT NOT NULL,
        redaction_event_id TEXT NOT NULL,
        PRIMARY KEY (redacted_event_id, redaction_event_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    description: 'user profiles (display name, avatar)',
    sql: `
      -- A user's global profile, copied into their m.room.member events.
      CREATE TABLE profiles (
        user_id TEXT PRIMARY KEY,
        displayname TEXT,
        avatar_url TEXT
      );
      -- New accounts start with their localpart as display name (as in Synapse):
      -- existing ones get the same, so every account looks alike.
      INSERT INTO profiles (user_id, displayname)
        SELECT user_id, substr(user_id, 2, instr(user_id, ':') - 2) FROM users;
    `,
  },
  {
    version: 5,
    description: 'sync filters uploaded by users',
    sql: `
      -- POST /user/{userId}/filter: the client's JSON as given; IDs count up per user.
      CREATE TABLE user_filters (
        user_id TEXT NOT NULL,
        filter_id INTEGER NOT NULL,
        filter_json TEXT NOT NULL,
        PRIMARY KEY (user_id, filter_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    description: 'memberships in the event stream, for sync',
    sql: `
      -- For m.room.member events: the membership, so a user's membership changes
      -- between two sync positions are one index range.
      ALTER TABLE events ADD COLUMN membership TEXT;
      UPDATE events SET membership = json_extract(json, '$.content.membership')
        WHERE type = 'm.room.member';
      CREATE INDEX events_memberships ON events (state_key, stream_ordering)
        WHERE type = 'm.room.member';
    `,
  },
  {
    version: 7,
    description: 'push rules of each user',
    sql: `
      -- One row per user who changed their push rules: their own rules and their
      -- enabled/actions changes to the server defaults, as JSON (push/types.ts
      -- UserPushRules). Always read and written whole, one row per change.
      CREATE TABLE push_rules (
        user_id TEXT PRIMARY KEY,
        rules_json TEXT NOT NULL
      );
    `,
  },
];

export const latestSchemaVersion = Math.max(...migrations.map((m) => m.version));
