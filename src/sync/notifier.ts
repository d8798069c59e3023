/**
 * Wakes the long-polling /sync requests a change concerns, by user and by room.
 *
 * How a sync request uses it, so that no wake-up is ever lost:
 *   1. `upTo = notifier.currentPositions()`: taken BEFORE reading storage.
 *   2. read storage for changes in (since, upTo]; if there are some, answer.
 *   3. otherwise `await notifier.wait({ since: upTo, ... })` and read again.
 * A change committed after step 1 is notified with a position beyond `upTo`.
 * If that notification arrives before step 3, `wait` sees it in the latest
 * positions it keeps per user and per room and returns at once; if it arrives
 * after, it wakes the registered waiter. Either way the request learns of it.
 *
 * The write path calls `notify` after its transaction committed, with the
 * position storage gave the change and whom it concerns: the room (everyone
 * joined to it is waiting on it) and/or users (to-device messages, account
 * data, invites, and the member of a membership change, which is how a user
 * who joins a room while waiting is woken although the room is not yet among
 * those their request waits on). Positions of a stream must be notified in
 * increasing order, which a single SQLite writer gives for free.
 *
 * Memory is bounded: the latest positions are kept for at most
 * `maxTrackedKeys` users and as many rooms (least recently touched evicted
 * first). An evicted entry's positions raise a floor that every untracked user
 * or room is assumed to have reached: a waiter may then wake without reason
 * (it reads storage, finds nothing, waits again) but never misses a change.
 *
 * Several processes: each process keeps its own Notifier for its own waiting
 * requests. The process that commits a change publishes `{stream, position,
 * userIds, roomIds}` on a shared bus (PostgreSQL LISTEN/NOTIFY, NATS, Redis
 * pub/sub) instead of calling `notify` directly, and every process, itself
 * included, calls `notify` with what it receives. Two conditions: positions
 * must come from one shared sequence per stream, and with several writers a
 * position is only published once every lower position of that stream has
 * committed (a "persisted up to" watermark, as Synapse's multi-writer stream
 * IDs do), so a reader never skips a change still in flight. When the bus
 * connection drops, messages may have been missed: call `wakeAll()` on
 * reconnection so every request re-reads storage.
 */
import {
  isAfter,
  isValidPosition,
  maxPositions,
  zeroPositions,
  type StreamName,
  type StreamPositions,
} from './stream-token.js';

export interface WaitOptions {
  userId: string;
  /** The rooms whose changes concern this request (the user's joined rooms). */
  roomIds: Iterable<string>;
  /** What the caller has already read; anything beyond it wakes the request. */
  since: StreamPositions;
  timeoutMs: number;
  signal?: AbortSignal;
}

export type WakeReason = 'changed' | 'timeout' | 'aborted';

export interface WaitResult {
  /** The notifier's positions when the wait ended: the upper bound of the next read. */
  positions: StreamPositions;
  reason: WakeReason;
}

export interface Change {
  stream: StreamName;
  position: number;
  userIds?: Iterable<string>;
  roomIds?: Iterable<string>;
}

/** A change as observers see it: its users and rooms as arrays. */
export interface ObservedChange {
  stream: StreamName;
  position: number;
  userIds: string[];
  roomIds: string[];
}

export interface NotifierOptions {
  /** The streams' positions in storage at start-up (what `currentPositions` starts from). */
  initialPositions?: StreamPositions;
  /** How many users, and how many rooms, keep their own latest positions. */
  maxTrackedKeys?: number;
}

interface Waiter {
  userId: string;
  roomIds: string[];
  since: StreamPositions;
  finish(reason: WakeReason): void;
}

/** setTimeout fires at once beyond this (it is a 32-bit signed millisecond count). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_MAX_TRACKED_KEYS = 100_000;

/** Latest positions per key (user or room), least recently touched first, with a floor for evicted keys. */
class LatestPositions {
  private readonly entries = new Map<string, StreamPositions>();
  private floor = zeroPositions();

  constructor(private readonly maxEntries: number) {}

  get(key: string): StreamPositions {
    return this.entries.get(key) ?? this.floor;
  }

  advance(key: string, stream: StreamName, position: number): void {
    const previous = this.get(key);
    // Re-inserting moves the key to the most recently touched end of the Map.
    this.entries.delete(key);
    this.entries.set(key, { ...previous, [stream]: Math.max(previous[stream], position) });
    this.evictBeyondCapacity();
  }

  get size(): number {
    return this.entries.size;
  }

  private evictBeyondCapacity(): void {
    while (this.entries.size > this.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, StreamPositions];
      this.entries.delete(oldestKey);
      this.floor = maxPositions(this.floor, oldest);
    }
  }
}

/** Waiters registered under keys (user IDs or room IDs). */
class WaiterIndex {
  private readonly byKey = new Map<string, Set<Waiter>>();

  add(key: string, waiter: Waiter): void {
    let set = this.byKey.get(key);
    if (set === undefined) this.byKey.set(key, (set = new Set()));
    set.add(waiter);
  }

  remove(key: string, waiter: Waiter): void {
    const set = this.byKey.get(key);
    if (set === undefined) return;
    set.delete(waiter);
    if (set.size === 0) this.byKey.delete(key);
  }

  collect(keys: Iterable<string>, into: Set<Waiter>): void {
    for (const key of keys) this.byKey.get(key)?.forEach((waiter) => into.add(waiter));
  }

  get keyCount(): number {
    return this.byKey.size;
  }
}

export class Notifier {
  private current: StreamPositions;
  private readonly latestByUser: LatestPositions;
  private readonly latestByRoom: LatestPositions;
  private readonly waitersByUser = new WaiterIndex();
  private readonly waitersByRoom = new WaiterIndex();
  private readonly waiters = new Set<Waiter>();
  private closed = false;
  private wakeUps = 0;
  private readonly observers: ((change: ObservedChange) => void)[] = [];

