/**
 * Receipts in PostgreSQL: the latest per (room, type, user, thread), moved to
 * a fresh position of the receipts stream on each change.
 */
import type { NewReceipt, ReceiptRecord, ReceiptStore } from '../storage.js';
import type { StreamPositions } from '../common/stream-positions.js';
import {
  type ReceiptRow,
  UNTHREADED,
  inKeyOrder,
  toReceiptRecord,
} from '../common/user-data-rows.js';
import type { PgExecutor } from './database.js';

const COLUMNS = 'stream_id, room_id, receipt_type, user_id, thread_id, event_id, ts';

export class PgReceiptStore implements ReceiptStore {
  constructor(
    private readonly db: PgExecutor,
    private readonly stream: StreamPositions,
  ) {}

  async put(receipt: NewReceipt): Promise<number | undefined> {
    return this.stream.run(1, async ([position]) => {
      // The spec: a receipt for an event before the one already receipted
      // changes nothing. The condition is checked on the locked row, so it holds
      // for racing puts too; an ignored put leaves its position a gap.
      const stored = await this.db.row<{ stream_id: number }>(
        `INSERT INTO receipts (stream_id, room_id, receipt_type, user_id, thread_id,
                               event_id, event_position, ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE
           SET stream_id = EXCLUDED.stream_id, event_id = EXCLUDED.event_id,
               event_position = EXCLUDED.event_position, ts = EXCLUDED.ts
           WHERE receipts.event_position < EXCLUDED.event_position
         RETURNING stream_id`,
        [
          position,
          receipt.roomId,
          receipt.receiptType,
          receipt.userId,
          receipt.threadId ?? UNTHREADED,
          receipt.eventId,
          receipt.eventPosition,
          receipt.ts,
        ],
      );
      return stored?.stream_id;
    });
  }

  async changes(after: number, upTo: number): Promise<ReceiptRecord[]> {
    const rows = await this.db.rows<ReceiptRow>(
      `SELECT ${COLUMNS} FROM receipts WHERE stream_id > $1 AND stream_id <= $2 ORDER BY stream_id`,
      [after, upTo],
    );
    return rows.map(toReceiptRecord);
  }

  async ofRooms(roomIds: readonly string[]): Promise<ReceiptRecord[]> {
    if (roomIds.length === 0) return [];
    const rows = await this.db.rows<ReceiptRow>(
      `SELECT ${COLUMNS} FROM receipts WHERE room_id = ANY($1::text[]) ORDER BY stream_id`,
      [[...roomIds]],
    );
    return inKeyOrder(roomIds, rows, (row) => row.room_id).map(toReceiptRecord);
  }

  async maxStreamId(): Promise<number> {
    return this.stream.persistedUpTo();
  }
}
