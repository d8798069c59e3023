/** Mutual rooms in SQLite (common/mutual-rooms-sql.ts). */
import type { MutualRoomStore } from '../../domain/mutual-rooms.js';
import { mutualRoomsSql, sortedRoomIds } from '../common/mutual-rooms-sql.js';
import type { SqliteDatabase } from './database.js';

export class SqliteMutualRoomStore implements MutualRoomStore {
  private readonly select;

  constructor(db: SqliteDatabase) {
    this.select = db.prepare(mutualRoomsSql(() => '?'));
  }

  async mutualRooms(userA: string, userB: string): Promise<string[]> {
    return sortedRoomIds(this.select.all(userA, userB) as { room_id: string }[]);
  }
}
