/** The Admin API's room list in PostgreSQL: three queries, whatever the number of rooms. */
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
import type { PgDatabase } from './database.js';
import { CURRENT_STATE_WITH_JSON, STATE_EVENT_JSON } from '../common/current-state-sql.js';

export async function listRooms(db: PgDatabase, scope: RoomListScope): Promise<ListedRoom[]> {
  const roomId = scope.roomId ?? null;
  const [rooms, counts, state] = await Promise.all([
    db.rows<RoomListRow>(
      `SELECT room_id, room_version, creator,
              EXISTS (SELECT 1 FROM room_directory d WHERE d.room_id = rooms.room_id) AS published
       FROM rooms WHERE ($1::text IS NULL OR room_id = $1)`,
      [roomId],
    ),
    db.rows<RoomCountsRow>(
      `SELECT room_id, COUNT(*)::int AS state_events,
              (COUNT(*) FILTER (WHERE type = 'm.room.member' AND membership = 'join'))::int AS joined,
              (COUNT(*) FILTER (WHERE type = 'm.room.member' AND membership = 'join'
                                  AND state_key LIKE $2))::int AS joined_local
       FROM current_state WHERE ($1::text IS NULL OR room_id = $1) GROUP BY room_id`,
      [roomId, localUserPattern(scope.serverName)],
    ),
    db.rows<ListedStateRow>(
      `SELECT cs.room_id, cs.type, ${STATE_EVENT_JSON} AS json
       FROM ${CURRENT_STATE_WITH_JSON}
       WHERE ($1::text IS NULL OR cs.room_id = $1) AND cs.state_key = '' AND cs.type = ANY($2::text[])`,
      [roomId, LISTED_ROOM_STATE_TYPES],
    ),
  ]);
  return toListedRooms(rooms, counts, state);
}
