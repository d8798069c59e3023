/**
 * PostgreSQL tables of this area (see ../migrations.ts for the conventions):
 * E2EE keys, to-device messages, device list changes, key backup.
 * to_device_messages.stream_id and device_list_changes.stream_id are stream
 * positions (no default: writers take them from StreamPositions first).
 */
export const e2eeSchema = `
CREATE TABLE e2e_device_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

CREATE SEQUENCE e2e_one_time_keys_seq_seq;
CREATE TABLE e2e_one_time_keys (
  seq BIGINT PRIMARY KEY DEFAULT nextval('e2e_one_time_keys_seq_seq'),
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL
);
CREATE UNIQUE INDEX e2e_one_time_keys_id ON e2e_one_time_keys (user_id, device_id, algorithm, key_id);
CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys (user_id, device_id, algorithm, seq);

CREATE TABLE e2e_fallback_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  used BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id, algorithm)
);

CREATE TABLE e2e_cross_signing_keys (
  user_id TEXT NOT NULL,
  key_type TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, key_type)
);

CREATE TABLE e2e_signatures (
  target_user_id TEXT NOT NULL,
  target_key_id TEXT NOT NULL,
  signer_user_id TEXT NOT NULL,
  signing_key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signing_key_id)
);

CREATE SEQUENCE to_device_messages_stream_id_seq;
CREATE TABLE to_device_messages (
  stream_id BIGINT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  message_json TEXT NOT NULL
);
CREATE INDEX to_device_by_device ON to_device_messages (user_id, device_id, stream_id);

CREATE TABLE to_device_transactions (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, endpoint, txn_id)
);

CREATE SEQUENCE device_list_changes_stream_id_seq;
CREATE TABLE device_list_changes (
  stream_id BIGINT PRIMARY KEY,
  user_id TEXT NOT NULL
);
CREATE INDEX device_list_changes_by_user ON device_list_changes (user_id, stream_id);

CREATE TABLE room_key_backup_versions (
  user_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  algorithm TEXT NOT NULL,
  auth_data_json TEXT NOT NULL,
  etag BIGINT NOT NULL DEFAULT 0,
  deleted BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE room_key_backup_keys (
  user_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  room_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  first_message_index BIGINT NOT NULL,
  forwarded_count BIGINT NOT NULL,
  is_verified BIGINT NOT NULL,
  session_data_json TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);
`;
