/**
 * The PostgreSQL schema. It mirrors the SQLite schema's tables and columns
 * name for name (`weft migrate-db` copies table to table), with BIGINT for
 * SQLite's INTEGER, BYTEA for BLOB, and sequences (`<table>_<column>_seq`) for
 * AUTOINCREMENT columns. Each area's tables are in schema/<area>.ts; version 1
 * is all of them. Later changes are new numbered migrations here (4 and 6 were
 * never used: reserved during parallel work).
 */
import { accountsSchema } from './schema/accounts.js';
import { roomsSchema } from './schema/rooms.js';
import { relationsPushSchema } from './schema/relations-push.js';
import { e2eeSchema } from './schema/e2ee.js';
import { userDataSchema } from './schema/user-data.js';
import { accountModerationSchema } from './schema/account-moderation.js';
import { adminJobsSchema } from './schema/admin-jobs.js';
import { mediaTokensSchema } from './schema/media-tokens.js';
import { searchSchema } from './schema/search.js';
import { SLIDING_SYNC_TABLE_SQL } from '../common/sliding-sync-sql.js';
import { receivedEventsTablesSql } from '../common/received-events-sql.js';
import { FEDERATION_SENDING_TABLES_SQL } from '../common/federation-sending-sql.js';

export interface PostgresMigration {
  version: number;
  sql: string;
}

export const postgresMigrations: PostgresMigration[] = [
  {
    version: 1,
    sql: [accountsSchema, roomsSchema, relationsPushSchema, e2eeSchema, userDataSchema].join('\n'),
  },
  { version: 2, sql: accountModerationSchema },
  // Admin jobs and blocked rooms, as SQLite's migration 18.
  { version: 3, sql: adminJobsSchema },
  // Media administration and registration tokens, as SQLite's migration 20.
  { version: 5, sql: mediaTokensSchema },
  {
    // timestamp_to_event, as SQLite's migration 22: an index on the expression, so the
    // write path is unchanged; queries must spell it the same way.
    version: 7,
    // An event whose JSON holds \u0000 (which PostgreSQL's JSON parsing refuses) gets NULL.
    sql: `CREATE INDEX events_by_room_ts ON events (room_id, (CASE WHEN strpos(json, '\\u0000') = 0
      THEN (json::json ->> 'origin_server_ts')::bigint END), stream_ordering);`,
  },
  {
    // sent_invite_count, as SQLite's migration 23: invites only, so other sends write nothing more.
    version: 8,
    sql: `CREATE INDEX events_invites_by_sender ON events (sender) WHERE membership = 'invite';`,
  },
  {
    // As SQLite's migration 24: the User-Agent of a device's last request.
    version: 9,
    sql: 'ALTER TABLE devices ADD COLUMN last_seen_user_agent TEXT;',
  },
  // The full-text search index, as SQLite's migration 25.
  { version: 10, sql: searchSchema },
  {
    // OpenID tokens, as SQLite's migration 27.
    version: 12,
    sql: `CREATE TABLE openid_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_ts BIGINT NOT NULL
      );
      CREATE INDEX openid_tokens_by_expiry ON openid_tokens (expires_ts);`,
  },
  {
    // Application service delivery, as SQLite's migration 28.
    version: 13,
    sql: `CREATE TABLE appservice_delivery (
        service_id TEXT PRIMARY KEY,
        delivered_up_to BIGINT NOT NULL,
        last_txn_number BIGINT NOT NULL,
        in_flight_txn_id TEXT,
        in_flight_body TEXT,
        in_flight_up_to BIGINT
      );`,
  },
  {
    // Application service room lists, as SQLite's migration 29.
    version: 14,
    sql: `CREATE TABLE appservice_room_list (
        service_id TEXT NOT NULL,
        network_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        published_ts BIGINT NOT NULL,
        PRIMARY KEY (service_id, network_id, room_id)
      );
      CREATE INDEX appservice_room_list_order
        ON appservice_room_list (service_id, network_id, published_ts, room_id COLLATE "C");`,
  },
  // Sliding sync's connection positions, as SQLite's migration 30.
  { version: 15, sql: SLIDING_SYNC_TABLE_SQL.replace('%INTEGER%', 'BIGINT') },
  // --- federation keys ---
  {
    // Other servers' verify keys, as SQLite's migration 31.
    version: 16,
    sql: `CREATE TABLE server_keys (
        server_name TEXT NOT NULL,
        key_id TEXT NOT NULL,
        public_key TEXT NOT NULL,
        valid_until_ts BIGINT NOT NULL,
        expired_ts BIGINT,
        fetched_ts BIGINT NOT NULL,
        response_json TEXT NOT NULL,
        PRIMARY KEY (server_name, key_id)
      );`,
  },
  // --- federated events ---
  // Events off the stream, edges of received events, membership changes: SQLite's migration 32.
  { version: 17, sql: receivedEventsTablesSql('BIGINT', '') },
  // --- federation sending ---
  // The federation sender's queues, marks and backoff, as SQLite's migration 33.
  {
    version: 18,
    sql: FEDERATION_SENDING_TABLES_SQL.replaceAll('%INTEGER%', 'BIGINT').replace(
      '%ID%',
      'BIGSERIAL PRIMARY KEY',
    ),
  },
  // The room's resolved state after an event on a fork: SQLite's migration 34.
  { version: 19, sql: 'ALTER TABLE events ADD COLUMN resolved_state_group BIGINT;' },
  // Device list changes per device and the chains of device list EDUs: SQLite's migration 35.
  {
    version: 20,
    sql: `ALTER TABLE device_list_changes ADD COLUMN device_id TEXT;
      CREATE TABLE device_list_outbound (
        user_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        stream_id BIGINT NOT NULL,
        PRIMARY KEY (user_id, destination)
      );`,
  },
];

export const latestPostgresSchemaVersion = Math.max(...postgresMigrations.map((m) => m.version));
