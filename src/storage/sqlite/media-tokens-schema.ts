/**
 * SQLite migration 20: media administration (quarantine by whom, protection
 * from quarantine and bulk deletion, media by uploader) and registration
 * tokens kept in the database. PostgreSQL's migration 5 has the same tables.
 */
export const mediaTokensSql = `
  -- Who quarantined the media (Synapse's quarantined_by); quarantined stays the flag.
  ALTER TABLE media ADD COLUMN quarantined_by TEXT;
  -- Protected media (Synapse's safe_from_quarantine): the room and user bulk
  -- quarantines and the bulk deletion leave it alone.
  ALTER TABLE media ADD COLUMN safe_from_quarantine INTEGER NOT NULL DEFAULT 0;
  -- The Admin API's user media lists and statistics.
  CREATE INDEX media_by_user ON media (user_id, created_ts);
  -- Registration tokens made through the Admin API (config ones are not stored).
  -- A use is pending from the UIA stage until the registration completes.
  CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY,
    uses_allowed INTEGER,
    pending INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    expiry_time INTEGER
  );
  -- The pending use each UIA session holds, given back when the session expires.
  CREATE TABLE registration_token_reservations (
    session_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    expires_ts INTEGER NOT NULL
  );
  CREATE INDEX registration_token_reservations_by_expiry
    ON registration_token_reservations (expires_ts);
`;
