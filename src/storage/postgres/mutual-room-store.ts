/** Mutual rooms in PostgreSQL, as in SQLite (common/mutual-rooms-sql.ts). */
import type { MutualRoomStore } from '../../domain/mutual-rooms.js';
import { mutualRoomsSql, sortedRoomIds } from '../common/mutual-rooms-sql.js';
import type { PgDatabase } from './database.js';

const MUTUAL_ROOMS = mutualRoomsSql((n) => `$${n}`);

export class PgMutualRoomStore implements MutualRoomStore {
  constructor(private readonly db: PgDatabase) {}

  async mutualRooms(userA: string, userB: string): Promise<string[]> {
    return sortedRoomIds(await this.db.rows<{ room_id: string }>(MUTUAL_ROOMS, [userA, userB]));
  }
}
