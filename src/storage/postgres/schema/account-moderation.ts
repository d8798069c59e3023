/** PostgreSQL migration 2: SQLite's migration 17 (sqlite/account-moderation-schema.ts), column for column. */
export const accountModerationSchema = `
ALTER TABLE users ADD COLUMN locked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN suspended BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN shadow_banned BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN user_type TEXT;
ALTER TABLE access_tokens ADD COLUMN valid_until_ms BIGINT;
CREATE TABLE ratelimit_overrides (
  user_id TEXT PRIMARY KEY,
  messages_per_second BIGINT NOT NULL,
  burst_count BIGINT NOT NULL
);
`;
