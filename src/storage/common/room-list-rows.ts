/**
 * The Admin API's room list as both backends read it: three queries (the
 * rooms, their current state's counts, the listed state events' JSON), their
 * rows put together here into ListedRoom records.
 */
import type { JsonObject } from '../../events/pdu.js';
import type { ListedRoom } from '../../domain/room-list.js';

export interface RoomListRow {
  room_id: string;
  room_version: string;
  creator: string;
  /** 1 or 0 (SQLite), true or false (PostgreSQL). */
  published: number | boolean;
}

export interface RoomCountsRow {
  room_id: string;
  state_events: number;
  joined: number | null;
  joined_local: number | null;
}

export interface ListedStateRow {
  room_id: string;
  type: string;
  /** The PDU as stored. */
  json: string;
}

/** The `LIKE` pattern of local user IDs (server names hold neither `%` nor `_`: the grammar allows neither). */
export const localUserPattern = (serverName: string) => `%:${serverName}`;

export function toListedRooms(
  rooms: readonly RoomListRow[],
  counts: readonly RoomCountsRow[],
  state: readonly ListedStateRow[],
): ListedRoom[] {
  const byId = new Map<string, ListedRoom>();
  for (const row of rooms) {
    byId.set(row.room_id, {
      roomId: row.room_id,
      version: row.room_version,
      creator: row.creator,
      stateEvents: 0,
      joinedMembers: 0,
      joinedLocalMembers: 0,
      published: row.published === true || row.published === 1,
      state: {},
    });
  }
  for (const row of counts) {
    const room = byId.get(row.room_id);
    if (!room) continue;
    room.stateEvents = Number(row.state_events);
    room.joinedMembers = Number(row.joined ?? 0);
    room.joinedLocalMembers = Number(row.joined_local ?? 0);
  }
  for (const row of state) {
    const room = byId.get(row.room_id);
    if (!room) continue;
    const content = (JSON.parse(row.json) as { content?: JsonObject }).content;
    room.state[row.type] = content ?? {};
  }
  return [...byId.values()];
}
