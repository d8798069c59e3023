/** Sliding sync's connection positions and room recency, on SQLite. */
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
  readReceiptRoomsSql,
  selectPositionSql,
  trimConnectionsSql,
} from '../common/sliding-sync-sql.js';
import { derivedDataTransaction, type SqliteDatabase } from './database.js';

const anonymous = () => '?';

export class SqliteSlidingSyncStore implements SlidingSyncStore {
  private readonly select;
  private readonly save;
  private readonly latest;
  private readonly latestOfTypes;
  private readonly receiptRooms;

  constructor(db: SqliteDatabase) {
    this.select = db.prepare(selectPositionSql(anonymous)).pluck();
    const insert = db.prepare(insertPositionSql(anonymous));
    const forgetOthers = db.prepare(forgetOtherPositionsSql(anonymous));
    const expire = db.prepare(expirePositionsSql(anonymous));
    const trim = db.prepare(trimConnectionsSql(anonymous));
    /*
     * Committed without waiting for the disk (derivedDataTransaction): a process crash loses
     * nothing (WAL), and a power cut at worst loses the newest pos, whose client then gets
     * M_UNKNOWN_POS and starts afresh, losing no data (to-device messages are deleted only
     * when a later `since` acknowledges them). Each answered long-poll writes one of these.
     */
    this.save = (position: NewPosition, limits: ConnectionLimits) =>
      derivedDataTransaction(db, () => {
        const { userId, deviceId, connId } = position.key;
        insert.run(position.pos, userId, deviceId, connId, position.stateJson, position.now);
        forgetOthers.run(userId, deviceId, connId, position.pos, position.basePos ?? position.pos);
        expire.run(limits.expireBefore);
        trim.run(userId, userId, limits.maxConnectionsPerUser);
      });
    // Per room, the newest event at or before the bound: events_by_room answers each at once.
    this.latest = db.prepare(
      `SELECT r.value AS room_id, (SELECT MAX(stream_ordering) FROM events e
         WHERE e.room_id = r.value AND e.stream_ordering <= ?) AS position
       FROM json_each(?) r`,
    );
    this.latestOfTypes = db.prepare(
      `SELECT r.value AS room_id, (SELECT MAX(stream_ordering) FROM events e
         WHERE e.room_id = r.value AND e.stream_ordering <= ?
           AND e.type IN (SELECT value FROM json_each(?))) AS position
       FROM json_each(?) r`,
    );
    this.receiptRooms = db.prepare(readReceiptRoomsSql(anonymous)).pluck();
  }

  async readReceiptRooms(userId: string, after: number, upTo: number): Promise<string[]> {
    return this.receiptRooms.all(after, upTo, userId) as string[];
  }

  async loadPosition(key: ConnectionKey, pos: string): Promise<string | undefined> {
    return this.select.get(pos, key.userId, key.deviceId, key.connId) as string | undefined;
  }

  async savePosition(position: NewPosition, limits: ConnectionLimits): Promise<void> {
    this.save(position, limits);
  }

  async latestPositions(
    roomIds: readonly string[],
    upTo: number,
    types?: readonly string[],
  ): Promise<Map<string, number>> {
    const rooms = JSON.stringify(roomIds);
    const rows = (
      types
        ? this.latestOfTypes.all(upTo, JSON.stringify(types), rooms)
        : this.latest.all(upTo, rooms)
    ) as { room_id: string; position: number | null }[];
    return positionsOf(rows);
  }
}

export function positionsOf(
  rows: readonly { room_id: string; position: number | string | null }[],
): Map<string, number> {
  const positions = new Map<string, number>();
  for (const row of rows) {
    if (row.position !== null) positions.set(row.room_id, Number(row.position));
  }
  return positions;
}
