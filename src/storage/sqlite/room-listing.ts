/** The Admin API's room list in SQLite: three statements, whatever the number of rooms. */
import {
  LISTED_ROOM_STATE_TYPES,
  type ListedRoom,
  type RoomListScope,
} from '../../domain/room-list.js';
import {
  type ListedStateRow,
  localUserPattern,
  type RoomCountsRow,
  type RoomListRow,
  toListedRooms,
} from '../common/room-list-rows.js';
import type { SqliteDatabase } from './database.js';
import { CURRENT_STATE_WITH_JSON, STATE_EVENT_JSON } from '../common/current-state-sql.js';

export function roomListStatements(db: SqliteDatabase) {
  const typeList = LISTED_ROOM_STATE_TYPES.map(() => '?').join(', ');
  return {
    rooms: db.prepare(
      `SELECT room_id, room_version, creator,
              EXISTS (SELECT 1 FROM room_directory d WHERE d.room_id = rooms.room_id) AS published
       FROM rooms WHERE (? IS NULL OR room_id = ?)`,
    ),
    counts: db.prepare(
      `SELECT room_id, COUNT(*) AS state_events,
              SUM(type = 'm.room.member' AND membership = 'join') AS joined,
              SUM(type = 'm.room.member' AND membership = 'join' AND state_key LIKE ?) AS joined_local
       FROM current_state WHERE (? IS NULL OR room_id = ?) GROUP BY room_id`,
    ),
    state: db.prepare(
      `SELECT cs.room_id, cs.type, ${STATE_EVENT_JSON} AS json
       FROM ${CURRENT_STATE_WITH_JSON}
       WHERE (? IS NULL OR cs.room_id = ?) AND cs.state_key = '' AND cs.type IN (${typeList})`,
    ),
  };
}

export function listRooms(
  statements: ReturnType<typeof roomListStatements>,
  scope: RoomListScope,
): ListedRoom[] {
  const roomId = scope.roomId ?? null;
  return toListedRooms(
    statements.rooms.all(roomId, roomId) as RoomListRow[],
    statements.counts.all(localUserPattern(scope.serverName), roomId, roomId) as RoomCountsRow[],
    statements.state.all(roomId, roomId, ...LISTED_ROOM_STATE_TYPES) as ListedStateRow[],
  );
}
