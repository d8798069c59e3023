/**
 * Push notifications in PostgreSQL: the same rows as SQLite's (see
 * ../common/notification-rows.ts) with the same caches in front of them
 * (../common/notification-cache.ts). Evaluations are written behind: while one
 * evaluation's transaction is in flight the next ones gather, and go together
 * in the next (a message writes a row per room member, and the push worker
 * then waits for no round trip). Read positions and the progress mark only
 * move forward, in the statement that writes them (GREATEST on the locked
 * row), so racing receipts and evaluations cannot move them back.
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
  type StoredNotification,
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
import type { StreamPositions } from '../common/stream-positions.js';
import type { PgDatabase, PgExecutor } from './database.js';

/** The interned name's ID, in a query's parameter `$n`: null when it was never stored. */
const nameId = (param: string) => `(SELECT id FROM push_names WHERE name = ${param})`;

export async function openPgNotificationStore(
  db: PgDatabase,
  events: StreamPositions,
): Promise<CachedNotificationStore> {
  const rows = new PgNotificationRows(db);
  return new CachedNotificationStore(rows, {
    evaluated: await rows.storedProgress(),
    changeFloor: events.persistedUpTo(),
    writes: { behind: true },
  });
}

// The statements of an evaluation, by the number of their first parameter (they combine).
const recordProgress = (p: number) => `INSERT INTO push_progress (name, stream_ordering)
  VALUES ('evaluated', $${p})
  ON CONFLICT (name) DO UPDATE
    SET stream_ordering = GREATEST(push_progress.stream_ordering, EXCLUDED.stream_ordering)`;

const moveReads = (
  p: number,
) => `INSERT INTO push_read_positions (user_id, room_id, thread_id, stream_ordering)
  SELECT * FROM unnest($${p}::text[], $${p + 1}::text[], $${p + 2}::text[], $${p + 3}::bigint[])
  ON CONFLICT (user_id, room_id, thread_id) DO UPDATE
    SET stream_ordering = GREATEST(push_read_positions.stream_ordering, EXCLUDED.stream_ordering)`;

const insertNotifications = (p: number) => `INSERT INTO push_notifications (user_nid,
    stream_ordering, room_nid, thread_nid, actions_nid, highlight, ts)
  SELECT * FROM unnest($${p}::bigint[], $${p + 1}::bigint[], $${p + 2}::bigint[],
    $${p + 3}::bigint[], $${p + 4}::bigint[], $${p + 5}::bigint[], $${p + 6}::bigint[])
  ON CONFLICT DO NOTHING RETURNING user_nid, stream_ordering`;

/**
 * A whole evaluation in one statement, atomic by itself (a data-modifying
 * WITH runs whether or not it is read): one round trip where a transaction
 * of the three takes five. Only when every name is interned already.
 */
const WRITE_EVALUATION = `WITH moved AS (${moveReads(8)}), progress AS (${recordProgress(12)})
  ${insertNotifications(1)}`;

type StoredRow = { user_nid: number; stream_ordering: number };

class PgNotificationRows implements NotificationRows {
  /** Interned names by text; only names whose insert has committed. */
  private readonly nids = new Map<string, number>();

  constructor(private readonly db: PgDatabase) {}

  async storedProgress(): Promise<number> {
    const row = await this.db.row<{ stream_ordering: number }>(
      `SELECT stream_ordering FROM push_progress WHERE name = 'evaluated'`,
    );
    return row?.stream_ordering ?? 0;
  }

  async writeEvaluated(result: EvaluationRows): Promise<boolean[]> {
    const { notifications, readMoves, evaluatedUpTo } = result;
    const names = namesOf(notifications);
    const known = this.internedAlready(names);
    if (known) {
      const stored = await this.db.rows<StoredRow>(WRITE_EVALUATION, [
        ...notificationColumns(notifications, known),
        ...readMoveColumns(readMoves),
        evaluatedUpTo,
      ]);
      return freshFlags(notifications, known, stored);
    }
    const { inserted, interned } = await this.db.transaction(async (tx) => {
      const interned = await this.intern(tx, names);
      const stored = await tx.rows<StoredRow>(
        insertNotifications(1),
        notificationColumns(notifications, interned),
      );
      if (readMoves.length > 0) await tx.run(moveReads(1), readMoveColumns(readMoves));
      await tx.run(recordProgress(1), [evaluatedUpTo]);
      return { inserted: freshFlags(notifications, interned, stored), interned };
    });
    // Committed: the names are there for good.
    for (const [name, nid] of interned) this.nids.set(name, nid);
    return inserted;
  }

  /** The names' IDs when every one is interned (and committed) already. */
  private internedAlready(names: Set<string>): Map<string, number> | undefined {
    const ids = new Map<string, number>();
    for (const name of names) {
      const nid = this.nids.get(name);
      if (nid === undefined) return undefined;
      ids.set(name, nid);
    }
    return ids;
  }

