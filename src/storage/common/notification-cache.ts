/**
 * The notification store's memory, the same for every backend: the backend
 * gives the rows (`NotificationRows`: its SQL), and `CachedNotificationStore`
 * answers the Storage interface with the caches in front of them.
 *
 * Every /sync reads the unread counts of the rooms it shows, and a count is a
 * scan of the unread rows, so counts are cached per (user, room): a cached
 * entry always covers every notification up to the evaluation progress, as
 * `recordEvaluated` adds its new rows to the cached entries and any read move
 * drops the room's entry. Likewise the newest position of each user's rows
 * in each room is kept, so that /sync asks no query for the rooms whose
 * counts changed.
 *
 * Evaluations can be written behind (`EvaluationWrites`): applied here at
 * once, their rows written later, several evaluations in one transaction.
 * Nobody waits for these rows (the counts are applied at once), the rows and
 * the progress mark are written together, and a crash before they are
 * written only means evaluating those events again.
 */
import type {
  EvaluatedEvents,
  NotificationCutoffs,
  NotificationPageQuery,
  NotificationRecord,
  NotificationStore,
  PruneStep,
  ReadMove,
  UnreadCounts,
} from '../storage.js';
import { LruCache } from '../../util/lru-cache.js';

/** A notification as its row stores it (the event ID is the event's, found by position). */
export type StoredNotification = Omit<NotificationRecord, 'eventId' | 'notify'>;

/** An evaluation as the notification rows store it (an `EvaluatedEvents` is one). */
export interface EvaluationRows {
  notifications: StoredNotification[];
  readMoves: ReadMove[];
  evaluatedUpTo: number;
}

export type UnreadByThread = Map<string, UnreadCounts>;

/** The read position row of an unthreaded receipt: it covers every thread. */
export const EVERY_THREAD = '';

/** What a backend stores and reads; each method is one transaction or query. */
export interface NotificationRows {
  /** Stores an evaluation and its progress mark atomically; whether each notification was new. */
  writeEvaluated(result: EvaluationRows): Promise<boolean[]>;
  /** Moves the read position forward (never back). */
  moveRead(move: ReadMove): Promise<void>;
  eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]>;
  /** Unread notifying events per thread of the room, at positions up to `upTo`. */
  countUnread(userId: string, roomId: string, upTo: number): Promise<UnreadByThread>;
  totalUnread(userId: string): Promise<number>;
  roomsChanged(userId: string, after: number, upTo: number): Promise<string[]>;
  page(query: NotificationPageQuery): Promise<(NotificationRecord & { read: boolean })[]>;
  unreadAfter(userId: string, after: number, limit: number): Promise<NotificationRecord[]>;
  /** One transaction of pruning: the users after `afterUser` (an opaque cursor), a few at a time. */
  pruneStep(cutoffs: NotificationCutoffs, afterUser: number): Promise<PruneStep>;
}

/** How evaluations are written. */
export type EvaluationWriteMode =
  /** Each before `recordEvaluated` resolves. */
  | { behind: false }
  /**
   * Behind: they gather while a write is in flight and, with `gather`, until
   * that many notification rows or milliseconds have gathered.
   */
  | { behind: true; gather?: { rows: number; ms: number } };

export interface NotificationCacheOptions {
  /** The stored evaluation progress. */
  evaluated: number;
  /** The newest event position at start: rows from before are at or below it. */
  changeFloor: number;
  writes: EvaluationWriteMode;
}

const UNREAD_CACHE_SIZE = 50_000;
const CHANGE_MARKS_SIZE = 100_000;

function unreadKey(userId: string, roomId: string): string {
  return `${userId} ${roomId}`;
}

/** Counts are replaced, never changed in place: callers keep what they were given. */
function addOne(counts: UnreadCounts | undefined, highlight: boolean): UnreadCounts {
  return {
    notificationCount: (counts?.notificationCount ?? 0) + 1,
    highlightCount: (counts?.highlightCount ?? 0) + (highlight ? 1 : 0),
  };
}

/**
 * Unread counts by thread per (user, room), each covering every notification
 * up to the evaluation progress. A count read from the rows is cached only if
 * nothing changed that room's counts while it was read (a read is a query:
 * an evaluation or read move applied meanwhile would be missing from it).
 */
class UnreadCountsCache {
  private readonly entries = new LruCache<string, UnreadByThread>(UNREAD_CACHE_SIZE);
  /** Rooms being counted from the rows; `stale` once their counts changed meanwhile. */
  private readonly counting = new Map<string, { readers: number; stale: boolean }>();

  get(userId: string, roomId: string): UnreadByThread | undefined {
    const hit = this.entries.get(unreadKey(userId, roomId));
    return hit && new Map(hit);
  }

