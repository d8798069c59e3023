/** PostgreSQL migration 3: SQLite's migration 18 (sqlite/admin-job-schema.ts), column for column. */
export const adminJobsSchema = `
CREATE TABLE admin_jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  room_id TEXT NOT NULL,
  params_json TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  result_json TEXT,
  created_ts BIGINT NOT NULL,
  updated_ts BIGINT NOT NULL
);
CREATE INDEX admin_jobs_by_room ON admin_jobs (room_id, kind, created_ts);
CREATE INDEX admin_jobs_unfinished ON admin_jobs (created_ts)
  WHERE status IN ('scheduled', 'active');
CREATE TABLE blocked_rooms (
  room_id TEXT PRIMARY KEY,
  user_id TEXT,
  blocked_ts BIGINT NOT NULL
);
`;
