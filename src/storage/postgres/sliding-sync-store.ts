/** Sliding sync's connection positions and room recency, on PostgreSQL. */
import type {
  ConnectionKey,
  ConnectionLimits,
  NewPosition,
  SlidingSyncStore,
} from '../../domain/sliding-sync-connections.js';
import { readReceiptRoomsSql, selectPositionSql } from '../common/sliding-sync-sql.js';
import type { PgDatabase } from './database.js';

const numbered = (n: number) => `$${n}`;

/** Per room, its newest event at or before $2 (of the types $3 when not null). */
const LATEST_SQL = `SELECT r AS room_id, (SELECT MAX(stream_ordering) FROM events e
    WHERE e.room_id = r AND e.stream_ordering <= $2
      AND ($3::text[] IS NULL OR e.type = ANY($3::text[]))) AS position
  FROM unnest($1::text[]) r`;

/**
 * A new pos in one statement (one round trip): inserted, the connection's
 * others but its base forgotten, the expired ones deleted, and the user's
 * connections beyond the bound (the new one counted: the statement's
 * sub-queries see the table as it was before it). Committed without waiting
 * for the disk, as the SQLite store's positions: a crash of Weft loses
 * nothing, one of PostgreSQL's host at worst the newest pos, whose client
 * gets M_UNKNOWN_POS and starts afresh, losing no data.
 */
const SAVE_SQL = `WITH inserted AS (
    INSERT INTO sliding_sync_positions (pos, user_id, device_id, conn_id, state_json, created_ts)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING pos
  ), forgotten AS (
    DELETE FROM sliding_sync_positions
    WHERE user_id = $2 AND device_id = $3 AND conn_id = $4 AND pos <> $1 AND pos <> $7
    RETURNING pos
  ), expired AS (
    DELETE FROM sliding_sync_positions WHERE created_ts < $8 RETURNING pos
  ), trimmed AS (
    DELETE FROM sliding_sync_positions
    WHERE user_id = $2 AND (device_id, conn_id) NOT IN (
      SELECT device_id, conn_id FROM (
        SELECT device_id, conn_id, created_ts FROM sliding_sync_positions WHERE user_id = $2
        UNION ALL SELECT $3, $4, $6::bigint) connections
      GROUP BY device_id, conn_id ORDER BY MAX(created_ts) DESC LIMIT $9)
    RETURNING pos
  )
  SELECT set_config('synchronous_commit', 'off', true)`;

export class PgSlidingSyncStore implements SlidingSyncStore {
  constructor(private readonly db: PgDatabase) {}

  async loadPosition(key: ConnectionKey, pos: string): Promise<string | undefined> {
    const row = await this.db.row<{ state_json: string }>(selectPositionSql(numbered), [
      pos,
      key.userId,
      key.deviceId,
      key.connId,
    ]);
    return row?.state_json;
  }

  async savePosition(position: NewPosition, limits: ConnectionLimits): Promise<void> {
    const { userId, deviceId, connId } = position.key;
    await this.db.run(SAVE_SQL, [
      position.pos,
      userId,
      deviceId,
      connId,
      position.stateJson,
      position.now,
      position.basePos ?? position.pos,
      limits.expireBefore,
      limits.maxConnectionsPerUser,
    ]);
  }

  async readReceiptRooms(userId: string, after: number, upTo: number): Promise<string[]> {
    const rows = await this.db.rows<{ room_id: string }>(readReceiptRoomsSql(numbered), [
      after,
      upTo,
      userId,
    ]);
    return rows.map((row) => row.room_id);
  }

  async latestPositions(
    roomIds: readonly string[],
    upTo: number,
    types?: readonly string[],
  ): Promise<Map<string, number>> {
    const rows = await this.db.rows<{ room_id: string; position: number | string | null }>(
      LATEST_SQL,
      [roomIds, upTo, types ?? null],
    );
    const positions = new Map<string, number>();
    for (const row of rows) {
      if (row.position !== null) positions.set(row.room_id, Number(row.position));
    }
    return positions;
  }
}
