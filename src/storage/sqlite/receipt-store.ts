/**
 * Receipts in SQLite: the latest per (room, type, user, thread), replaced on
 * change so that the AUTOINCREMENT `stream_id` is the receipts stream position.
 */
import type { NewReceipt, ReceiptRecord, ReceiptStore } from '../storage.js';
import {
  type ReceiptRow,
  UNTHREADED,
  toReceiptRecord as toRecord,
} from '../common/user-data-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqliteReceiptStore implements ReceiptStore {
  private readonly storedPosition;
  private readonly remove;
  private readonly insert;
  private readonly selectChanges;
  private readonly selectRoom;
  private readonly selectMax;
  private readonly replace;

  constructor(db: SqliteDatabase) {
    const key = 'room_id = ? AND receipt_type = ? AND user_id = ? AND thread_id = ?';
    this.storedPosition = db.prepare(`SELECT event_position FROM receipts WHERE ${key}`).pluck();
    this.remove = db.prepare(`DELETE FROM receipts WHERE ${key}`);
    this.insert = db
      .prepare(
        `INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, event_position, ts)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING stream_id`,
      )
      .pluck();
    this.selectChanges = db.prepare(
      'SELECT * FROM receipts WHERE stream_id > ? AND stream_id <= ? ORDER BY stream_id',
    );
    this.selectRoom = db.prepare('SELECT * FROM receipts WHERE room_id = ? ORDER BY stream_id');
    this.selectMax = db.prepare('SELECT COALESCE(MAX(stream_id), 0) FROM receipts').pluck();
    this.replace = writeTransaction(db, (r: NewReceipt): number | undefined => {
      const keyValues = [r.roomId, r.receiptType, r.userId, r.threadId ?? UNTHREADED];
      const stored = this.storedPosition.get(...keyValues) as number | undefined;
      // The spec: a receipt for an event before the one already receipted changes nothing.
      if (stored !== undefined && stored >= r.eventPosition) return undefined;
      this.remove.run(...keyValues);
      return this.insert.get(...keyValues, r.eventId, r.eventPosition, r.ts) as number;
    });
  }

  async put(receipt: NewReceipt): Promise<number | undefined> {
    return this.replace(receipt);
  }

  async changes(after: number, upTo: number): Promise<ReceiptRecord[]> {
    return (this.selectChanges.all(after, upTo) as ReceiptRow[]).map(toRecord);
  }

  async ofRooms(roomIds: readonly string[]): Promise<ReceiptRecord[]> {
    return roomIds.flatMap((roomId) => (this.selectRoom.all(roomId) as ReceiptRow[]).map(toRecord));
  }

  async maxStreamId(): Promise<number> {
    return this.selectMax.get() as number;
  }
}
