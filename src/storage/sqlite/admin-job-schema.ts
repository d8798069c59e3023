/**
 * SQLite migration 18 (PostgreSQL's is migration 3, schema/admin-jobs.ts, the
 * same tables and columns): the Admin API's background jobs and blocked rooms.
 */
export const adminJobsSql = `
  -- A room deletion or history purge: written before the request is answered,
  -- updated as it runs, resumed at start while scheduled or active. params_json:
  -- what the request asked; result_json: what the job did (Synapse's shutdown_room).
  CREATE TABLE admin_jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    room_id TEXT NOT NULL,
    params_json TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    result_json TEXT,
    created_ts INTEGER NOT NULL,
    updated_ts INTEGER NOT NULL
  );
  CREATE INDEX admin_jobs_by_room ON admin_jobs (room_id, kind, created_ts);
  CREATE INDEX admin_jobs_unfinished ON admin_jobs (created_ts)
    WHERE status IN ('scheduled', 'active');
  -- Rooms this server's users may not join (known to the server or not yet).
  CREATE TABLE blocked_rooms (
    room_id TEXT PRIMARY KEY,
    user_id TEXT,
    blocked_ts INTEGER NOT NULL
  );
`;
