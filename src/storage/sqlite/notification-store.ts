/**
 * Push notifications in SQLite: what each user's push rules made of each
 * event (only notifying events get a row), how far each user has read each
 * room (per thread, '' for an unthreaded receipt), and how far evaluation has
 * got, so a restart resumes where it stopped.
 *
 * An event is unread for a user when it is after both the room-wide read
 * position and the position of its own thread.
 */
import type {
  EvaluatedEvents,
  NotificationPageQuery,
  NotificationRecord,
  NotificationStore,
  ReadMove,
  UnreadCounts,
} from '../storage.js';
import { derivedDataTransaction, type SqliteDatabase } from './database.js';

/** The read position row of an unthreaded receipt: it covers every thread. */
const EVERY_THREAD = '';

interface NotificationRow {
  user_id: string;
  room_id: string;
  event_id: string;
  stream_ordering: number;
  thread_id: string;
  notify: number;
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
    notify: row.notify === 1,
    highlight: row.highlight === 1,
    actions: JSON.parse(row.actions) as unknown[],
    ts: row.ts,
  };
}

/** Joins each notification to the user's room-wide (r) and thread (t) read positions. */
const WITH_READ_POSITIONS = `FROM push_notifications n
  LEFT JOIN push_read_positions r
    ON r.user_id = n.user_id AND r.room_id = n.room_id AND r.thread_id = ''
  LEFT JOIN push_read_positions t
    ON t.user_id = n.user_id AND t.room_id = n.room_id AND t.thread_id = n.thread_id`;
const IS_READ = `(n.stream_ordering <= COALESCE(r.stream_ordering, 0)
  OR n.stream_ordering <= COALESCE(t.stream_ordering, 0))`;

export class SqliteNotificationStore implements NotificationStore {
  private readonly statements;

  constructor(private readonly db: SqliteDatabase) {
    this.statements = prepare(db);
  }

  async evaluatedUpTo(): Promise<number> {
    return (this.statements.progress.get() as number | undefined) ?? 0;
  }

  async recordEvaluated(result: EvaluatedEvents): Promise<void> {
    const s = this.statements;
    // Derived from stored events: after a power cut, evaluation resumes from the mark.
    derivedDataTransaction(this.db, () => {
      for (const n of result.notifications) {
        s.insertNotification.run(
          n.userId,
          n.roomId,
          n.eventId,
          n.streamOrdering,
          n.threadId,
          n.notify ? 1 : 0,
          n.highlight ? 1 : 0,
          JSON.stringify(n.actions),
          n.ts,
        );
      }
      for (const move of result.readMoves) this.moveReadPosition(move);
      s.setProgress.run(result.evaluatedUpTo);
    });
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    return this.statements.eventIdsAfter.all(after, upTo, limit) as string[];
  }

  async markRead(move: ReadMove): Promise<void> {
    this.moveReadPosition(move);
  }

  async unreadByThread(
    userId: string,
    roomId: string,
    upTo: number,
  ): Promise<Map<string, UnreadCounts>> {
    const rows = this.statements.unreadByThread.all(userId, roomId, upTo) as {
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
    return this.statements.totalUnread.get(userId) as number;
  }

  async roomsChanged(userId: string, after: number, upTo: number): Promise<string[]> {
    return this.statements.roomsChanged.all(userId, after, upTo, userId, after, upTo) as string[];
  }

  async page(query: NotificationPageQuery) {
    const rows = this.statements.page.all(
      query.userId,
      query.before ?? Number.MAX_SAFE_INTEGER,
      query.onlyHighlight ? 1 : 0,
      query.limit,
    ) as (NotificationRow & { is_read: number })[];
    return rows.map((row) => ({ ...toRecord(row), read: row.is_read === 1 }));
  }

  async unreadAfter(userId: string, after: number, limit: number) {
    const rows = this.statements.unreadAfter.all(userId, after, limit) as NotificationRow[];
    return rows.map(toRecord);
  }

  private moveReadPosition(move: ReadMove): void {
    const thread = move.threadId ?? EVERY_THREAD;
    this.statements.moveRead.run(move.userId, move.roomId, thread, move.streamOrdering);
  }
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
    // A re-evaluated event (after a crash between commit and progress) keeps its first row.
    insertNotification: db.prepare(
      `INSERT INTO push_notifications (user_id, room_id, event_id, stream_ordering, thread_id,
         notify, highlight, actions, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
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
    unreadByThread: db.prepare(
      `SELECT n.thread_id, COUNT(*) AS notifications, SUM(n.highlight) AS highlights
       ${WITH_READ_POSITIONS}
       WHERE n.user_id = ? AND n.room_id = ? AND n.notify = 1 AND n.stream_ordering <= ?
         AND NOT ${IS_READ}
       GROUP BY n.thread_id`,
    ),
    totalUnread: db
      .prepare(
        `SELECT COUNT(*) ${WITH_READ_POSITIONS}
         WHERE n.user_id = ? AND n.notify = 1 AND NOT ${IS_READ}`,
      )
      .pluck(),
    roomsChanged: db
      .prepare(
        `SELECT room_id FROM push_notifications
           WHERE user_id = ? AND stream_ordering > ? AND stream_ordering <= ?
         UNION
         SELECT room_id FROM push_read_positions
           WHERE user_id = ? AND stream_ordering > ? AND stream_ordering <= ?`,
      )
      .pluck(),
    page: db.prepare(
      `SELECT n.*, ${IS_READ} AS is_read ${WITH_READ_POSITIONS}
       WHERE n.user_id = ? AND n.stream_ordering < ? AND (? = 0 OR n.highlight = 1)
       ORDER BY n.stream_ordering DESC LIMIT ?`,
    ),
    unreadAfter: db.prepare(
      `SELECT n.* ${WITH_READ_POSITIONS}
       WHERE n.user_id = ? AND n.stream_ordering > ? AND n.notify = 1 AND NOT ${IS_READ}
       ORDER BY n.stream_ordering ASC LIMIT ?`,
    ),
  };
}
