/**
 * Push notifications in SQLite: what each user's push rules made of each
 * event (only notifying events get a row), how far each user has read each
 * room (per thread, '' for an unthreaded receipt), and how far evaluation has
 * got, so a restart resumes where it stopped.
 *
 * An event is unread for a user when it is after both the room-wide read
 * position and the position of its own thread.
 *
 * A room of n members adds n − 1 notification rows per message, so a row is
 * kept to a few integers: user, room and thread IDs and action lists are
 * interned in `push_names` (cached here; they never change once written).
 *
 * Every /sync reads the unread counts of the rooms it shows, and a count is a
 * scan of the unread rows, so counts are cached per (user, room): a cached
 * entry always covers every notification up to the evaluation progress, as
 * `recordEvaluated` adds its new rows to the cached entries and any read move
 * drops the room's entry. Likewise the newest position of each user's rows
 * in each room is kept, so that /sync asks no query for the rooms whose
 * counts changed.
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
import { derivedDataTransaction, type SqliteDatabase } from './database.js';
import { actionsJson, type EvaluationRows } from './evaluation-packing.js';
import type { SqliteWriter } from './writer.js';

/** The read position row of an unthreaded receipt: it covers every thread. */
const EVERY_THREAD = '';
const UNREAD_CACHE_SIZE = 50_000;
/** Bounds on how long evaluations gather before their rows are written (see `writeWhenGathered`). */
const GATHER_ROWS = 2_000;
const GATHER_MS = 50;
const CHANGE_MARKS_SIZE = 100_000;
/** Users whose read notifications one pruning transaction deletes (see `pruneReadStep`). */
const PRUNE_USERS_PER_STEP = 20;

type UnreadByThread = Map<string, UnreadCounts>;

interface NotificationRow {
  user_id: string;
  room_id: string;
  event_id: string;
  stream_ordering: number;
  thread_id: string;
  highlight: number;
  actions: string;
  ts: number;
}

function toRecord(row: NotificationRow): NotificationRecord {
  return {
    userId: row.user_id,
    roomId: row.room_id,
    eventId: row.event_id,
    streamOrdering: row.stream_ordering,
    threadId: row.thread_id,
    notify: true,
    highlight: row.highlight === 1,
    actions: JSON.parse(row.actions) as unknown[],
    ts: row.ts,
  };
}

/** A notification with its names and event ID (`e`, see WITH_EVENT), for the queries that return records. */
const NOTIFICATION_COLUMNS = `u.name AS user_id, rn.name AS room_id, e.event_id,
  n.stream_ordering, tn.name AS thread_id, n.highlight, an.name AS actions, n.ts`;
const WITH_NAMES = `JOIN push_names u ON u.id = n.user_nid
  JOIN push_names rn ON rn.id = n.room_nid
  JOIN push_names tn ON tn.id = n.thread_nid
  JOIN push_names an ON an.id = n.actions_nid`;
/** The notification's event, for its ID: rows are found by position, the events' key. */
const WITH_EVENT = `JOIN events e ON e.stream_ordering = n.stream_ordering`;
/** Joins each notification to the user's room-wide (r) and thread (t) read positions. */
const WITH_READ_POSITIONS = `LEFT JOIN push_read_positions r
    ON r.user_id = u.name AND r.room_id = rn.name AND r.thread_id = ''
  LEFT JOIN push_read_positions t
    ON t.user_id = u.name AND t.room_id = rn.name AND t.thread_id = tn.name`;
const IS_READ = `(n.stream_ordering <= COALESCE(r.stream_ordering, 0)
  OR n.stream_ordering <= COALESCE(t.stream_ordering, 0))`;

