/** Sliding sync's connection positions and room recency, on PostgreSQL. */
import type {
  ConnectionKey,
  ConnectionLimits,
  NewPosition,
  SlidingSyncStore,
} from '../../domain/sliding-sync-connections.js';
import {
  expirePositionsSql,
  forgetOtherPositionsSql,
  insertPositionSql,
  selectPositionSql,
  trimConnectionsSql,
} from '../common/sliding-sync-sql.js';
import type { PgDatabase } from './database.js';

const numbered = (n: number) => `$${n}`;

/** Per room, its newest event at or before $2 (of the types $3 when not null). */
const LATEST_SQL = `SELECT r AS room_id, (SELECT MAX(stream_ordering) FROM events e
    WHERE e.room_id = r AND e.stream_ordering <= $2
      AND ($3::text[] IS NULL OR e.type = ANY($3::text[]))) AS position
  FROM unnest($1::text[]) r`;

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
    await this.db.transaction(async (tx) => {
      await tx.run(insertPositionSql(numbered), [
        position.pos,
        userId,
        deviceId,
        connId,
        position.stateJson,
        position.now,
      ]);
      await tx.run(forgetOtherPositionsSql(numbered), [
        userId,
        deviceId,
        connId,
        position.pos,
        position.basePos ?? position.pos,
      ]);
      await tx.run(expirePositionsSql(numbered), [limits.expireBefore]);
      await tx.run(trimConnectionsSql(numbered), [userId, userId, limits.maxConnectionsPerUser]);
    });
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
