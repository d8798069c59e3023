/**
 * Account data in SQLite. A change deletes the row and inserts it again, so its
 * AUTOINCREMENT `stream_id` is the position of the latest change (commit order
 * is position order: one writer), and "changes since" is one index range.
 */
import type { AccountDataRecord, AccountDataStore } from '../storage.js';
import {
  type AccountDataRow,
  GLOBAL_ROOM as GLOBAL,
  toAccountDataRecord as toRecord,
} from '../common/user-data-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqliteAccountDataStore implements AccountDataStore {
  private readonly selectOne;
  private readonly remove;
  private readonly insert;
  private readonly selectChanges;
  private readonly selectRoom;
  private readonly selectMax;
  private readonly replace;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare(
      'SELECT * FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?',
    );
    this.remove = db.prepare(
      'DELETE FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?',
    );
    this.insert = db
      .prepare(
        `INSERT INTO account_data (user_id, room_id, type, content_json) VALUES (?, ?, ?, ?)
         RETURNING stream_id`,
      )
      .pluck();
    this.selectChanges = db.prepare(
      `SELECT * FROM account_data WHERE user_id = ? AND stream_id > ? AND stream_id <= ?
       ORDER BY stream_id`,
    );
    this.selectRoom = db.prepare(
      'SELECT * FROM account_data WHERE user_id = ? AND room_id = ? ORDER BY stream_id',
    );
    this.selectMax = db.prepare('SELECT COALESCE(MAX(stream_id), 0) FROM account_data').pluck();
    this.replace = writeTransaction(
      db,
      (userId: string, roomId: string, type: string, json: string): number => {
        this.remove.run(userId, roomId, type);
        return this.insert.get(userId, roomId, type, json) as number;
      },
    );
  }

  async get(userId: string, roomId: string | undefined, type: string) {
    const row = this.selectOne.get(userId, roomId ?? GLOBAL, type) as AccountDataRow | undefined;
    return row && toRecord(row);
  }

  async put(
    userId: string,
    roomId: string | undefined,
    type: string,
    content: Record<string, unknown>,
  ): Promise<number> {
    return this.replace(userId, roomId ?? GLOBAL, type, JSON.stringify(content));
  }

  async changes(userId: string, after: number, upTo: number): Promise<AccountDataRecord[]> {
    return (this.selectChanges.all(userId, after, upTo) as AccountDataRow[]).map(toRecord);
  }

  async whole(
    userId: string,
    roomIds: readonly string[],
    global: boolean,
  ): Promise<AccountDataRecord[]> {
    const rooms = global ? [GLOBAL, ...roomIds] : roomIds;
    return rooms.flatMap((roomId) =>
      (this.selectRoom.all(userId, roomId) as AccountDataRow[]).map(toRecord),
    );
  }

  async maxStreamId(): Promise<number> {
    return this.selectMax.get() as number;
  }
}