export class SqliteNotificationStore implements NotificationStore {
  private readonly statements;
  /** Interned names by text; only names whose insert has committed. */
  private readonly nids = new Map<string, number>();
  /** Unread counts by thread up to `evaluated`, by `unreadKey(user, room)`. */
  private readonly unread = new LruCache<string, UnreadByThread>(UNREAD_CACHE_SIZE);
  /** The evaluation progress as last stored; undefined until first read. */
  private evaluated: number | undefined;
  /**
   * Per user, per room: the newest position of their notification and read
   * position rows written since `changeFloor`. Rows from before (before
   * start, or before the marks were last forgotten) are at or below it.
   */
  private readonly changes = new Map<string, Map<string, number>>();
  private changeMarks = 0;
  private changeFloor: number;
  private newestChange: number;
  /**
   * With the writer thread, an evaluation is applied here (caches, marks,
   * progress) as soon as it is recorded, and its rows are stored later (see
   * `writeWhenGathered`): the long-polls waiting for its counts go on at once.
   * Reads of rows send the waiting evaluations and wait for the writes; a
   * failed write is reported by the next call.
   */
  private writesInFlight = 0;
  private written: Promise<void> = Promise.resolve();
  /** Evaluations applied here and not yet handed to the writer (see `writeWhenGathered`). */
  private waiting: EvaluatedEvents | undefined;
  private gatherTimer: NodeJS.Timeout | undefined;
  private writeError: unknown;

  constructor(
    private readonly db: SqliteDatabase,
    /** Commits evaluations on its own connection in a worker thread; without it, here. */
    private readonly writer?: SqliteWriter,
  ) {
    this.statements = prepare(db);
    this.changeFloor = (this.statements.maxEventPosition.get() as number | null) ?? 0;
    this.newestChange = this.changeFloor;
  }

  async evaluatedUpTo(): Promise<number> {
    return this.progress();
  }

