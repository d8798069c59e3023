/**
 * PostgreSQL tables of this area (see ../migrations.ts for the conventions):
 * users and their sessions, UIA, profiles, filters, push rules, media,
 * content reports and pushers.
 */
export const accountsSchema = `
CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  password_hash TEXT,
  is_guest BIGINT NOT NULL DEFAULT 0,
  is_admin BIGINT NOT NULL DEFAULT 0,
  deactivated BIGINT NOT NULL DEFAULT 0,
  created_ts BIGINT NOT NULL
);
CREATE TABLE devices (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  display_name TEXT,
  last_seen_ts BIGINT,
  last_seen_ip TEXT,
  created_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);
CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_ts BIGINT NOT NULL
);
CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id);
CREATE TABLE login_tokens (
  nonce TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  expires_ts BIGINT NOT NULL
);
CREATE TABLE uia_sessions (
  session_id TEXT PRIMARY KEY,
  user_id TEXT,
  operation TEXT NOT NULL,
  flows TEXT NOT NULL,
  completed TEXT NOT NULL,
  expires_ts BIGINT NOT NULL
);
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
CREATE TABLE profiles (
  user_id TEXT PRIMARY KEY,
  displayname TEXT,
  avatar_url TEXT,
  fields_json TEXT
);
CREATE TABLE profile_propagations (
  user_id TEXT PRIMARY KEY,
  generation BIGINT NOT NULL
);
CREATE TABLE deactivation_leaves (
  user_id TEXT PRIMARY KEY
);
CREATE TABLE user_filters (
  user_id TEXT NOT NULL,
  filter_id BIGINT NOT NULL,
  filter_json TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);
CREATE TABLE push_rules (
  user_id TEXT PRIMARY KEY,
  rules_json TEXT NOT NULL
);
CREATE TABLE media (
  media_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_ts BIGINT NOT NULL,
  unused_expires_ts BIGINT,
  upload_ts BIGINT,
  content_type TEXT,
  file_name TEXT,
  size BIGINT,
  sha256 TEXT,
  authenticated BIGINT NOT NULL,
  quarantined BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX media_pending_by_user ON media (user_id) WHERE upload_ts IS NULL;
CREATE SEQUENCE content_reports_id_seq;
CREATE TABLE content_reports (
  id BIGINT PRIMARY KEY DEFAULT nextval('content_reports_id_seq'),
  reporter TEXT NOT NULL,
  room_id TEXT,
  event_id TEXT,
  user_id TEXT,
  reason TEXT,
  received_ts BIGINT NOT NULL
);
ALTER SEQUENCE content_reports_id_seq OWNED BY content_reports.id;
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
  pushkey_ts BIGINT NOT NULL,
  last_stream_ordering BIGINT NOT NULL,
  failing_since BIGINT,
  last_error TEXT,
  PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
CREATE INDEX pushers_by_device ON pushers (user_id, device_id);
`;
