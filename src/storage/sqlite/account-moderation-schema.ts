/**
 * SQLite migration 17 (PostgreSQL's is migration 2, schema/account-moderation.ts,
 * the same tables and columns): what the Admin API's user moderation stores.
 */
export const accountModerationSql = `
  -- Locked: every authenticated endpoint but logout answers 401 M_USER_LOCKED.
  -- Suspended: the user reads but cannot act (403 M_USER_SUSPENDED). Shadow banned:
  -- the user's sends are answered and dropped. Read with each token lookup.
  ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN shadow_banned INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN user_type TEXT;
  -- An admin's puppet token (POST /_synapse/admin/v1/users/{userId}/login) may expire;
  -- other tokens have no expiry (NULL).
  ALTER TABLE access_tokens ADD COLUMN valid_until_ms INTEGER;
  -- A user's own message rate limit instead of the server's (0 and 0: none).
  CREATE TABLE ratelimit_overrides (
    user_id TEXT PRIMARY KEY,
    messages_per_second INTEGER NOT NULL,
    burst_count INTEGER NOT NULL
  );
`;
