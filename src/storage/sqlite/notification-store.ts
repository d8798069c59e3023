/**
 * Push notifications in SQLite: what each user's push rules made of each
 * event (only notifying events get a row), how far each user has read each
 * room (per thread, '' for an unthreaded receipt), and how far evaluation has
 * got, so a restart resumes where it stopped. The rows and their joins are
 * ../common/notification-rows.ts; the caches in front of them are the same for
 * every backend (../common/notification-cache.ts).
 *
 * A room of n members adds n − 1 notification rows per message, so a row is
 * kept to a few integers, with names interned in `push_names` (cached here;
 * they never change once written).
 */
import type {
  NotificationCutoffs,
  NotificationPageQuery,
  PruneStep,
  ReadMove,
} from '../storage.js';
import { actionsJson } from '../common/actions-json.js';
import {
  CachedNotificationStore,
  EVERY_THREAD,
  type EvaluationRows,
  type NotificationRows,
  type UnreadByThread,
} from '../common/notification-cache.js';
import {
  IS_READ,
  NOTIFICATION_COLUMNS,
  type NotificationRow,
  PRUNE_USERS_PER_STEP,
  WITH_EVENT,
  WITH_NAMES,
  WITH_READ_POSITIONS,
  toNotificationRecord,
} from '../common/notification-rows.js';
import { derivedDataTransaction, type SqliteDatabase } from './database.js';
import type { SqliteWriter } from './writer.js';

/** Bounds on how long evaluations gather before the writer thread writes their rows. */
const GATHER_ROWS = 2_000;
const GATHER_MS = 50;

/**
 * The notification store of a SQLite database. With the writer thread,
 * evaluations are written behind (see CachedNotificationStore), gathering up
 * to GATHER_ROWS rows or GATHER_MS.
 */
export function openSqliteNotificationStore(
  db: SqliteDatabase,
  writer?: SqliteWriter,
): CachedNotificationStore {
  const rows = new SqliteNotificationRows(db, writer);
  return new CachedNotificationStore(rows, {
    evaluated: rows.storedProgress(),
    changeFloor: rows.newestEventPosition(),
    writes: writer
      ? { behind: true, gather: { rows: GATHER_ROWS, ms: GATHER_MS } }
      : { behind: false },
  });
}

export class SqliteNotificationRows implements NotificationRows {
  private readonly statements;
  /** Interned names by text; only names whose insert has committed. */
  private readonly nids = new Map<string, number>();

  constructor(
    private readonly db: SqliteDatabase,
    /** Commits evaluations and pruning on its own connection in a worker thread; without it, here. */
    private readonly writer?: SqliteWriter,
  ) {
    this.statements = prepare(db);
  }

  storedProgress(): number {
    return (this.statements.progress.get() as number | undefined) ?? 0;
  }

  newestEventPosition(): number {
    return (this.statements.maxEventPosition.get() as number | null) ?? 0;
  }

  async writeEvaluated(result: EvaluationRows): Promise<boolean[]> {
    return this.writer ? this.writer.recordEvaluated(result) : this.storeEvaluated(result);
  }

  /**
   * The evaluation's transaction: run here, or in the writer thread on its own
   * connection. Tells for each notification whether it was new.
   */
  storeEvaluated(result: EvaluationRows): boolean[] {
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

  async moveRead(move: ReadMove): Promise<void> {
    this.moveReadPosition(move);
  }

  async countUnread(userId: string, roomId: string, upTo: number): Promise<UnreadByThread> {
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
    const user = this.nidOf(userId);
    return user === undefined ? 0 : (this.statements.totalUnread.get(user) as number);
  }

  async roomsChanged(userId: string, after: number, upTo: number): Promise<string[]> {
    const user = this.nidOf(userId) ?? -1;
    return this.statements.roomsChanged.all({ user, userId, after, upTo }) as string[];
  }

  async page(query: NotificationPageQuery) {
    const user = this.nidOf(query.userId);
    if (user === undefined) return [];
    const rows = this.statements.page.all(
      user,
      query.before ?? Number.MAX_SAFE_INTEGER,
      query.onlyHighlight ? 1 : 0,
      query.limit,
    ) as (NotificationRow & { is_read: number })[];
    return rows.map((row) => ({ ...toNotificationRecord(row), read: row.is_read === 1 }));
  }

  async unreadAfter(userId: string, after: number, limit: number) {
    const user = this.nidOf(userId);
    if (user === undefined) return [];
    const rows = this.statements.unreadAfter.all(user, after, limit) as NotificationRow[];
    return rows.map(toNotificationRecord);
  }

  async pruneStep(cutoffs: NotificationCutoffs, afterUser: number): Promise<PruneStep> {
    // Steps in the writer thread wait behind event writes; here, each is a turn of its own.
    if (this.writer) return this.writer.pruneNotifications(cutoffs, afterUser);
    const step = this.pruneReadStep(cutoffs, afterUser);
    await new Promise((resolve) => setImmediate(resolve));
    return step;
  }

  /**
   * One transaction of pruning: the users after `afterUser` (a name ID),
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

  private moveReadPosition(move: ReadMove): void {
    const thread = move.threadId ?? EVERY_THREAD;
    this.statements.moveRead.run(move.userId, move.roomId, thread, move.streamOrdering);
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

function prepare(db: SqliteDatabase) {
  return {
    progress: db
      .prepare(`SELECT stream_ordering FROM push_progress WHERE name = 'evaluated'`)
      .pluck(),
    setProgress: db.prepare(
      `INSERT INTO push_progress (name, stream_ordering) VALUES ('evaluated', ?)
       ON CONFLICT (name) DO UPDATE
         SET stream_ordering = MAX(stream_ordering, excluded.stream_ordering)`,
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