  /** The IDs of the names, interning those not stored yet. */
  private async intern(tx: PgExecutor, names: Set<string>): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    const unknown: string[] = [];
    for (const name of names) {
      const nid = this.nids.get(name);
      if (nid === undefined) unknown.push(name);
      else ids.set(name, nid);
    }
    if (unknown.length === 0) return ids;
    // Sorted: two writers interning the same new names wait for each other in one order.
    unknown.sort();
    await tx.run(
      `INSERT INTO push_names (name)
       SELECT name FROM unnest($1::text[]) AS wanted (name)
       WHERE NOT EXISTS (SELECT 1 FROM push_names p WHERE p.name = wanted.name)
       ON CONFLICT (name) DO NOTHING`,
      [unknown],
    );
    const rows = await tx.rows<{ id: number; name: string }>(
      'SELECT id, name FROM push_names WHERE name = ANY($1::text[])',
      [unknown],
    );
    for (const row of rows) ids.set(row.name, row.id);
    return ids;
  }

  async eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]> {
    const rows = await this.db.rows<{ event_id: string }>(
      `SELECT event_id FROM events WHERE stream_ordering > $1 AND stream_ordering <= $2
       ORDER BY stream_ordering LIMIT $3`,
      [after, upTo, limit],
    );
    return rows.map((row) => row.event_id);
  }

  async moveRead(move: ReadMove): Promise<void> {
    await this.db.run(moveReads(1), readMoveColumns([move]));
  }

  async countUnread(userId: string, roomId: string, upTo: number): Promise<UnreadByThread> {
    // One room: its read positions are looked up once, not joined per row.
    const rows = await this.db.rows<{
      thread_id: string;
      notifications: number;
      highlights: number;
    }>(
      `SELECT tn.name AS thread_id, COUNT(*) AS notifications, SUM(n.highlight) AS highlights
       FROM push_notifications n JOIN push_names tn ON tn.id = n.thread_nid
       LEFT JOIN push_read_positions t
         ON t.user_id = $1 AND t.room_id = $2 AND t.thread_id = tn.name
       WHERE n.user_nid = ${nameId('$1')} AND n.room_nid = ${nameId('$2')}
         AND n.stream_ordering <= $3
         AND n.stream_ordering > COALESCE((SELECT stream_ordering FROM push_read_positions
           WHERE user_id = $1 AND room_id = $2 AND thread_id = ''), 0)
         AND n.stream_ordering > COALESCE(t.stream_ordering, 0)
       GROUP BY tn.id, tn.name ORDER BY tn.id`,
      [userId, roomId, upTo],
    );
    return new Map(
      rows.map((row) => [
        row.thread_id,
        { notificationCount: row.notifications, highlightCount: row.highlights },
      ]),
    );
  }

  async totalUnread(userId: string): Promise<number> {
    const row = await this.db.row<{ count: number }>(
      `SELECT COUNT(*) AS count FROM push_notifications n ${WITH_NAMES} ${WITH_READ_POSITIONS}
       WHERE n.user_nid = ${nameId('$1')} AND NOT ${IS_READ}`,
      [userId],
    );
    return row!.count;
  }

  async roomsChanged(userId: string, after: number, upTo: number): Promise<string[]> {
    const rows = await this.db.rows<{ room_id: string }>(
      `SELECT rn.name AS room_id FROM push_notifications n JOIN push_names rn ON rn.id = n.room_nid
         WHERE n.user_nid = ${nameId('$1')} AND n.stream_ordering > $2 AND n.stream_ordering <= $3
       UNION
       SELECT room_id FROM push_read_positions
         WHERE user_id = $1 AND stream_ordering > $2 AND stream_ordering <= $3`,
      [userId, after, upTo],
    );
    return rows.map((row) => row.room_id);
  }

  async page(query: NotificationPageQuery) {
    const rows = await this.db.rows<NotificationRow & { is_read: boolean }>(
      `SELECT ${NOTIFICATION_COLUMNS}, ${IS_READ} AS is_read
       FROM push_notifications n ${WITH_EVENT} ${WITH_NAMES} ${WITH_READ_POSITIONS}
       WHERE n.user_nid = ${nameId('$1')} AND n.stream_ordering < $2
         AND (NOT $3::boolean OR n.highlight = 1)
       ORDER BY n.stream_ordering DESC LIMIT $4`,
      [query.userId, query.before ?? Number.MAX_SAFE_INTEGER, query.onlyHighlight, query.limit],
    );
    return rows.map((row) => ({ ...toNotificationRecord(row), read: row.is_read }));
  }

  async unreadAfter(userId: string, after: number, limit: number) {
    const rows = await this.db.rows<NotificationRow>(
      `SELECT ${NOTIFICATION_COLUMNS}
       FROM push_notifications n ${WITH_EVENT} ${WITH_NAMES} ${WITH_READ_POSITIONS}
       WHERE n.user_nid = ${nameId('$1')} AND n.stream_ordering > $2 AND NOT ${IS_READ}
       ORDER BY n.stream_ordering ASC LIMIT $3`,
      [userId, after, limit],
    );
    return rows.map(toNotificationRecord);
  }

  /**
   * One transaction of pruning: the users after `afterUser` (a name ID), a few
   * at a time. Read positions only move forward, so a deleted row would never
   * count again.
   */
  pruneStep(cutoffs: NotificationCutoffs, afterUser: number): Promise<PruneStep> {
    return this.db.transaction(async (tx) => {
      const step: PruneStep = { deleted: 0, lastUser: afterUser };
      for (let i = 0; i < PRUNE_USERS_PER_STEP && step.lastUser !== undefined; i++) {
        const next = await tx.row<{ nid: number; name: string }>(
          `SELECT n.user_nid AS nid, u.name FROM push_notifications n
             JOIN push_names u ON u.id = n.user_nid
           WHERE n.user_nid > $1 ORDER BY n.user_nid LIMIT 1`,
          [step.lastUser],
        );
        if (!next) {
          delete step.lastUser;
          break;
        }
        step.deleted += await tx.run(PRUNE_READ_OF_USER, [
          next.nid,
          next.name,
          cutoffs.before,
          cutoffs.highlightsBefore,
        ]);
        step.lastUser = next.nid;
      }
      return step;
    });
  }
}

