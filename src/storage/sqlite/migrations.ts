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
];

export const latestSchemaVersion = Math.max(...migrations.map((m) => m.version));