  constructor(options: NotifierOptions = {}) {
    this.current = options.initialPositions ?? zeroPositions();
    const maxKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
    this.latestByUser = new LatestPositions(maxKeys);
    this.latestByRoom = new LatestPositions(maxKeys);
  }

  /** The latest notified position of every stream. Take it before reading storage. */
  currentPositions(): StreamPositions {
    return this.current;
  }

  /** How many requests are waiting (for metrics and tests). */
  get waitingCount(): number {
    return this.waiters.size;
  }

  /** Users and rooms with their own latest positions (bounded by maxTrackedKeys each). */
  get trackedKeyCount(): { users: number; rooms: number } {
    return { users: this.latestByUser.size, rooms: this.latestByRoom.size };
  }

  /** Record a committed change and wake the requests it concerns. */
  notify(change: Change): void {
    const { stream, position } = change;
    if (!isValidPosition(position)) throw new Error(`Invalid ${stream} position: ${position}`);
    this.current = { ...this.current, [stream]: Math.max(this.current[stream], position) };
    const userIds = [...(change.userIds ?? [])];
    const roomIds = [...(change.roomIds ?? [])];
    for (const userId of userIds) this.latestByUser.advance(userId, stream, position);
    for (const roomId of roomIds) this.latestByRoom.advance(roomId, stream, position);
    this.wakeConcerned(userIds, roomIds, stream, position);
    for (const observer of this.observers) observer({ stream, position, userIds, roomIds });
  }

  /**
   * Hears of every change after the waiters are woken (application services'
   * ephemeral events). Observers must not throw nor block: they queue work.
   */
  observe(observer: (change: ObservedChange) => void): void {
    this.observers.push(observer);
  }

  private wakeConcerned(
    userIds: string[],
    roomIds: string[],
    stream: StreamName,
    position: number,
  ): void {
    const concerned = new Set<Waiter>();
    this.waitersByUser.collect(userIds, concerned);
    this.waitersByRoom.collect(roomIds, concerned);
    for (const waiter of concerned) {
      if (position > waiter.since[stream]) this.wake(waiter);
    }
  }

  /** Long-polls woken by a change so far (the metrics' wake-up counter). */
  get wakeUpCount(): number {
    return this.wakeUps;
  }

  private wake(waiter: Waiter): void {
    this.wakeUps++;
    waiter.finish('changed');
  }

  /** Wake every waiting request (bus reconnection): each re-reads storage. */
  wakeAll(): void {
    for (const waiter of [...this.waiters]) this.wake(waiter);
  }

  /**
   * Shutdown: every waiting request, and any that waits from now on, is answered
   * 'aborted' at once, so the server's close does not wait out long-polls.
   */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.finish('aborted');
  }

  /**
   * Resolve as soon as a change for this user or one of these rooms is beyond
   * `since`, at once if one was already notified, else on timeout or abort.
   * Never rejects.
   */
  wait(options: WaitOptions): Promise<WaitResult> {
    const roomIds = [...options.roomIds];
    if (this.hasChangeBeyond(options.userId, roomIds, options.since)) {
      return Promise.resolve(this.result('changed'));
    }
    if (options.signal?.aborted || this.closed) return Promise.resolve(this.result('aborted'));
    const timeoutMs = clampTimeout(options.timeoutMs);
    if (timeoutMs === 0) return Promise.resolve(this.result('timeout'));
    return new Promise((resolve) => {
      this.register(options, roomIds, timeoutMs, (reason) => resolve(this.result(reason)));
    });
  }

  private register(
    options: WaitOptions,
    roomIds: string[],
    timeoutMs: number,
    onFinish: (reason: WakeReason) => void,
  ): void {
    const { userId, since, signal } = options;
    const onAbort = () => waiter.finish('aborted');
    const timer = setTimeout(() => waiter.finish('timeout'), timeoutMs);
    // A long-poll must not keep the process alive on shutdown.
    timer.unref();
    const waiter: Waiter = {
      userId,
      roomIds,
      since,
      finish: (reason) => {
        // Finishing twice (say, a notify and the timer in the same tick) must be harmless.
        if (!this.waiters.delete(waiter)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.unindex(waiter);
        onFinish(reason);
      },
    };
    this.waiters.add(waiter);
    this.waitersByUser.add(userId, waiter);
    for (const roomId of roomIds) this.waitersByRoom.add(roomId, waiter);
    signal?.addEventListener('abort', onAbort, { once: true });
  }

  private unindex(waiter: Waiter): void {
    this.waitersByUser.remove(waiter.userId, waiter);
    for (const roomId of waiter.roomIds) this.waitersByRoom.remove(roomId, waiter);
  }

  /** Whether a change notified for this user or one of these rooms is beyond `since`. */
  private hasChangeBeyond(userId: string, roomIds: string[], since: StreamPositions): boolean {
    if (isAfter(this.latestByUser.get(userId), since)) return true;
    return roomIds.some((roomId) => isAfter(this.latestByRoom.get(roomId), since));
  }

  private result(reason: WakeReason): WaitResult {
    return { positions: this.current, reason };
  }

  /** Internal index sizes, so tests can check that nothing is left behind. */
  get indexedKeyCount(): number {
    return this.waitersByUser.keyCount + this.waitersByRoom.keyCount;
  }
}

function clampTimeout(timeoutMs: number): number {
  if (Number.isNaN(timeoutMs) || timeoutMs <= 0) return 0;
  return Math.min(Math.floor(timeoutMs), MAX_TIMER_MS);
}
