/**
 * The Admin API's jobs, blocked rooms and purges in SQLite. Each purge batch
 * is one IMMEDIATE transaction on the main connection (the writer thread's
 * event commits wait for it, briefly): a batch's events and every row that
 * names them go together, so a crash between batches leaves no orphan.
 */
import type {
  AdminJob,
  AdminJobKind,
  AdminJobUpdate,
  HistoryPurgeScope,
  PurgeBatch,
  RoomBlock,
} from '../../domain/admin-jobs.js';
import {
  ADMIN_JOB_COLUMNS,
  type AdminJobRow,
  adminJobValues,
  MEMBER_ROOM_TABLES,
  type PurgedEventRow,
  ROOM_KEYED_TABLES,
  toAdminJob,
} from '../common/admin-job-rows.js';
import type { AdminJobStore } from '../storage.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

/** The room's members (anyone with a member event in its current state). */
const ROOM_MEMBERS = `SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member'`;

export class SqliteAdminJobStore implements AdminJobStore {
  private readonly purgeRoomInTransaction;
  private readonly purgeHistoryInTransaction;

  constructor(private readonly db: SqliteDatabase) {
    this.purgeRoomInTransaction = writeTransaction(db, (roomId: string, limit: number) =>
      this.purgeRoomEvents(roomId, limit),
    );
    this.purgeHistoryInTransaction = writeTransaction(db, (scope: HistoryPurgeScope) =>
      this.purgeHistoryEvents(scope),
    );
  }

  async insertJob(job: AdminJob): Promise<void> {
    this.db
      .prepare(`INSERT INTO admin_jobs (${ADMIN_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(...adminJobValues(job));
  }

  async updateJob(id: string, update: AdminJobUpdate, now: number): Promise<void> {
    const result = update.result === undefined ? undefined : JSON.stringify(update.result);
    this.db
      .prepare(
        `UPDATE admin_jobs SET status = ?, updated_ts = ?,
           error = CASE WHEN ? THEN ? ELSE error END,
           result_json = CASE WHEN ? THEN ? ELSE result_json END
         WHERE id = ?`,
      )
      .run(
        update.status,
        now,
        update.error === undefined ? 0 : 1,
        update.error ?? null,
        result === undefined ? 0 : 1,
        result ?? null,
        id,
      );
  }

  async getJob(id: string): Promise<AdminJob | undefined> {
    const row = this.db
      .prepare(`SELECT ${ADMIN_JOB_COLUMNS} FROM admin_jobs WHERE id = ?`)
      .get(id) as AdminJobRow | undefined;
    return row && toAdminJob(row);
  }

  async jobsOfRoom(roomId: string, kind: AdminJobKind): Promise<AdminJob[]> {
    const rows = this.db
      .prepare(
        `SELECT ${ADMIN_JOB_COLUMNS} FROM admin_jobs WHERE room_id = ? AND kind = ?
         ORDER BY created_ts, id`,
      )
      .all(roomId, kind) as AdminJobRow[];
    return rows.map(toAdminJob);
  }

  async unfinishedJobs(): Promise<AdminJob[]> {
    const rows = this.db
      .prepare(
        `SELECT ${ADMIN_JOB_COLUMNS} FROM admin_jobs WHERE status IN ('scheduled', 'active')
         ORDER BY created_ts, id`,
      )
      .all() as AdminJobRow[];
    return rows.map(toAdminJob);
  }

  async setRoomBlock(roomId: string, userId: string | null, now: number): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO blocked_rooms (room_id, user_id, blocked_ts) VALUES (?, ?, ?)
         ON CONFLICT (room_id) DO UPDATE SET user_id = excluded.user_id`,
      )
      .run(roomId, userId, now);
  }

  async clearRoomBlock(roomId: string): Promise<void> {
    this.db.prepare('DELETE FROM blocked_rooms WHERE room_id = ?').run(roomId);
  }

  async roomBlock(roomId: string): Promise<RoomBlock | undefined> {
    const row = this.db
      .prepare('SELECT room_id, user_id FROM blocked_rooms WHERE room_id = ?')
      .get(roomId) as { room_id: string; user_id: string | null } | undefined;
    return row && { roomId: row.room_id, userId: row.user_id };
  }

  async purgeRoomBatch(roomId: string, limit: number): Promise<PurgeBatch> {
    return this.purgeRoomInTransaction(roomId, limit);
  }

  async purgeHistoryBatch(scope: HistoryPurgeScope): Promise<PurgeBatch> {
    return this.purgeHistoryInTransaction(scope);
  }

