/** The SQL both backends share for sliding sync's connections (domain/sliding-sync-connections.ts). */

export const SLIDING_SYNC_TABLE_SQL = `
  -- One row per pos issued by simplified sliding sync (MSC4186): the connection's
  -- state (what each room was sent with, up to which position) after that response.
  CREATE TABLE sliding_sync_positions (
    pos TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    conn_id TEXT NOT NULL,
    state_json TEXT NOT NULL,
    created_ts %INTEGER% NOT NULL
  );
  CREATE INDEX sliding_sync_positions_by_connection
    ON sliding_sync_positions (user_id, device_id, conn_id);
  CREATE INDEX sliding_sync_positions_by_age ON sliding_sync_positions (created_ts);
`;

/** `p(n)` writes the n-th parameter placeholder (`?` or `$n`). */
type Placeholder = (n: number) => string;

export function selectPositionSql(p: Placeholder): string {
  return `SELECT state_json FROM sliding_sync_positions
    WHERE pos = ${p(1)} AND user_id = ${p(2)} AND device_id = ${p(3)} AND conn_id = ${p(4)}`;
}

export function insertPositionSql(p: Placeholder): string {
  return `INSERT INTO sliding_sync_positions (pos, user_id, device_id, conn_id, state_json, created_ts)
    VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`;
}

/** The connection's positions but the new one and the one it was built on. */
export function forgetOtherPositionsSql(p: Placeholder): string {
  return `DELETE FROM sliding_sync_positions
    WHERE user_id = ${p(1)} AND device_id = ${p(2)} AND conn_id = ${p(3)}
      AND pos <> ${p(4)} AND pos <> ${p(5)}`;
}

export function expirePositionsSql(p: Placeholder): string {
  return `DELETE FROM sliding_sync_positions WHERE created_ts < ${p(1)}`;
}

/** The user's (1 and 2) connections beyond the `limit` (3) most recently used. */
export function trimConnectionsSql(p: Placeholder): string {
  return `DELETE FROM sliding_sync_positions
    WHERE user_id = ${p(1)} AND (device_id, conn_id) NOT IN (
      SELECT device_id, conn_id FROM sliding_sync_positions WHERE user_id = ${p(2)}
      GROUP BY device_id, conn_id ORDER BY MAX(created_ts) DESC LIMIT ${p(3)})`;
}

/**
 * The rooms of user (3)'s receipts in (1, 2] of the receipts stream: a range of
 * its key, so as cheap as the receipts extension's own read. The table holds
 * only read receipts (m.fully_read is account data).
 */
export function readReceiptRoomsSql(p: Placeholder): string {
  return `SELECT DISTINCT room_id FROM receipts
    WHERE stream_id > ${p(1)} AND stream_id <= ${p(2)} AND user_id = ${p(3)}`;
}
