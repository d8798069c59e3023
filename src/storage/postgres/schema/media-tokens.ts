/** PostgreSQL migration 5, as SQLite's migration 20 (sqlite/media-tokens-schema.ts). */
export const mediaTokensSchema = `
ALTER TABLE media ADD COLUMN quarantined_by TEXT;
ALTER TABLE media ADD COLUMN safe_from_quarantine BIGINT NOT NULL DEFAULT 0;
CREATE INDEX media_by_user ON media (user_id, created_ts);
CREATE TABLE registration_tokens (
  token TEXT PRIMARY KEY,
  uses_allowed BIGINT,
  pending BIGINT NOT NULL DEFAULT 0,
  completed BIGINT NOT NULL DEFAULT 0,
  expiry_time BIGINT
);
CREATE TABLE registration_token_reservations (
  session_id TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  expires_ts BIGINT NOT NULL
);
CREATE INDEX registration_token_reservations_by_expiry
  ON registration_token_reservations (expires_ts);
`;