  async recordEvaluated(result: EvaluatedEvents): Promise<void> {
    if (this.writeError !== undefined) {
      const err = this.writeError;
      this.writeError = undefined;
      throw err;
    }
    if (!this.writer) {
      this.applyEvaluated(result, this.writeEvaluated(result));
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
   * until GATHER_ROWS rows or GATHER_MS have gathered, or a read of the rows
   * needs them (`flush`). A message writes a row on each member's own page,
   * and every page a commit touches is written to the WAL (and checkpointed
   * back): one commit per a few dozen messages writes each page once for all
   * of them, where a commit per batch of messages wrote it each time. Nobody
   * waits for these rows (the counts above are applied at once), and a crash
   * before they are written only means evaluating those events again.
   */
  private writeWhenGathered(): void {
    if (this.writesInFlight > 0 || !this.waiting) return;
    if (this.waiting.notifications.length >= GATHER_ROWS) {
      this.writeWaiting();
      return;
    }
    this.gatherTimer ??= setTimeout(() => this.writeWaiting(), GATHER_MS).unref();
  }

  private writeWaiting(): void {
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.writesInFlight > 0 || !this.waiting) return;
    const next = this.waiting;
    this.waiting = undefined;
    this.startWrite(next);
  }

  private startWrite(result: EvaluatedEvents): void {
    const writer = this.writer!;
    this.writesInFlight++;
    this.written = writer.recordEvaluated(result).then(
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
        this.forgetChanges();
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

  private applyEvaluated(result: EvaluatedEvents, inserted: boolean[]): void {
    this.evaluated = result.evaluatedUpTo;
    result.notifications.forEach((n, i) => {
      if (!inserted[i]) return;
      this.noteChange(n.userId, n.roomId, n.streamOrdering);
      const cached = this.unread.get(unreadKey(n.userId, n.roomId));
      if (cached) cached.set(n.threadId, addOne(cached.get(n.threadId), n.highlight));
    });
    for (const move of result.readMoves) this.readMoved(move);
  }

  /**
   * The evaluation's transaction: run here, or in the writer thread on its own
   * connection. Tells for each notification whether it was new.
   */
  writeEvaluated(result: EvaluationRows): boolean[] {
    const s = this.statements;
    // Names interned by this transaction join the cache only once it commits.
    const added = new Map<string, number>();
    const intern = (name: string) =>
      this.nids.get(name) ?? added.get(name) ?? this.insertName(name, added);
    // Derived from stored events: after a power cut, evaluation resumes from the mark.
    const inserted: boolean[] = [];
    derivedDataTransaction(this.db, () => {
      for (const n of result.notifications) {
        const { changes } = s.insertNotification.run(
          intern(n.userId),
          n.streamOrdering,
          intern(n.roomId),
          intern(n.threadId),
          intern(actionsJson(n.actions)),
          n.highlight ? 1 : 0,
          n.ts,
        );
        inserted.push(changes > 0);
      }
      for (const move of result.readMoves) this.moveReadPosition(move);
      s.setProgress.run(result.evaluatedUpTo);
    });
    for (const [name, nid] of added) this.nids.set(name, nid);
    return inserted;
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    return this.statements.eventIdsAfter.all(after, upTo, limit) as string[];
  }

  async markRead(move: ReadMove): Promise<void> {
    this.moveReadPosition(move);
    this.readMoved(move);
  }

  async unreadByThread(userId: string, roomId: string, upTo: number): Promise<UnreadByThread> {
    const key = unreadKey(userId, roomId);
    const hit = upTo >= this.progress() ? this.unread.get(key) : undefined;
    if (hit) return new Map(hit);
    await this.flush();
    const evaluated = this.progress();
    // Counts as of an earlier position than the cache's are read from the rows.
    if (upTo < evaluated) return this.countUnread(userId, roomId, upTo);
    const counted = this.countUnread(userId, roomId, evaluated);
    this.unread.set(key, counted);
    return new Map(counted);
  }

  private countUnread(userId: string, roomId: string, upTo: number): UnreadByThread {
    const user = this.nidOf(userId);
    const room = this.nidOf(roomId);
    if (user === undefined || room === undefined) return new Map();
    const rows = this.statements.unreadByThread.all({ user, room, userId, roomId, upTo }) as {
      thread_id: string;
      notifications: number;
      highlights: number;
    }[];
    return new Map(
      rows.map((row) => [
        row.thread_id,
        { notificationCount: row.notifications, highlightCount: row.highlights },
      ]),
    );
  }

  async totalUnread(userId: string): Promise<number> {
    await this.flush();
    const user = this.nidOf(userId);
    return user === undefined ? 0 : (this.statements.totalUnread.get(user) as number);
  }

  async roomsChanged(userId: string, after: number, upTo: number): Promise<string[]> {
    const marks = after >= this.changeFloor ? [...(this.changes.get(userId) ?? [])] : undefined;
    // A room's mark is its newest change: one past `upTo` may hide one inside the range.
    if (marks?.every(([, position]) => position <= upTo)) {
      return marks.filter(([, position]) => position > after).map(([roomId]) => roomId);
    }
    await this.flush();
    const user = this.nidOf(userId) ?? -1;
    return this.statements.roomsChanged.all({ user, userId, after, upTo }) as string[];
  }

  async page(query: NotificationPageQuery) {
    await this.flush();
    const user = this.nidOf(query.userId);
    if (user === undefined) return [];
    const rows = this.statements.page.all(
      user,
      query.before ?? Number.MAX_SAFE_INTEGER,
      query.onlyHighlight ? 1 : 0,
      query.limit,
    ) as (NotificationRow & { is_read: number })[];
    return rows.map((row) => ({ ...toRecord(row), read: row.is_read === 1 }));
  }

  async unreadAfter(userId: string, after: number, limit: number) {
    await this.flush();
    const user = this.nidOf(userId);
    if (user === undefined) return [];
    const rows = this.statements.unreadAfter.all(user, after, limit) as NotificationRow[];
    return rows.map(toRecord);
  }

  async pruneRead(cutoffs: NotificationCutoffs, signal?: AbortSignal): Promise<number> {
    let deleted = 0;
    let step: PruneStep = { deleted: 0, lastUser: 0 };
    while (step.lastUser !== undefined && !signal?.aborted) {
      // Steps in the writer thread wait behind event writes; here, each is a turn of its own.
      step = this.writer
        ? await this.writer.pruneNotifications(cutoffs, step.lastUser)
        : this.pruneReadStep(cutoffs, step.lastUser);
      deleted += step.deleted;
      if (!this.writer) await new Promise((resolve) => setImmediate(resolve));
    }
    return deleted;
  }

  /**
   * One transaction of `pruneRead`: the users after `afterUser` (a name ID),
   * a few at a time. Read positions only move forward, so a deleted row
   * would never count again; if the deletion is lost in a power cut (it
   * does not wait for the disk), the next pruning deletes the rows again.
   */
  pruneReadStep(cutoffs: NotificationCutoffs, afterUser: number): PruneStep {
    const s = this.statements;
    const step: PruneStep = { deleted: 0, lastUser: afterUser };
    derivedDataTransaction(this.db, () => {
      for (let i = 0; i < PRUNE_USERS_PER_STEP && step.lastUser !== undefined; i++) {
        const next = s.nextNotifiedUser.get(step.lastUser) as
          { nid: number; name: string } | undefined;
        if (!next) {
          delete step.lastUser;
          return;
        }
        const readUpTo = (s.newestReadPosition.get(next.name) as number | null) ?? 0;
        const { changes } = s.pruneReadOfUser.run({
          user: next.nid,
          readUpTo,
          before: cutoffs.before,
          highlightsBefore: cutoffs.highlightsBefore,
        });
        step.deleted += changes;
        step.lastUser = next.nid;
      }
    });
    return step;
  }

  private progress(): number {
    this.evaluated ??= (this.statements.progress.get() as number | undefined) ?? 0;
    return this.evaluated;
  }

  private moveReadPosition(move: ReadMove): void {
    const thread = move.threadId ?? EVERY_THREAD;
    this.statements.moveRead.run(move.userId, move.roomId, thread, move.streamOrdering);
  }

  /** After a read position moved (committed): the room's counts are read again. */
  private readMoved(move: ReadMove): void {
    this.noteChange(move.userId, move.roomId, move.streamOrdering);
    this.unread.delete(unreadKey(move.userId, move.roomId));
  }

  /** Every mark forgotten at once keeps the floor exact for all users. */
  private forgetChanges(): void {
    this.changes.clear();
    this.changeMarks = 0;
    this.changeFloor = this.newestChange;
  }

  private noteChange(userId: string, roomId: string, position: number): void {
    if (this.changeMarks >= CHANGE_MARKS_SIZE) this.forgetChanges();
    let rooms = this.changes.get(userId);
    if (!rooms) {
      rooms = new Map();
      this.changes.set(userId, rooms);
    }
    const previous = rooms.get(roomId);
    if (previous === undefined) this.changeMarks++;
    rooms.set(roomId, Math.max(previous ?? 0, position));
    this.newestChange = Math.max(this.newestChange, position);
  }

  /** The name's ID, if anything was ever stored under it. */
  private nidOf(name: string): number | undefined {
    const cached = this.nids.get(name);
    if (cached !== undefined) return cached;
    const stored = this.statements.selectName.get(name) as number | undefined;
    if (stored !== undefined) this.nids.set(name, stored);
    return stored;
  }

  private insertName(name: string, added: Map<string, number>): number {
    const s = this.statements;
    s.insertName.run(name);
    const nid = s.selectName.get(name) as number;
    added.set(name, nid);
    return nid;
  }
}

function emptyEvaluation(): EvaluatedEvents {
  return { notifications: [], readMoves: [], evaluatedUpTo: 0 };
}

/** Adds a later evaluation to `target` (which it owns), in place. */
function appendEvaluation(target: EvaluatedEvents, later: EvaluatedEvents): EvaluatedEvents {
  for (const notification of later.notifications) target.notifications.push(notification);
  for (const move of later.readMoves) target.readMoves.push(move);
  target.evaluatedUpTo = later.evaluatedUpTo;
  return target;
}

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

function prepare(db: SqliteDatabase) {
  return {
    progress: db
      .prepare(`SELECT stream_ordering FROM push_progress WHERE name = 'evaluated'`)
      .pluck(),
    setProgress: db.prepare(
      `INSERT INTO push_progress (name, stream_ordering) VALUES ('evaluated', ?)
       ON CONFLICT (name) DO UPDATE SET stream_ordering = excluded.stream_ordering`,
    ),
    maxEventPosition: db.prepare('SELECT MAX(stream_ordering) FROM events').pluck(),
    selectName: db.prepare(`SELECT id FROM push_names WHERE name = ?`).pluck(),
    insertName: db.prepare(`INSERT OR IGNORE INTO push_names (name) VALUES (?)`),
    // A re-evaluated event (after a crash between commit and progress) keeps its first row.
    insertNotification: db.prepare(
      `INSERT INTO push_notifications (user_nid, stream_ordering, room_nid, thread_nid,
         actions_nid, highlight, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    moveRead: db.prepare(
      `INSERT INTO push_read_positions (user_id, room_id, thread_id, stream_ordering)
       VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, room_id, thread_id) DO UPDATE
         SET stream_ordering = MAX(stream_ordering, excluded.stream_ordering)`,
    ),
    eventIdsAfter: db
      .prepare(
        `SELECT event_id FROM events WHERE stream_ordering > ? AND stream_ordering <= ?
         ORDER BY stream_ordering LIMIT ?`,
      )
      .pluck(),
    // One room: its read positions are looked up once, not joined per row.
    unreadByThread: db.prepare(
      `SELECT tn.name AS thread_id, COUNT(*) AS notifications, SUM(n.highlight) AS highlights
       FROM push_notifications n JOIN push_names tn ON tn.id = n.thread_nid
       LEFT JOIN push_read_positions t
         ON t.user_id = @userId AND t.room_id = @roomId AND t.thread_id = tn.name
       WHERE n.user_nid = @user AND n.room_nid = @room AND n.stream_ordering <= @upTo
         AND n.stream_ordering > COALESCE((SELECT stream_ordering FROM push_read_positions
           WHERE user_id = @userId AND room_id = @roomId AND thread_id = ''), 0)
         AND n.stream_ordering > COALESCE(t.stream_ordering, 0)
       GROUP BY n.thread_nid`,
    ),
    totalUnread: db
      .prepare(
        `SELECT COUNT(*) FROM push_notifications n ${WITH_NAMES} ${WITH_READ_POSITIONS}
         WHERE n.user_nid = ? AND NOT ${IS_READ}`,
      )
      .pluck(),
    roomsChanged: db
      .prepare(
        `SELECT rn.name FROM push_notifications n JOIN push_names rn ON rn.id = n.room_nid
           WHERE n.user_nid = @user AND n.stream_ordering > @after AND n.stream_ordering <= @upTo
         UNION
         SELECT room_id FROM push_read_positions
           WHERE user_id = @userId AND stream_ordering > @after AND stream_ordering <= @upTo`,
      )
      .pluck(),
    page: db.prepare(
      `SELECT ${NOTIFICATION_COLUMNS}, ${IS_READ} AS is_read
       FROM push_notifications n ${WITH_EVENT} ${WITH_NAMES} ${WITH_READ_POSITIONS}
       WHERE n.user_nid = ? AND n.stream_ordering < ? AND (? = 0 OR n.highlight = 1)
       ORDER BY n.stream_ordering DESC LIMIT ?`,
    ),
    unreadAfter: db.prepare(
      `SELECT ${NOTIFICATION_COLUMNS}
       FROM push_notifications n ${WITH_EVENT} ${WITH_NAMES} ${WITH_READ_POSITIONS}
       WHERE n.user_nid = ? AND n.stream_ordering > ? AND NOT ${IS_READ}
       ORDER BY n.stream_ordering ASC LIMIT ?`,
    ),
    nextNotifiedUser: db.prepare(
      `SELECT n.user_nid AS nid, u.name FROM push_notifications n
         JOIN push_names u ON u.id = n.user_nid
       WHERE n.user_nid > ? ORDER BY n.user_nid LIMIT 1`,
    ),
    newestReadPosition: db
      .prepare(`SELECT MAX(stream_ordering) FROM push_read_positions WHERE user_id = ?`)
      .pluck(),
    // Nothing above the user's newest read position can be read: the rows of a user who
    // never reads are not even looked at.
    pruneReadOfUser: db.prepare(
      `DELETE FROM push_notifications WHERE user_nid = @user AND stream_ordering IN (
         SELECT n.stream_ordering FROM push_notifications n
           JOIN push_names u ON u.id = n.user_nid
           JOIN push_names rn ON rn.id = n.room_nid
           JOIN push_names tn ON tn.id = n.thread_nid
           ${WITH_READ_POSITIONS}
         WHERE n.user_nid = @user AND n.stream_ordering <= @readUpTo
           AND n.ts < @before AND (n.highlight = 0 OR n.ts < @highlightsBefore)
           AND ${IS_READ})`,
    ),
  };
}