  private purgeRoomEvents(roomId: string, limit: number): PurgeBatch {
    const rows = this.db
      .prepare(
        `SELECT event_id, stream_ordering, state_group FROM events WHERE room_id = ?
         ORDER BY stream_ordering LIMIT ?`,
      )
      .all(roomId, limit) as PurgedEventRow[];
    this.deleteEventRows(roomId, rows);
    this.deleteStateGroups(rows);
    const more = rows.length === limit;
    if (!more) this.deleteRoomRows(roomId);
    return { eventIds: rows.map((row) => row.event_id), more };
  }

  private purgeHistoryEvents(scope: HistoryPurgeScope): PurgeBatch {
    // State events stay (later events' state groups name them), and so do the forward
    // extremities (the next event's prev_events); both as Synapse keeps them.
    const rows = this.db
      .prepare(
        `SELECT e.event_id, e.stream_ordering, e.state_group FROM events e
         WHERE e.room_id = ? AND e.stream_ordering < ? AND e.state_key IS NULL
           AND (? IS NULL OR substr(e.sender, -length(?)) != ?)
           AND NOT EXISTS (SELECT 1 FROM forward_extremities f
             WHERE f.room_id = e.room_id AND f.event_id = e.event_id)
         ORDER BY e.stream_ordering LIMIT ?`,
      )
      .all(
        scope.roomId,
        scope.beforeStreamOrdering,
        scope.keepSendersEndingWith ?? null,
        scope.keepSendersEndingWith ?? null,
        scope.keepSendersEndingWith ?? null,
        scope.limit,
      ) as PurgedEventRow[];
    this.deleteEventRows(scope.roomId, rows);
    return { eventIds: rows.map((row) => row.event_id), more: rows.length === scope.limit };
  }

  /** The events and the rows keyed by them: relations, redactions of them, transactions, notifications. */
  private deleteEventRows(roomId: string, rows: readonly PurgedEventRow[]): void {
    if (rows.length === 0) return;
    const ids = rows.map((row) => row.event_id);
    const positions = rows.map((row) => Number(row.stream_ordering));
    const list = placeholders(ids.length);
    this.db.prepare(`DELETE FROM event_relations WHERE event_id IN (${list})`).run(...ids);
    this.db.prepare(`DELETE FROM threads WHERE root_id IN (${list})`).run(...ids);
    this.db.prepare(`DELETE FROM redactions WHERE redacted_event_id IN (${list})`).run(...ids);
    this.db.prepare(`DELETE FROM event_transactions WHERE event_id IN (${list})`).run(...ids);
    this.db
      .prepare(`DELETE FROM event_search WHERE rowid IN (${placeholders(positions.length)})`)
      .run(...positions);
    // Notifications are keyed by (user, position): the room's members' rows at these positions.
    this.db
      .prepare(
        `DELETE FROM push_notifications WHERE user_nid IN (SELECT n.id FROM push_names n
           WHERE n.name IN (${ROOM_MEMBERS})) AND stream_ordering IN (${list})`,
      )
      .run(roomId, ...positions);
    this.db.prepare(`DELETE FROM events WHERE event_id IN (${list})`).run(...ids);
  }

  /** A room purge's events take their state groups along (groups never span rooms). */
  private deleteStateGroups(rows: readonly PurgedEventRow[]): void {
    const groups = [...new Set(rows.map((row) => Number(row.state_group)))];
    if (groups.length === 0) return;
    const list = placeholders(groups.length);
    this.db
      .prepare(`DELETE FROM state_group_entries WHERE state_group IN (${list})`)
      .run(...groups);
    this.db.prepare(`DELETE FROM state_groups WHERE id IN (${list})`).run(...groups);
  }

  /** Once the events are gone: every row of the room's own. */
  private deleteRoomRows(roomId: string): void {
    for (const table of MEMBER_ROOM_TABLES) {
      this.db
        .prepare(`DELETE FROM ${table} WHERE user_id IN (${ROOM_MEMBERS}) AND room_id = ?`)
        .run(roomId, roomId);
    }
    this.db
      .prepare(
        `DELETE FROM push_notifications
         WHERE user_nid IN (SELECT n.id FROM push_names n WHERE n.name IN (${ROOM_MEMBERS}))
           AND room_nid = (SELECT id FROM push_names WHERE name = ?)`,
      )
      .run(roomId, roomId);
    this.db.prepare('DELETE FROM current_state WHERE room_id = ?').run(roomId);
    for (const table of ROOM_KEYED_TABLES) {
      this.db.prepare(`DELETE FROM ${table} WHERE room_id = ?`).run(roomId);
    }
  }
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}
