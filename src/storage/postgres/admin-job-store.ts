/**
 * The Admin API's jobs, blocked rooms and purges in PostgreSQL, as in SQLite
 * (sqlite/admin-job-store.ts): each purge batch is one transaction, lists go
 * in as arrays (one prepared statement whatever the batch's size).
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
import type { PgDatabase, PgExecutor } from './database.js';

/** The room's members (anyone with a member event in its current state); $1 is the room. */
const ROOM_MEMBERS = `SELECT state_key FROM current_state WHERE room_id = $1 AND type = 'm.room.member'`;

export class PgAdminJobStore implements AdminJobStore {
  constructor(private readonly db: PgDatabase) {}

  async insertJob(job: AdminJob): Promise<void> {
    await this.db.run(
      `INSERT INTO admin_jobs (${ADMIN_JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      adminJobValues(job),
    );
  }

  async updateJob(id: string, update: AdminJobUpdate, now: number): Promise<void> {
    const result = update.result === undefined ? undefined : JSON.stringify(update.result);
    await this.db.run(
      `UPDATE admin_jobs SET status = $1, updated_ts = $2,
         error = CASE WHEN $3::boolean THEN $4::text ELSE error END,
         result_json = CASE WHEN $5::boolean THEN $6::text ELSE result_json END
       WHERE id = $7`,
      [
        update.status,
        now,
        update.error !== undefined,
        update.error ?? null,
        result !== undefined,
        result ?? null,
        id,
      ],
    );
  }

  async getJob(id: string): Promise<AdminJob | undefined> {
    const row = await this.db.row<AdminJobRow>(
      `SELECT ${ADMIN_JOB_COLUMNS} FROM admin_jobs WHERE id = $1`,
      [id],
    );
    return row && toAdminJob(row);
  }

  async jobsOfRoom(roomId: string, kind: AdminJobKind): Promise<AdminJob[]> {
    const rows = await this.db.rows<AdminJobRow>(
      `SELECT ${ADMIN_JOB_COLUMNS} FROM admin_jobs WHERE room_id = $1 AND kind = $2
       ORDER BY created_ts, id`,
      [roomId, kind],
    );
    return rows.map(toAdminJob);
  }

  async unfinishedJobs(): Promise<AdminJob[]> {
    const rows = await this.db.rows<AdminJobRow>(
      `SELECT ${ADMIN_JOB_COLUMNS} FROM admin_jobs WHERE status IN ('scheduled', 'active')
       ORDER BY created_ts, id`,
    );
    return rows.map(toAdminJob);
  }

  async setRoomBlock(roomId: string, userId: string | null, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO blocked_rooms (room_id, user_id, blocked_ts) VALUES ($1, $2, $3)
       ON CONFLICT (room_id) DO UPDATE SET user_id = excluded.user_id`,
      [roomId, userId, now],
    );
  }

  async clearRoomBlock(roomId: string): Promise<void> {
    await this.db.run('DELETE FROM blocked_rooms WHERE room_id = $1', [roomId]);
  }

  async roomBlock(roomId: string): Promise<RoomBlock | undefined> {
    const row = await this.db.row<{ room_id: string; user_id: string | null }>(
      'SELECT room_id, user_id FROM blocked_rooms WHERE room_id = $1',
      [roomId],
    );
    return row && { roomId: row.room_id, userId: row.user_id };
  }

  async purgeRoomBatch(roomId: string, limit: number): Promise<PurgeBatch> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.rows<PurgedEventRow>(
        `SELECT event_id, stream_ordering, state_group FROM events WHERE room_id = $1
         ORDER BY stream_ordering LIMIT $2`,
        [roomId, limit],
      );
      await deleteEventRows(tx, roomId, rows);
      await deleteStateGroups(tx, rows);
      const more = rows.length === limit;
      if (!more) await deleteRoomRows(tx, roomId);
      return { eventIds: rows.map((row) => row.event_id), more };
    });
  }

  async purgeHistoryBatch(scope: HistoryPurgeScope): Promise<PurgeBatch> {
    return this.db.transaction(async (tx) => {
      // As SQLite: state events and forward extremities stay.
      const rows = await tx.rows<PurgedEventRow>(
        `SELECT e.event_id, e.stream_ordering, e.state_group FROM events e
         WHERE e.room_id = $1 AND e.stream_ordering < $2 AND e.state_key IS NULL
           AND ($3::text IS NULL OR right(e.sender, length($3::text)) != $3::text)
           AND NOT EXISTS (SELECT 1 FROM forward_extremities f
             WHERE f.room_id = e.room_id AND f.event_id = e.event_id)
         ORDER BY e.stream_ordering LIMIT $4`,
        [
          scope.roomId,
          scope.beforeStreamOrdering,
          scope.keepSendersEndingWith ?? null,
          scope.limit,
        ],
      );
      await deleteEventRows(tx, scope.roomId, rows);
      return { eventIds: rows.map((row) => row.event_id), more: rows.length === scope.limit };
    });
  }
}

/** The events and the rows keyed by them: relations, redactions of them, transactions, notifications. */
async function deleteEventRows(
  tx: PgExecutor,
  roomId: string,
  rows: readonly PurgedEventRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const ids = rows.map((row) => row.event_id);
  const positions = rows.map((row) => Number(row.stream_ordering));
  await tx.run('DELETE FROM event_relations WHERE event_id = ANY($1::text[])', [ids]);
  await tx.run('DELETE FROM threads WHERE root_id = ANY($1::text[])', [ids]);
  await tx.run('DELETE FROM redactions WHERE redacted_event_id = ANY($1::text[])', [ids]);
  await tx.run('DELETE FROM event_transactions WHERE event_id = ANY($1::text[])', [ids]);
  await tx.run('DELETE FROM event_search WHERE stream_ordering = ANY($1::bigint[])', [positions]);
  await tx.run(
    `DELETE FROM push_notifications WHERE user_nid IN (SELECT n.id FROM push_names n
       WHERE n.name IN (${ROOM_MEMBERS})) AND stream_ordering = ANY($2::bigint[])`,
    [roomId, positions],
  );
  await tx.run('DELETE FROM events WHERE event_id = ANY($1::text[])', [ids]);
}

/** A room purge's events take their state groups along (groups never span rooms). */
async function deleteStateGroups(tx: PgExecutor, rows: readonly PurgedEventRow[]): Promise<void> {
  const groups = [...new Set(rows.map((row) => Number(row.state_group)))];
  if (groups.length === 0) return;
  await tx.run('DELETE FROM state_group_entries WHERE state_group = ANY($1::bigint[])', [groups]);
  await tx.run('DELETE FROM state_groups WHERE id = ANY($1::bigint[])', [groups]);
}

/** Once the events are gone: every row of the room's own. */
async function deleteRoomRows(tx: PgExecutor, roomId: string): Promise<void> {
  for (const table of MEMBER_ROOM_TABLES) {
    await tx.run(`DELETE FROM ${table} WHERE user_id IN (${ROOM_MEMBERS}) AND room_id = $1`, [
      roomId,
    ]);
  }
  await tx.run(
    `DELETE FROM push_notifications
     WHERE user_nid IN (SELECT n.id FROM push_names n WHERE n.name IN (${ROOM_MEMBERS}))
       AND room_nid = (SELECT id FROM push_names WHERE name = $1)`,
    [roomId],
  );
  await tx.run('DELETE FROM current_state WHERE room_id = $1', [roomId]);
  for (const table of ROOM_KEYED_TABLES) {
    await tx.run(`DELETE FROM ${table} WHERE room_id = $1`, [roomId]);
  }
}
