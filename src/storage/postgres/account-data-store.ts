/**
 * Account data in PostgreSQL. A change moves the (user, room, type) row to a
 * fresh position of the accountData stream, so "changes since" is one index
 * range, as in SQLite.
 */
import type { AccountDataRecord, AccountDataStore } from '../storage.js';
import type { StreamPositions } from '../common/stream-positions.js';
import {
  type AccountDataRow,
  GLOBAL_ROOM,
  inKeyOrder,
  toAccountDataRecord,
} from '../common/user-data-rows.js';
import type { PgExecutor } from './database.js';

const COLUMNS = 'stream_id, user_id, room_id, type, content_json';

export class PgAccountDataStore implements AccountDataStore {
  constructor(
    private readonly db: PgExecutor,
    private readonly stream: StreamPositions,
  ) {}

  async get(
    userId: string,
    roomId: string | undefined,
    type: string,
  ): Promise<AccountDataRecord | undefined> {
    const row = await this.db.row<AccountDataRow>(
      `SELECT ${COLUMNS} FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3`,
      [userId, roomId ?? GLOBAL_ROOM, type],
    );
    return row && toAccountDataRecord(row);
  }

  async put(
    userId: string,
    roomId: string | undefined,
    type: string,
    content: Record<string, unknown>,
  ): Promise<number> {
    const json = JSON.stringify(content);
    return this.stream.run(1, async ([position]) => {
      // Concurrent puts of one key may commit out of position order: the
      // higher position wins, as it would have with one writer committing in order.
      await this.db.run(
        `INSERT INTO account_data (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, room_id, type) DO UPDATE
           SET stream_id = EXCLUDED.stream_id, content_json = EXCLUDED.content_json
           WHERE account_data.stream_id < EXCLUDED.stream_id`,
        [position, userId, roomId ?? GLOBAL_ROOM, type, json],
      );
      return position!;
    });
  }

  async changes(userId: string, after: number, upTo: number): Promise<AccountDataRecord[]> {
    const rows = await this.db.rows<AccountDataRow>(
      `SELECT ${COLUMNS} FROM account_data
       WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id`,
      [userId, after, upTo],
    );
    return rows.map(toAccountDataRecord);
  }

  async whole(
    userId: string,
    roomIds: readonly string[],
    global: boolean,
  ): Promise<AccountDataRecord[]> {
    const rooms = global ? [GLOBAL_ROOM, ...roomIds] : [...roomIds];
    if (rooms.length === 0) return [];
    const rows = await this.db.rows<AccountDataRow>(
      `SELECT ${COLUMNS} FROM account_data
       WHERE user_id = $1 AND room_id = ANY($2::text[]) ORDER BY stream_id`,
      [userId, rooms],
    );
    // Global first, then room by room as asked: what SQLite's query per room gives.
    return inKeyOrder(rooms, rows, (row) => row.room_id).map(toAccountDataRecord);
  }

  async maxStreamId(): Promise<number> {
    return this.stream.persistedUpTo();
  }
}