  async load(
    userId: string,
    roomId: string,
    count: () => Promise<UnreadByThread>,
  ): Promise<UnreadByThread> {
    const key = unreadKey(userId, roomId);
    const reading = this.counting.get(key) ?? { readers: 0, stale: false };
    reading.readers++;
    this.counting.set(key, reading);
    try {
      const counted = await count();
      if (!reading.stale) this.entries.set(key, counted);
      return new Map(counted);
    } finally {
      if (--reading.readers === 0) this.counting.delete(key);
    }
  }

  added(notification: StoredNotification): void {
    const key = unreadKey(notification.userId, notification.roomId);
    this.markStale(key);
    const cached = this.entries.get(key);
    if (!cached) return;
    const { threadId, highlight } = notification;
    cached.set(threadId, addOne(cached.get(threadId), highlight));
  }

  /** A read position moved: the room's counts are read again. */
  dropped(userId: string, roomId: string): void {
    const key = unreadKey(userId, roomId);
    this.markStale(key);
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    for (const reading of this.counting.values()) reading.stale = true;
  }

  private markStale(key: string): void {
    const reading = this.counting.get(key);
    if (reading) reading.stale = true;
  }
}

/**
 * Per user, per room: the newest position of their notification and read
 * position rows written since `floor`. Rows from before (before start, or
 * before the marks were last forgotten) are at or below it.
 */
class ChangeMarks {
  private readonly changes = new Map<string, Map<string, number>>();
  private marks = 0;
  private newest: number;

  constructor(private floor: number) {
    this.newest = floor;
  }

  note(userId: string, roomId: string, position: number): void {
    if (this.marks >= CHANGE_MARKS_SIZE) this.forget();
    let rooms = this.changes.get(userId);
    if (!rooms) {
      rooms = new Map();
      this.changes.set(userId, rooms);
    }
    const previous = rooms.get(roomId);
    if (previous === undefined) this.marks++;
    rooms.set(roomId, Math.max(previous ?? 0, position));
    this.newest = Math.max(this.newest, position);
  }

  /** The rooms changed in (after, upTo], when the marks can tell; else undefined. */
  roomsChanged(userId: string, after: number, upTo: number): string[] | undefined {
    if (after < this.floor) return undefined;
    const marks = [...(this.changes.get(userId) ?? [])];
    // A room's mark is its newest change: one past `upTo` may hide one inside the range.
    if (!marks.every(([, position]) => position <= upTo)) return undefined;
    return marks.filter(([, position]) => position > after).map(([roomId]) => roomId);
  }

  /** Every mark forgotten at once keeps the floor exact for all users. */
  forget(): void {
    this.changes.clear();
    this.marks = 0;
    this.floor = this.newest;
  }
}

function emptyEvaluation(): EvaluationRows {
  return { notifications: [], readMoves: [], evaluatedUpTo: 0 };
}

/** Adds a later evaluation to `target` (which it owns), in place. */
function appendEvaluation(target: EvaluationRows, later: EvaluationRows): EvaluationRows {
  for (const notification of later.notifications) target.notifications.push(notification);
  for (const move of later.readMoves) target.readMoves.push(move);
  target.evaluatedUpTo = Math.max(target.evaluatedUpTo, later.evaluatedUpTo);
  return target;
}

/** The NotificationStore of every backend: its caches in front of the backend's rows. */
export class CachedNotificationStore implements NotificationStore {
  private readonly unread = new UnreadCountsCache();
  private readonly changes: ChangeMarks;
  /** The evaluation progress as applied here (stored, or being stored behind). */
  private evaluated: number;
  private writesInFlight = 0;
  private written: Promise<void> = Promise.resolve();
  /** Evaluations applied here and not yet handed to the rows (see `writeWhenGathered`). */
  private waiting: EvaluationRows | undefined;
  private gatherTimer: NodeJS.Timeout | undefined;
  private writeError: unknown;

  constructor(
    private readonly rows: NotificationRows,
    private readonly options: NotificationCacheOptions,
  ) {
    this.evaluated = options.evaluated;
    this.changes = new ChangeMarks(options.changeFloor);
  }

  async evaluatedUpTo(): Promise<number> {
    return this.evaluated;
  }

  async recordEvaluated(result: EvaluatedEvents): Promise<void> {
    if (this.writeError !== undefined) {
      const err = this.writeError;
      this.writeError = undefined;
      throw err;
    }
    if (!this.options.writes.behind) {
      this.applyEvaluated(result, await this.rows.writeEvaluated(result));
      return;
    }
    // Every row is new: rows and progress are stored together, so no event is evaluated twice.
    this.applyEvaluated(
      result,
      result.notifications.map(() => true),
    );
    this.waiting = appendEvaluation(this.waiting ?? emptyEvaluation(), result);
    this.writeWhenGathered();
  }