/**
 * The user's ($1, $2 the name) read notifications older than the cutoffs ($3,
 * $4 for highlights). Nothing above the user's newest read position can be
 * read: the rows of a user who never reads are not even looked at.
 */
const PRUNE_READ_OF_USER = `DELETE FROM push_notifications WHERE user_nid = $1 AND stream_ordering IN (
    SELECT n.stream_ordering FROM push_notifications n
      JOIN push_names u ON u.id = n.user_nid
      JOIN push_names rn ON rn.id = n.room_nid
      JOIN push_names tn ON tn.id = n.thread_nid
      ${WITH_READ_POSITIONS}
    WHERE n.user_nid = $1
      AND n.stream_ordering <= (SELECT COALESCE(MAX(stream_ordering), 0)
        FROM push_read_positions WHERE user_id = $2)
      AND n.ts < $3 AND (n.highlight = 0 OR n.ts < $4)
      AND ${IS_READ})`;

function namesOf(notifications: readonly StoredNotification[]): Set<string> {
  const names = new Set<string>();
  for (const n of notifications) {
    names.add(n.userId).add(n.roomId).add(n.threadId).add(actionsJson(n.actions));
  }
  return names;
}

/** insertNotifications's parameters. */
function notificationColumns(
  notifications: readonly StoredNotification[],
  ids: Map<string, number>,
): unknown[][] {
  const idOf = (name: string) => ids.get(name)!;
  return [
    notifications.map((n) => idOf(n.userId)),
    notifications.map((n) => n.streamOrdering),
    notifications.map((n) => idOf(n.roomId)),
    notifications.map((n) => idOf(n.threadId)),
    notifications.map((n) => idOf(actionsJson(n.actions))),
    notifications.map((n) => (n.highlight ? 1 : 0)),
    notifications.map((n) => n.ts),
  ];
}

/**
 * For each notification, whether insertNotifications stored it as new (a
 * re-evaluated event, after a crash between commit and progress, keeps its first row).
 */
function freshFlags(
  notifications: readonly StoredNotification[],
  ids: Map<string, number>,
  stored: readonly StoredRow[],
): boolean[] {
  const fresh = new Set(stored.map((row) => `${row.user_nid} ${row.stream_ordering}`));
  // Set.delete: the first of two rows with one key is the new one, as it was inserted first.
  return notifications.map((n) => fresh.delete(`${ids.get(n.userId)} ${n.streamOrdering}`));
}

/**
 * moveReads's parameters: the furthest move per position, in key
 * order, so that racing writers lock rows in one order.
 */
function readMoveColumns(moves: readonly ReadMove[]): unknown[][] {
  const furthest = new Map<string, [string, string, string, number]>();
  for (const move of moves) {
    const thread = move.threadId ?? EVERY_THREAD;
    const key = JSON.stringify([move.userId, move.roomId, thread]);
    const previous = furthest.get(key)?.[3] ?? 0;
    furthest.set(key, [move.userId, move.roomId, thread, Math.max(previous, move.streamOrdering)]);
  }
  const rows = [...furthest].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
  return [0, 1, 2, 3].map((column) => rows.map((row) => row[column]));
}
