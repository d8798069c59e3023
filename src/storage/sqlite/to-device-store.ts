/** To-device messages: queued per device, delivered by /sync, deleted once acknowledged. */
import type { ToDeviceMessage, ToDeviceRecipient, ToDeviceStore } from '../storage.js';
import type { SqliteDatabase } from './database.js';

interface MessageRow {
  stream_id: number;
  message_json: string;
}

export class SqliteToDeviceStore implements ToDeviceStore {
  private readonly selectMax;
  private readonly insertTransaction;
  private readonly insertMessage;
  private readonly deleteUpTo;
  private readonly selectPending;
  private readonly takeAfter;

  constructor(private readonly db: SqliteDatabase) {
    // AUTOINCREMENT's high-water mark: messages are deleted, positions never go back.
    this.selectMax = db
      .prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'to_device_messages'`)
      .pluck();
    this.insertTransaction = db.prepare(
      `INSERT INTO to_device_transactions (user_id, device_id, endpoint, txn_id)
       VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    this.insertMessage = db
      .prepare(
        `INSERT INTO to_device_messages (user_id, device_id, message_json) VALUES (?, ?, ?)
         RETURNING stream_id`,
      )
      .pluck();
    this.deleteUpTo = db.prepare(
      'DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_id <= ?',
    );
    this.selectPending = db.prepare(
      `SELECT stream_id, message_json FROM to_device_messages
       WHERE user_id = ? AND device_id = ? AND stream_id > ? AND stream_id <= ?
       ORDER BY stream_id LIMIT ?`,
    );
    this.takeAfter = db.prepare(
      `DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_id > ?
       RETURNING stream_id, message_json`,
    );
  }

  async maxPosition(): Promise<number> {
    return (this.selectMax.get() as number | undefined) ?? 0;
  }

  async enqueue(
    transaction: { userId: string; deviceId: string; endpoint: string; txnId: string },
    messages: { recipient: ToDeviceRecipient; messageJson: string }[],
  ): Promise<{ lastPosition: number } | undefined> {
    return this.db.transaction(() => {
      const { userId, deviceId, endpoint, txnId } = transaction;
      if (this.insertTransaction.run(userId, deviceId, endpoint, txnId).changes === 0) {
        return undefined;
      }
      let lastPosition = 0;
      for (const { recipient, messageJson } of messages) {
        lastPosition = this.insertMessage.get(
          recipient.userId,
          recipient.deviceId,
          messageJson,
        ) as number;
      }
      return { lastPosition };
    })();
  }

  async acknowledge(recipient: ToDeviceRecipient, upTo: number): Promise<void> {
    this.deleteUpTo.run(recipient.userId, recipient.deviceId, upTo);
  }

  async pending(
    recipient: ToDeviceRecipient,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<ToDeviceMessage[]> {
    const rows = this.selectPending.all(
      recipient.userId,
      recipient.deviceId,
      after,
      upTo,
      limit,
    ) as MessageRow[];
    return rows.map((row) => ({ position: row.stream_id, messageJson: row.message_json }));
  }

  async requeueAfter(recipient: ToDeviceRecipient, position: number): Promise<number | undefined> {
    return this.db.transaction(() => {
      const rows = (
        this.takeAfter.all(recipient.userId, recipient.deviceId, position) as MessageRow[]
      ).sort((a, b) => a.stream_id - b.stream_id);
      let last: number | undefined;
      for (const row of rows) {
        last = this.insertMessage.get(
          recipient.userId,
          recipient.deviceId,
          row.message_json,
        ) as number;
      }
      return last;
    })();
  }
}