  /**
   * Evaluations wait to be written together: for the write in flight, then
   * until enough rows or time have gathered (see EvaluationWriteMode), or a
   * read of the rows needs them (`flush`). On SQLite, every page a commit
   * touches is written to the WAL: one commit per a few dozen messages writes
   * each member's page once for all of them.
   */
  private writeWhenGathered(): void {
    const mode = this.options.writes;
    if (!mode.behind || this.writesInFlight > 0 || !this.waiting) return;
    const gather = mode.gather;
    if (!gather || this.waiting.notifications.length >= gather.rows) {
      this.writeWaiting();
      return;
    }
    this.gatherTimer ??= setTimeout(() => this.writeWaiting(), gather.ms).unref();
  }

  private writeWaiting(): void {
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.writesInFlight > 0 || !this.waiting) return;
    const next = this.waiting;
    this.waiting = undefined;
    this.startWrite(next);
  }

  private startWrite(result: EvaluationRows): void {
    this.writesInFlight++;
    this.written = this.rows.writeEvaluated(result).then(
      (inserted) => {
        this.writesInFlight--;
        // Were one not new after all, the counts would be read again from the rows.
        if (inserted.includes(false)) this.unread.clear();
        this.writeWhenGathered();
      },
      (err: unknown) => {
        this.writesInFlight--;
        this.writeError = err;
        // What was applied here is not stored: read the rows from now on. The waiting
        // evaluations are dropped too, or their progress mark would skip the failed events.
        this.waiting = undefined;
        this.unread.clear();
        this.changes.forget();
      },
    );
  }

  /**
   * Writes the evaluations still gathering, and resolves once no evaluation
   * write is in flight: before reads of the rows, and before the storage closes.
   */
  async flush(): Promise<void> {
    while (this.writesInFlight > 0 || this.waiting) {
      this.writeWaiting();
      await this.written;
    }
  }

  private applyEvaluated(result: EvaluationRows, inserted: boolean[]): void {
    this.evaluated = Math.max(this.evaluated, result.evaluatedUpTo);
    result.notifications.forEach((n, i) => {
      if (!inserted[i]) return;
      this.changes.note(n.userId, n.roomId, n.streamOrdering);
      this.unread.added(n);
    });
    for (const move of result.readMoves) this.readMoved(move);
  }

  eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    return this.rows.eventIdsAfter(after, upTo, limit);
  }

  async markRead(move: ReadMove): Promise<void> {
    await this.rows.moveRead(move);
    this.readMoved(move);
  }

  /** After a read position moved (committed, or applied ahead of its write). */
  private readMoved(move: ReadMove): void {
    this.changes.note(move.userId, move.roomId, move.streamOrdering);
    this.unread.dropped(move.userId, move.roomId);
  }

  async unreadByThread(userId: string, roomId: string, upTo: number): Promise<UnreadByThread> {
    const hit = upTo >= this.evaluated ? this.unread.get(userId, roomId) : undefined;
    if (hit) return hit;
    await this.flush();
    const evaluated = this.evaluated;
    // Counts as of an earlier position than the cache's are read from the rows.
    if (upTo < evaluated) return this.rows.countUnread(userId, roomId, upTo);
    return this.unread.load(userId, roomId, () => this.rows.countUnread(userId, roomId, evaluated));
  }

  async totalUnread(userId: string): Promise<number> {
    await this.flush();
    return this.rows.totalUnread(userId);
  }

  async roomsChanged(userId: string, after: number, upTo: number): Promise<string[]> {
    const marked = this.changes.roomsChanged(userId, after, upTo);
    if (marked) return marked;
    await this.flush();
    return this.rows.roomsChanged(userId, after, upTo);
  }

  async page(query: NotificationPageQuery): Promise<(NotificationRecord & { read: boolean })[]> {
    await this.flush();
    return this.rows.page(query);
  }

  async unreadAfter(userId: string, after: number, limit: number): Promise<NotificationRecord[]> {
    await this.flush();
    return this.rows.unreadAfter(userId, after, limit);
  }

  async pruneRead(cutoffs: NotificationCutoffs, signal?: AbortSignal): Promise<number> {
    // Rows still behind would be pruned only next time: written first, like any read's.
    await this.flush();
    let deleted = 0;
    let step: PruneStep = { deleted: 0, lastUser: 0 };
    while (step.lastUser !== undefined && !signal?.aborted) {
      step = await this.rows.pruneStep(cutoffs, step.lastUser);
      deleted += step.deleted;
    }
    return deleted;
  }
}
