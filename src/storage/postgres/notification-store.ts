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
    const { inserted, interned } = await this.db.transaction(async (tx) => {
      const interned = await this.intern(tx, namesOf(result.notifications));
      const inserted = await insertNotifications(tx, result.notifications, interned);
      await moveReadPositions(tx, result.readMoves);
      await tx.run(
        `INSERT INTO push_progress (name, stream_ordering) VALUES ('evaluated', $1)
         ON CONFLICT (name) DO UPDATE
           SET stream_ordering = GREATEST(push_progress.stream_ordering, EXCLUDED.stream_ordering)`,
        [result.evaluatedUpTo],
      );
      return { inserted, interned };
    });
    // Committed: the names are there for good.
    for (const [name, nid] of interned) this.nids.set(name, nid);
    return inserted;
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

  moveRead(move: ReadMove): Promise<void> {
    return moveReadPositions(this.db, [move]);
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

/**
 * One statement for all the rows; tells for each notification whether it was
 * new (a re-evaluated event, after a crash between commit and progress, keeps
 * its first row).
 */
async function insertNotifications(
  tx: PgExecutor,
  notifications: readonly StoredNotification[],
  ids: Map<string, number>,
): Promise<boolean[]> {
  if (notifications.length === 0) return [];
  const idOf = (name: string) => ids.get(name)!;
  const stored = await tx.rows<{ user_nid: number; stream_ordering: number }>(
    `INSERT INTO push_notifications (user_nid, stream_ordering, room_nid, thread_nid,
       actions_nid, highlight, ts)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
       $6::bigint[], $7::bigint[])
     ON CONFLICT DO NOTHING RETURNING user_nid, stream_ordering`,
    [
      notifications.map((n) => idOf(n.userId)),
      notifications.map((n) => n.streamOrdering),
      notifications.map((n) => idOf(n.roomId)),
      notifications.map((n) => idOf(n.threadId)),
      notifications.map((n) => idOf(actionsJson(n.actions))),
      notifications.map((n) => (n.highlight ? 1 : 0)),
      notifications.map((n) => n.ts),
    ],
  );
  const fresh = new Set(stored.map((row) => `${row.user_nid} ${row.stream_ordering}`));
  // Set.delete: the first of two rows with one key is the new one, as it was inserted first.
  return notifications.map((n) => fresh.delete(`${idOf(n.userId)} ${n.streamOrdering}`));
}

/**
 * Moves read positions forward (never back) in one statement: the furthest
 * move per position, in key order, so that racing writers lock rows in one order.
 */
async function moveReadPositions(db: PgExecutor, moves: readonly ReadMove[]): Promise<void> {
  if (moves.length === 0) return;
  const furthest = new Map<string, [string, string, string, number]>();
  for (const move of moves) {
    const thread = move.threadId ?? EVERY_THREAD;
    const key = JSON.stringify([move.userId, move.roomId, thread]);
    const previous = furthest.get(key)?.[3] ?? 0;
    furthest.set(key, [move.userId, move.roomId, thread, Math.max(previous, move.streamOrdering)]);
  }
  const rows = [...furthest].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
  await db.run(
    `INSERT INTO push_read_positions (user_id, room_id, thread_id, stream_ordering)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
     ON CONFLICT (user_id, room_id, thread_id) DO UPDATE
       SET stream_ordering = GREATEST(push_read_positions.stream_ordering, EXCLUDED.stream_ordering)`,
    [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
  );
}
