/**
 * To-device messages: queued per device, delivered by /sync, deleted once acknowledged.
 *
 * Every /sync of a device acknowledges and reads its queue, which is nearly
 * always empty. So the store remembers, per device, that its queue is empty,
 * and while it is, acknowledge and pending answer without SQL. The proof, at a
 * pending(after, upTo) that found nothing, covers every position:
 *   - at or below `after`: an acknowledge at or past `after` deleted them, and
 *     nothing was stored for the device since (a store forgets that proof);
 *     or `after` is 0 (positions start at 1);
 *   - in (after, upTo]: the query just found none;
 *   - above `upTo`: nothing this process stored for the device is above it,
 *     and what was stored before it started is at or below the position then
 *     (AUTOINCREMENT: positions only grow), which `lastStored` never goes below.
 * Storing a message for the device (enqueue) ends the proof and
 * the emptiness; the only other writer, device deletion (DeviceKeyCleanup),
 * only deletes, which leaves an empty queue empty. Everything on the connection
 * is synchronous, so each of these steps sees a consistent state, whatever
 * runs between a sync's awaits. An insert rolled back with its transaction
 * still counts as stored: a needless SQL read later, never a wrong answer.
 */
import { LruCache } from '../../util/lru-cache.js';
import { pairKey } from '../../util/pair-key.js';
import type { ToDeviceMessage, ToDeviceRecipient, ToDeviceStore } from '../storage.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

/** Devices whose queue state is remembered; the least recently synced are forgotten. */
const MAX_TRACKED_DEVICES = 50_000;

/** What this process knows of one device's queue. */
interface QueueState {
  /** At least the highest position stored for the device (before or since start-up). */
  lastStored: number;
  /** An acknowledge deleted everything up to here, and nothing was stored for the device since. */
  acknowledged: number | undefined;
  /** The device has no stored messages. */
  empty: boolean;
}

/** The queue states of one database, shared by every store on it. */
class QueueStates {
  private readonly states = new LruCache<string, QueueState>(MAX_TRACKED_DEVICES);
  /**
   * At least the highest position stored before start-up or by this process:
   * the `lastStored` of a device without an entry (never seen, or evicted).
   */
  private storedFloor: number;

  constructor(maxAtStart: number) {
    this.storedFloor = maxAtStart;
  }

  get(recipient: ToDeviceRecipient): QueueState | undefined {
    return this.states.get(keyOf(recipient));
  }

  getOrCreate(recipient: ToDeviceRecipient): QueueState {
    return this.states.getOrSet(keyOf(recipient), () => ({
      lastStored: this.storedFloor,
      acknowledged: undefined,
      empty: false,
    }));
  }

  /** A message was stored for the device at this position (perhaps in a transaction yet to commit). */
  stored(recipient: ToDeviceRecipient, position: number): void {
    this.storedFloor = Math.max(this.storedFloor, position);
    const state = this.states.get(keyOf(recipient));
    if (!state) return;
    state.lastStored = Math.max(state.lastStored, position);
    state.acknowledged = undefined;
    state.empty = false;
  }
}

/** Unambiguous for any strings (a separator could occur in either). */
const keyOf = (r: ToDeviceRecipient): string => pairKey(r.userId, r.deviceId);

const statesByDatabase = new WeakMap<SqliteDatabase, QueueStates>();

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
  private readonly states: QueueStates;

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
    let states = statesByDatabase.get(db);
    if (!states) {
      states = new QueueStates((this.selectMax.get() as number | undefined) ?? 0);
      statesByDatabase.set(db, states);
    }
    this.states = states;
  }

  async maxPosition(): Promise<number> {
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
        this.states.stored(recipient, lastPosition);
      }
      return { lastPosition };
    })();
  }

  async acknowledge(recipient: ToDeviceRecipient, upTo: number): Promise<void> {
    if (this.states.get(recipient)?.empty) return;
    this.deleteUpTo.run(recipient.userId, recipient.deviceId, upTo);
    const state = this.states.getOrCreate(recipient);
    // An earlier acknowledge with nothing stored since still holds: its deletion covers more.
    state.acknowledged = Math.max(state.acknowledged ?? upTo, upTo);
  }

  async pending(
    recipient: ToDeviceRecipient,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<ToDeviceMessage[]> {
    if (this.states.get(recipient)?.empty) return [];
    const rows = this.selectPending.all(
      recipient.userId,
      recipient.deviceId,
      after,
      upTo,
      limit,
    ) as MessageRow[];
    // (A zero limit finds nothing whatever is stored: no proof.)
    if (rows.length === 0 && limit > 0) this.noteNonePending(recipient, after, upTo);
    return rows.map((row) => ({ position: row.stream_id, messageJson: row.message_json }));
  }

  /** Nothing in (after, upTo]: the queue is empty if nothing is at or below `after` or above `upTo` either. */
  private noteNonePending(recipient: ToDeviceRecipient, after: number, upTo: number): void {
    const state = this.states.getOrCreate(recipient);
    const noneUpToAfter =
      after <= 0 || (state.acknowledged !== undefined && state.acknowledged >= after);
    if (noneUpToAfter && state.lastStored <= upTo) state.empty = true;
  }
}
