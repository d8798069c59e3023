/**
 * What a process knows of each device's to-device queue, so the acknowledge
 * and read of every /sync (nearly always of an empty queue) need no SQL while
 * the queue is known to be empty. Both backends keep one per database.
 *
 * The proof, at a pending(after, upTo) that found nothing, covers every position:
 *   - at or below `after`: an acknowledge at or past `after` deleted them, and
 *     nothing was stored for the device since (a store ends that proof);
 *     or `after` is 0 (positions start at 1);
 *   - in (after, upTo]: the query just found none, and it saw every message
 *     there: `upTo` is at or below what the stream had settled (committed or
 *     failed) before the query began;
 *   - above `upTo`: nothing this process stored for the device is above it,
 *     and what was stored before it started is at or below the position then
 *     (positions only grow), which `lastStored` never goes below.
 * Storing a message for the device ends the proof and the emptiness; a store
 * calls `stored` before its message can become visible (inside its SQLite
 * transaction; on PostgreSQL once its positions are taken, before the
 * transaction), so no reader can find it unannounced. The only other writer,
 * device deletion, only deletes, which leaves an empty queue empty and breaks
 * no proof under way. A store that rolls back still counts as stored: a
 * needless SQL read later, never a wrong answer.
 *
 * `settled` is the stream position every write at or below which had
 * committed or failed when the SQL began: on SQLite, whose statements see
 * every write of the connection at once, any bound (Infinity); on PostgreSQL
 * the stream's persisted-up-to position, read just before the statement.
 */
import { LruCache } from '../../util/lru-cache.js';
import { pairKey } from '../../util/pair-key.js';
import type { ToDeviceRecipient } from '../storage.js';

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

/** Unambiguous for any strings (a separator could occur in either). */
const keyOf = (r: ToDeviceRecipient): string => pairKey(r.userId, r.deviceId);

export class ToDeviceQueues {
  private readonly states = new LruCache<string, QueueState>(MAX_TRACKED_DEVICES);
  /**
   * At least the highest position stored before start-up or by this process:
   * the `lastStored` of a device without an entry (never seen, or evicted).
   */
  private storedFloor: number;

  /** `maxAtStart`: the highest position ever given out when the process started. */
  constructor(maxAtStart: number) {
    this.storedFloor = maxAtStart;
  }

  /** The device certainly has no message queued: acknowledge and pending need no SQL. */
  isEmpty(recipient: ToDeviceRecipient): boolean {
    return this.states.get(keyOf(recipient))?.empty ?? false;
  }

  /** A message is being stored for the device at this position; before it can be visible. */
  stored(recipient: ToDeviceRecipient, position: number): void {
    this.storedFloor = Math.max(this.storedFloor, position);
    const state = this.states.get(keyOf(recipient));
    if (!state) return;
    state.lastStored = Math.max(state.lastStored, position);
    state.acknowledged = undefined;
    state.empty = false;
  }

  /** An acknowledge deleted the device's messages at or below `upTo` visible once `settled`. */
  acknowledged(recipient: ToDeviceRecipient, upTo: number, settled: number): void {
    const state = this.stateOf(recipient);
    // A message above `settled` may have been in flight, not deleted.
    const deletedUpTo = Math.min(upTo, settled);
    // An earlier acknowledge with nothing stored since still holds: its deletion covers more.
    state.acknowledged = Math.max(state.acknowledged ?? deletedUpTo, deletedUpTo);
  }

  /** pending(after, upTo) found nothing, reading once `settled`: perhaps the queue is empty. */
  nonePending(recipient: ToDeviceRecipient, after: number, upTo: number, settled: number): void {
    if (upTo > settled) return;
    const state = this.stateOf(recipient);
    const noneUpToAfter =
      after <= 0 || (state.acknowledged !== undefined && state.acknowledged >= after);
    if (noneUpToAfter && state.lastStored <= upTo) state.empty = true;
  }

  private stateOf(recipient: ToDeviceRecipient): QueueState {
    return this.states.getOrSet(keyOf(recipient), () => ({
      lastStored: this.storedFloor,
      acknowledged: undefined,
      empty: false,
    }));
  }
}
