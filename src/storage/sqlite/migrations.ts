/**
 * Numbered schema migrations, applied in order at start and recorded in
 * `schema_version`. Never edit a released migration: add a new one.
 * (Migration 1 was still being written before Weft's first release.)
 * Numbers 19 and 21 were never used (reserved during parallel work).
 */
import { accountModerationSql } from './account-moderation-schema.js';
import { adminJobsSql } from './admin-job-schema.js';
import { mediaTokensSql } from './media-tokens-schema.js';
import { searchIndexSql } from './search-schema.js';
import { SLIDING_SYNC_TABLE_SQL } from '../common/sliding-sync-sql.js';
import { receivedEventsTablesSql } from '../common/received-events-sql.js';
import { FEDERATION_SENDING_TABLES_SQL } from '../common/federation-sending-sql.js';

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
      -- enabled/actions changes to the server defaults, as JSON (domain/push-rules.ts
      -- UserPushRules). Always read and written whole, one row per change.
      CREATE TABLE push_rules (
        user_id TEXT PRIMARY KEY,
        rules_json TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    description: 'the media repository',
    sql: `
      -- One row per media ID. upload_ts is NULL while an ID from /media/v1/create
      -- waits for its content (until unused_expires_ts); the file under
      -- <data_dir>/media exists once upload_ts is set. authenticated = 1: served
      -- only by the authenticated endpoints (uploaded after the legacy freeze).
      CREATE TABLE media (
        media_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_ts INTEGER NOT NULL,
        unused_expires_ts INTEGER,
        upload_ts INTEGER,
        content_type TEXT,
        file_name TEXT,
        size INTEGER,
        sha256 TEXT,
        authenticated INTEGER NOT NULL,
        quarantined INTEGER NOT NULL DEFAULT 0
      );
      -- A user's pending IDs, counted against the limit on pending uploads.
      CREATE INDEX media_pending_by_user ON media (user_id) WHERE upload_ts IS NULL;
    `,
  },
  {
    version: 9,
    description:
      'account data, receipts, presence, profile fields and their propagation, content reports',
    sql: `
      -- Account data, global (room_id '') and per room. A change deletes the row and
      -- inserts it again, so stream_id (AUTOINCREMENT: never reused, commit order) is
      -- the position of the latest change: the accountData stream of sync tokens.
      CREATE TABLE account_data (
        stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        type TEXT NOT NULL,
        content_json TEXT NOT NULL
      );
      CREATE UNIQUE INDEX account_data_key ON account_data (user_id, room_id, type);
      CREATE INDEX account_data_changes ON account_data (user_id, stream_id);
      -- The latest receipt per (room, type, user, thread; '' = unthreaded), replaced
      -- like account data: stream_id is the receipts stream. event_position is the
      -- receipted event's stream_ordering, so an older receipt can be ignored.
      CREATE TABLE receipts (
        stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        receipt_type TEXT NOT NULL,
        user_id TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_position INTEGER NOT NULL,
        ts INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX receipts_key ON receipts (room_id, receipt_type, user_id, thread_id);
      CREATE INDEX receipts_by_room ON receipts (room_id, stream_id);
      -- Each user's presence, replaced on change: stream_id is the presence stream.
      CREATE TABLE presence (
        stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        status_msg TEXT,
        last_active_ts INTEGER NOT NULL
      );
      -- Profile fields besides displayname and avatar_url (m.tz, custom keys), as JSON.
      ALTER TABLE profiles ADD COLUMN fields_json TEXT;
      -- Users whose display name or avatar changed and whose member events are still
      -- to be updated; cleared when done (only if no newer change re-queued it), resumed at start.
      CREATE TABLE profile_propagations (
        user_id TEXT PRIMARY KEY,
        generation INTEGER NOT NULL
      );
      -- Content reports (rooms, events, users), for the server's admins.
      CREATE TABLE content_reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        reporter TEXT NOT NULL,
        room_id TEXT,
        event_id TEXT,
        user_id TEXT,
        reason TEXT,
        received_ts INTEGER NOT NULL
      );
    `,
  },
  {
    version: 10,
    description:
      'end-to-end encryption: device keys, one-time and fallback keys, cross-signing, to-device, device lists, key backup',
    sql: `
      -- A device's identity keys as uploaded (the signed JSON, without signatures added later).
      CREATE TABLE e2e_device_keys (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        key_json TEXT NOT NULL,
        PRIMARY KEY (user_id, device_id)
      ) WITHOUT ROWID;
      -- One-time keys: seq is the upload order, and a claim takes the lowest.
      CREATE TABLE e2e_one_time_keys (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_json TEXT NOT NULL
      );
      CREATE UNIQUE INDEX e2e_one_time_keys_id ON e2e_one_time_keys (user_id, device_id, algorithm, key_id);
      CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys (user_id, device_id, algorithm, seq);
      -- The fallback key per algorithm; used = 1 once claimed (it is handed out again until replaced).
      CREATE TABLE e2e_fallback_keys (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_json TEXT NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, device_id, algorithm)
      ) WITHOUT ROWID;
      -- Cross-signing keys: key_type is master, self_signing or user_signing.
      CREATE TABLE e2e_cross_signing_keys (
        user_id TEXT NOT NULL,
        key_type TEXT NOT NULL,
        key_json TEXT NOT NULL,
        PRIMARY KEY (user_id, key_type)
      ) WITHOUT ROWID;
      -- Signatures from /keys/signatures/upload, merged into the keys they sign when served.
      -- target_key_id is a device ID or a cross-signing public key.
      CREATE TABLE e2e_signatures (
        target_user_id TEXT NOT NULL,
        target_key_id TEXT NOT NULL,
        signer_user_id TEXT NOT NULL,
        signing_key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signing_key_id)
      ) WITHOUT ROWID;
      -- To-device messages waiting for their device's next sync to acknowledge them.
      -- stream_id (AUTOINCREMENT: never reused, commit order) is the toDevice stream.
      CREATE TABLE to_device_messages (
        stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        message_json TEXT NOT NULL
      );
      CREATE INDEX to_device_by_device ON to_device_messages (user_id, device_id, stream_id);
      -- /sendToDevice transaction IDs, scoped per sending device and endpoint.
      CREATE TABLE to_device_transactions (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        txn_id TEXT NOT NULL,
        PRIMARY KEY (user_id, device_id, endpoint, txn_id)
      ) WITHOUT ROWID;
      -- A user's devices or cross-signing keys changed: stream_id is the deviceLists stream.
      CREATE TABLE device_list_changes (
        stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL
      );
      CREATE INDEX device_list_changes_by_user ON device_list_changes (user_id, stream_id);
      -- Server-side key backup: versions (the highest undeleted is current) and their keys.
      CREATE TABLE room_key_backup_versions (
        user_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        algorithm TEXT NOT NULL,
        auth_data_json TEXT NOT NULL,
        etag INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, version)
      ) WITHOUT ROWID;
      CREATE TABLE room_key_backup_keys (
        user_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        room_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        first_message_index INTEGER NOT NULL,
        forwarded_count INTEGER NOT NULL,
        is_verified INTEGER NOT NULL,
        session_data_json TEXT NOT NULL,
        PRIMARY KEY (user_id, version, room_id, session_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    description: 'event relationships (threads, edits, reactions, references) and thread activity',
    sql: `
      -- One row per event whose content has an m.relates_to with a rel_type: the
      -- edge child (event_id) → parent (relates_to), with what aggregations read, so
      -- "children of X", "thread of Y" and "edits of Z" are single index lookups.
      -- thread_id: the thread root the child belongs to, NULL for the main timeline.
      -- A redacted child loses its row (the relationship is broken).
      CREATE TABLE event_relations (
        event_id TEXT PRIMARY KEY,
        relates_to TEXT NOT NULL,
        rel_type TEXT NOT NULL,
        room_id TEXT NOT NULL,
        type TEXT NOT NULL,
        sender TEXT NOT NULL,
        is_state INTEGER NOT NULL,
        aggregation_key TEXT,
        has_new_content INTEGER NOT NULL,
        in_reply_to TEXT,
        thread_id TEXT,
        origin_server_ts INTEGER NOT NULL,
        stream_ordering INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX event_relations_children
        ON event_relations (relates_to, rel_type, stream_ordering);
      -- Participation in threads and duplicate reactions.
      CREATE INDEX event_relations_by_sender
        ON event_relations (relates_to, rel_type, sender, aggregation_key);
      -- Every thread root with the position of its latest thread event, for /threads.
      CREATE TABLE threads (
        root_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        latest_stream_ordering INTEGER NOT NULL
      );
      CREATE INDEX threads_by_activity ON threads (room_id, latest_stream_ordering);

      -- Backfill from the events already stored (redacted ones have no relationship).
      INSERT INTO event_relations (event_id, relates_to, rel_type, room_id, type, sender, is_state,
          aggregation_key, has_new_content, in_reply_to, thread_id, origin_server_ts, stream_ordering)
        SELECT e.event_id,
          json_extract(e.json, '$.content."m.relates_to".event_id'),
          json_extract(e.json, '$.content."m.relates_to".rel_type'),
          e.room_id, e.type, e.sender, e.state_key IS NOT NULL,
          CASE WHEN json_extract(e.json, '$.content."m.relates_to".rel_type') = 'm.annotation'
               AND json_type(e.json, '$.content."m.relates_to".key') = 'text'
            THEN json_extract(e.json, '$.content."m.relates_to".key') END,
          json_type(e.json, '$.content."m.new_content"') IS 'object',
          CASE WHEN json_type(e.json, '$.content."m.relates_to"."m.in_reply_to".event_id') = 'text'
            THEN json_extract(e.json, '$.content."m.relates_to"."m.in_reply_to".event_id') END,
          CASE WHEN json_extract(e.json, '$.content."m.relates_to".rel_type') = 'm.thread'
            THEN json_extract(e.json, '$.content."m.relates_to".event_id') END,
          COALESCE(json_extract(e.json, '$.origin_server_ts'), 0),
          e.stream_ordering
        FROM events e
        WHERE json_type(e.json, '$.content."m.relates_to".rel_type') = 'text'
          AND json_type(e.json, '$.content."m.relates_to".event_id') = 'text'
          AND NOT EXISTS (SELECT 1 FROM redactions r WHERE r.redacted_event_id = e.event_id)
          AND NOT EXISTS (SELECT 1 FROM events p
            WHERE p.event_id = json_extract(e.json, '$.content."m.relates_to".event_id')
              AND p.room_id != e.room_id);
      -- A non-thread child belongs to its parent's thread; three passes reach a
      -- reaction to an edit of a thread event (the depth /relations recurses to).
      UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p
        WHERE p.event_id = event_relations.relates_to) WHERE rel_type != 'm.thread';
      UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p
        WHERE p.event_id = event_relations.relates_to) WHERE rel_type != 'm.thread';
      UPDATE event_relations SET thread_id = (SELECT p.thread_id FROM event_relations p
        WHERE p.event_id = event_relations.relates_to) WHERE rel_type != 'm.thread';
      INSERT INTO threads (root_id, room_id, latest_stream_ordering)
        SELECT relates_to, room_id, MAX(stream_ordering) FROM event_relations
        WHERE rel_type = 'm.thread' GROUP BY relates_to;
    `,
  },
  {
    version: 12,
    description: 'push: notifications, read positions, evaluation progress, pushers',
    sql: `
      -- One row per (user, event) that notifies the user: what the user's push rules made of it.
      -- thread_id: 'main' or the thread root's event ID. actions: the rule's actions as JSON.
      CREATE TABLE push_notifications (
        user_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        stream_ordering INTEGER NOT NULL,
        thread_id TEXT NOT NULL,
        notify INTEGER NOT NULL,
        highlight INTEGER NOT NULL,
        actions TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (user_id, stream_ordering)
      ) WITHOUT ROWID;
      CREATE INDEX push_notifications_by_room
        ON push_notifications (user_id, room_id, stream_ordering);
      -- How far each user has read a room: thread_id '' is an unthreaded receipt (every
      -- thread); others are one thread's. Only ever moves forward.
      CREATE TABLE push_read_positions (
        user_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        stream_ordering INTEGER NOT NULL,
        PRIMARY KEY (user_id, room_id, thread_id)
      ) WITHOUT ROWID;
      -- Every event at or before this position has been evaluated (resumed from at start).
      -- Events stored before this migration are not evaluated.
      CREATE TABLE push_progress (
        name TEXT PRIMARY KEY,
        stream_ordering INTEGER NOT NULL
      );
      INSERT INTO push_progress (name, stream_ordering)
        SELECT 'evaluated', COALESCE(MAX(stream_ordering), 0) FROM events;
      -- HTTP pushers. last_stream_ordering: the newest notification handled (sent or given up).
      CREATE TABLE pushers (
        user_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        pushkey TEXT NOT NULL,
        kind TEXT NOT NULL,
        device_id TEXT,
        app_display_name TEXT NOT NULL,
        device_display_name TEXT NOT NULL,
        profile_tag TEXT,
        lang TEXT NOT NULL,
        data_json TEXT NOT NULL,
        pushkey_ts INTEGER NOT NULL,
        last_stream_ordering INTEGER NOT NULL,
        failing_since INTEGER,
        last_error TEXT,
        PRIMARY KEY (user_id, app_id, pushkey)
      ) WITHOUT ROWID;
      CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
      CREATE INDEX pushers_by_device ON pushers (user_id, device_id);
    `,
  },
  {
    version: 13,
    description: 'push: notifications as small integer rows (names interned)',
    sql: `
      -- Strings that notification rows repeat (user, room and thread IDs, action lists),
      -- each stored once: a notification row is a few integers, not ~200 bytes of text.
      CREATE TABLE push_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      INSERT OR IGNORE INTO push_names (name)
        SELECT user_id FROM push_notifications UNION SELECT room_id FROM push_notifications
        UNION SELECT thread_id FROM push_notifications UNION SELECT actions FROM push_notifications;
      -- One row per (user, event) that notifies the user. thread_nid names 'main' or
      -- the thread root's event ID.
      CREATE TABLE push_notifications_compact (
        user_nid INTEGER NOT NULL,
        stream_ordering INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        room_nid INTEGER NOT NULL,
        thread_nid INTEGER NOT NULL,
        actions_nid INTEGER NOT NULL,
        highlight INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (stream_ordering, user_nid)
      ) WITHOUT ROWID;
      INSERT INTO push_notifications_compact
        SELECT u.id, n.stream_ordering, n.event_id, r.id, t.id, a.id, n.highlight, n.ts
        FROM push_notifications n
        JOIN push_names u ON u.name = n.user_id JOIN push_names r ON r.name = n.room_id
        JOIN push_names t ON t.name = n.thread_id JOIN push_names a ON a.name = n.actions
        WHERE n.notify = 1;
      DROP TABLE push_notifications;
      ALTER TABLE push_notifications_compact RENAME TO push_notifications;
      -- Rows go in stream order, so a transaction's new rows share a few pages at the end of
      -- the table; the index, which each user's queries use, covers counting unread rows.
      CREATE INDEX push_notifications_by_user
        ON push_notifications (user_nid, stream_ordering, room_nid, thread_nid, highlight);
    `,
  },
  {
    version: 14,
    description: 'fewer B-tree pages per message: transactions by position, notifications by user',
    sql: `
      -- Every commit of messages rewrites each page it touches into the WAL. An index keyed
      -- by event ID (a hash) puts each new event on a random page: the transactions are now
      -- found for an event by its position instead, which appends.
      CREATE TABLE event_transactions_by_position (
        stream_ordering INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        txn_id TEXT NOT NULL,
        event_id TEXT NOT NULL
      );
      INSERT INTO event_transactions_by_position
        SELECT e.stream_ordering, t.user_id, t.device_id, t.endpoint, t.txn_id, t.event_id
        FROM event_transactions t JOIN events e ON e.event_id = t.event_id;
      DROP TABLE event_transactions;
      ALTER TABLE event_transactions_by_position RENAME TO event_transactions;
      -- Transaction IDs are scoped to the device that sent them (and the endpoint).
      CREATE UNIQUE INDEX event_transactions_by_txn
        ON event_transactions (user_id, device_id, endpoint, txn_id);
      -- Every query reads one user's notifications: clustered by user, one B-tree per row
      -- instead of a table in stream order plus an index by user.
      CREATE TABLE push_notifications_v14 (
        user_nid INTEGER NOT NULL,
        stream_ordering INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        room_nid INTEGER NOT NULL,
        thread_nid INTEGER NOT NULL,
        actions_nid INTEGER NOT NULL,
        highlight INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (user_nid, stream_ordering)
      ) WITHOUT ROWID;
      INSERT INTO push_notifications_v14
        SELECT user_nid, stream_ordering, event_id, room_nid, thread_nid, actions_nid, highlight, ts
        FROM push_notifications;
      DROP TABLE push_notifications;
      ALTER TABLE push_notifications_v14 RENAME TO push_notifications;
    `,
  },
  {
    version: 15,
    description: 'notification rows without the event ID',
    sql: `
      -- A message in a room of n members writes n - 1 rows, each to its user's own page:
      -- the event ID (44 of a row's ~70 bytes) filled those pages, and every page a
      -- commit touches is written to the WAL and checkpointed back. The event is found
      -- by its position, the events table's key, by the few queries that return it.
      ALTER TABLE push_notifications DROP COLUMN event_id;
    `,
  },
  {
    version: 16,
    description: 'deactivated users leave their rooms',
    sql: `
      -- Deactivated users whose rooms are still to be left (joins left, invites rejected,
      -- knocks withdrawn): queued in the deactivation's transaction, cleared when done,
      -- resumed at start. Users deactivated before this migration stayed in their rooms:
      -- queued too, so they leave at the first start.
      CREATE TABLE deactivation_leaves (user_id TEXT PRIMARY KEY) WITHOUT ROWID;
      INSERT INTO deactivation_leaves SELECT user_id FROM users WHERE deactivated = 1;
    `,
  },
  {
    version: 17,
    description:
      'account moderation: locks, suspensions, shadow bans, rate limit overrides, puppet tokens',
    sql: accountModerationSql,
  },
  {
    version: 18,
    description: 'admin jobs (room deletion, history purges) and blocked rooms',
    sql: adminJobsSql,
  },
  {
    version: 20,
    description: 'media administration and registration tokens',
    sql: mediaTokensSql,
  },
  {
    version: 22,
    description: "rooms' events by origin_server_ts",
    sql: `
      -- timestamp_to_event: the event nearest a time, from the index. An index on the
      -- expression, so the write path is unchanged; queries must spell it the same way.
      CREATE INDEX events_by_room_ts
        ON events (room_id, json_extract(json, '$.origin_server_ts'), stream_ordering);
    `,
  },
  {
    version: 23,
    description: 'invites by their sender',
    sql: `
      -- The Admin API's sent_invite_count: a small index (invites only), so a send
      -- of any other event writes nothing more.
      CREATE INDEX events_invites_by_sender ON events (sender) WHERE membership = 'invite';
    `,
  },
  {
    version: 24,
    description: "devices' last user agent",
    sql: `
      -- The User-Agent of a device's last request, next to its IP: whois and the
      -- Admin API's device lists show it (Synapse keeps it per connection).
      ALTER TABLE devices ADD COLUMN last_seen_user_agent TEXT;
    `,
  },
  {
    version: 25,
    description: 'the full-text search index of room events',
    sql: searchIndexSql,
  },
  {
    version: 27,
    description: 'OpenID tokens',
    sql: `
      -- OpenID tokens (POST /user/{userId}/openid/request_token), hashed as access tokens
      -- are; /openid/userinfo answers only before expires_ts, and expired rows are pruned.
      CREATE TABLE openid_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_ts INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX openid_tokens_by_expiry ON openid_tokens (expires_ts);
    `,
  },
  {
    version: 28,
    description: 'application service delivery',
    sql: `
      -- Per application service: delivered up to which stream position, and the
      -- transaction in flight (its ID and exact body), stored before it is sent so a
      -- restart retries it unchanged (appservice/appservice-pusher.ts).
      CREATE TABLE appservice_delivery (
        service_id TEXT PRIMARY KEY,
        delivered_up_to INTEGER NOT NULL,
        last_txn_number INTEGER NOT NULL,
        in_flight_txn_id TEXT,
        in_flight_body TEXT,
        in_flight_up_to INTEGER
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 29,
    description: 'application service room lists',
    sql: `
      -- Rooms application services publish under their third-party networks
      -- (PUT /directory/list/appservice/{networkId}/{roomId}; appservice/appservice-directory.ts),
      -- in the published directory's order (published_ts, room_id).
      CREATE TABLE appservice_room_list (
        service_id TEXT NOT NULL,
        network_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        published_ts INTEGER NOT NULL,
        PRIMARY KEY (service_id, network_id, room_id)
      ) WITHOUT ROWID;
      CREATE INDEX appservice_room_list_order
        ON appservice_room_list (service_id, network_id, published_ts, room_id);
    `,
  },
  {
    version: 30,
    description: 'sliding sync connection positions',
    sql: SLIDING_SYNC_TABLE_SQL.replace('%INTEGER%', 'INTEGER'),
  },
  // --- federation keys ---
  {
    version: 31,
    description: "federation: other servers' verify keys",
    sql: `
      -- Other servers' verify keys (federation/key-service.ts), each with the whole signed
      -- response it came in, which a notary serves again; expired_ts is set for keys the
      -- response listed as old_verify_keys. One row per key: a newer response replaces it.
      CREATE TABLE server_keys (
        server_name TEXT NOT NULL,
        key_id TEXT NOT NULL,
        public_key TEXT NOT NULL,
        valid_until_ts INTEGER NOT NULL,
        expired_ts INTEGER,
        fetched_ts INTEGER NOT NULL,
        response_json TEXT NOT NULL,
        PRIMARY KEY (server_name, key_id)
      ) WITHOUT ROWID;
    `,
  },
  // --- federated events ---
  {
    version: 32,
    description: 'federation: events off the stream, edges of received events, membership changes',
    sql: receivedEventsTablesSql('INTEGER', ' WITHOUT ROWID'),
  },
  // --- federation sending ---
  {
    version: 33,
    description: 'federation: per-destination queues of PDUs and EDUs, stream marks, backoff',
    sql: FEDERATION_SENDING_TABLES_SQL.replaceAll('%INTEGER%', 'INTEGER').replace(
      '%ID%',
      'INTEGER PRIMARY KEY AUTOINCREMENT',
    ),
  },
  {
    version: 34,
    description: "federation: the room's resolved state after an event on a fork",
    // NULL unless the room's state after the event differs from the event's own (stateIdsAt).
    sql: 'ALTER TABLE events ADD COLUMN resolved_state_group INTEGER;',
  },
  {
    version: 35,
    description: 'federation: device list changes per device, the chains of device list EDUs',
    sql: `
      -- Which device a change is about: each sends its own m.device_list_update. NULL for
      -- the user's cross-signing keys (m.signing_key_update), for another server's user,
      -- and for the changes recorded before this migration.
      ALTER TABLE device_list_changes ADD COLUMN device_id TEXT;
      -- Per user and destination server: the stream_id of the user's last
      -- m.device_list_update queued for it, which the next one names as its prev_id.
      CREATE TABLE device_list_outbound (
        user_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        stream_id INTEGER NOT NULL,
        PRIMARY KEY (user_id, destination)
      ) WITHOUT ROWID;
    `,
  },
];

export const latestSchemaVersion = Math.max(...migrations.map((m) => m.version));
