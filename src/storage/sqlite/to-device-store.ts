/**
 * To-device messages: queued per device, delivered by /sync, deleted once acknowledged.
 *
 * Every /sync of a device acknowledges and reads its queue, which is nearly
 * always empty: the store remembers which queues are empty (see
 * ../common/to-device-queues.ts for the proof). Everything on the connection
 * is synchronous, so each statement sees every write before it: the queues
 * are told so with an unbounded `settled` position.
 */
import type { ToDeviceMessage, ToDeviceRecipient, ToDeviceStore } from '../storage.js';
import { ToDeviceQueues } from '../common/to-device-queues.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

/** Every write of the connection is visible to its next statement. */
const ALL_SETTLED = Number.POSITIVE_INFINITY;

const queuesByDatabase = new WeakMap<SqliteDatabase, ToDeviceQueues>();

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
  private readonly queues: ToDeviceQueues;

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
    let queues = queuesByDatabase.get(db);
    if (!queues) {
      queues = new ToDeviceQueues(this.highWaterMark());
      queuesByDatabase.set(db, queues);
    }
    this.queues = queues;
  }

  async maxPosition(): Promise<number> {
    return this.highWaterMark();
  }

  private highWaterMark(): number {
    return (this.selectMax.get() as number | undefined) ?? 0;
  }

  async enqueue(
    transaction: { userId: string; deviceId: string; endpoint: string; txnId: string },
    messages: { recipient: ToDeviceRecipient; messageJson: string }[],
  ): Promise<{ lastPosition: number } | undefined> {
    return writeTransaction(this.db, () => {
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
        this.queues.stored(recipient, lastPosition);
      }
      return { lastPosition };
    })();
  }

  async acknowledge(recipient: ToDeviceRecipient, upTo: number): Promise<void> {
    if (this.queues.isEmpty(recipient)) return;
    this.deleteUpTo.run(recipient.userId, recipient.deviceId, upTo);
    this.queues.acknowledged(recipient, upTo, ALL_SETTLED);
  }

  async pending(
    recipient: ToDeviceRecipient,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<ToDeviceMessage[]> {
    if (this.queues.isEmpty(recipient)) return [];
    const rows = this.selectPending.all(
      recipient.userId,
      recipient.deviceId,
      after,
      upTo,
      limit,
    ) as MessageRow[];
    // (A zero limit finds nothing whatever is stored: no proof.)
    if (rows.length === 0 && limit > 0) {
      this.queues.nonePending(recipient, after, upTo, ALL_SETTLED);
    }
    return rows.map((row) => ({ position: row.stream_id, messageJson: row.message_json }));
  }
}
