/**
 * To-device messages on PostgreSQL: queued per device, delivered by /sync,
 * deleted once acknowledged; the same behaviour as ../sqlite/to-device-store.ts.
 * Positions come from the toDevice stream before the transaction; the queues
 * known to be empty (../common/to-device-queues.ts) are told of each message
 * as soon as its position is taken, and each read or deletion passes the
 * position the stream had settled before its statement, so a message still
 * being written proves nothing either way.
 */
import type { ToDeviceMessage, ToDeviceRecipient, ToDeviceStore } from '../storage.js';
import type { StreamPositions } from '../common/stream-positions.js';
import { ToDeviceQueues } from '../common/to-device-queues.js';
import type { PgDatabase, PgExecutor } from './database.js';

type SenderTransaction = { userId: string; deviceId: string; endpoint: string; txnId: string };
type OutgoingMessage = { recipient: ToDeviceRecipient; messageJson: string };

interface MessageRow {
  stream_id: number;
  message_json: string;
}

export class PgToDeviceStore implements ToDeviceStore {
  private readonly queues: ToDeviceQueues;

  constructor(
    private readonly db: PgDatabase,
    private readonly stream: StreamPositions,
  ) {
    // Opened before any write of this process: every position given out so far is settled.
    this.queues = new ToDeviceQueues(stream.persistedUpTo());
  }

  async maxPosition(): Promise<number> {
    return this.stream.persistedUpTo();
  }

  async enqueue(
    transaction: SenderTransaction,
    messages: OutgoingMessage[],
  ): Promise<{ lastPosition: number } | undefined> {
    // A stream run takes at least one position: a transaction without messages takes none.
    if (messages.length === 0) {
      const fresh = await this.db.transaction((tx) => claimTransaction(tx, transaction));
      return fresh ? { lastPosition: 0 } : undefined;
    }
    return this.stream.run(messages.length, (positions) => {
      // Before the rows can be visible (a retried transaction only costs a needless read later).
      messages.forEach(({ recipient }, i) => this.queues.stored(recipient, positions[i]!));
      return this.db.transaction(async (tx) => {
        if (!(await claimTransaction(tx, transaction))) return undefined;
        await insertMessages(tx, messages, positions);
        return { lastPosition: positions[positions.length - 1]! };
      });
    });
  }

  async acknowledge(recipient: ToDeviceRecipient, upTo: number): Promise<void> {
    if (this.queues.isEmpty(recipient)) return;
    const settled = this.stream.persistedUpTo();
    await this.db.run(
      'DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3',
      [recipient.userId, recipient.deviceId, upTo],
    );
    this.queues.acknowledged(recipient, upTo, settled);
  }

  async pending(
    recipient: ToDeviceRecipient,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<ToDeviceMessage[]> {
    if (this.queues.isEmpty(recipient)) return [];
    const settled = this.stream.persistedUpTo();
    const rows = await this.db.rows<MessageRow>(
      `SELECT stream_id, message_json FROM to_device_messages
       WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4
       ORDER BY stream_id LIMIT $5`,
      // A negative limit is none, as SQLite's LIMIT -1 (PostgreSQL's LIMIT NULL).
      [recipient.userId, recipient.deviceId, after, upTo, limit < 0 ? null : limit],
    );
    // (A zero limit finds nothing whatever is stored: no proof.)
    if (rows.length === 0 && limit > 0) this.queues.nonePending(recipient, after, upTo, settled);
    return rows.map((row) => ({ position: row.stream_id, messageJson: row.message_json }));
  }
}

/**
 * Records the sender's transaction; false when it was done before. A concurrent
 * duplicate waits on the primary key until the first commits, then finds it.
 */
async function claimTransaction(tx: PgExecutor, t: SenderTransaction): Promise<boolean> {
  const inserted = await tx.run(
    `INSERT INTO to_device_transactions (user_id, device_id, endpoint, txn_id)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [t.userId, t.deviceId, t.endpoint, t.txnId],
  );
  return inserted > 0;
}

async function insertMessages(
  tx: PgExecutor,
  messages: OutgoingMessage[],
  positions: number[],
): Promise<void> {
  await tx.run(
    `INSERT INTO to_device_messages (stream_id, user_id, device_id, message_json)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])`,
    [
      positions,
      messages.map((m) => m.recipient.userId),
      messages.map((m) => m.recipient.deviceId),
      messages.map((m) => m.messageJson),
    ],
  );
}
