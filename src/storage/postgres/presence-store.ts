/**
 * Presence in PostgreSQL: one row per user, moved to a fresh position of the
 * presence stream on each change. Room-mates are read from the rooms' current
 * state (joined members only), as in SQLite (sqlite/room-mates.ts).
 */
import type { PresenceRecord, PresenceStore } from '../storage.js';
import type { StreamPositions } from '../common/stream-positions.js';
import { type PresenceRow, toPresenceRecord } from '../common/user-data-rows.js';
import type { PgExecutor } from './database.js';

const COLUMNS = 'stream_id, user_id, state, status_msg, last_active_ts';

/** Everyone joined to a room the `user` placeholder's user is joined to (the user included). */
const roomMatesOf = (user: string): string => `
  SELECT mate.state_key FROM current_state mine
  JOIN current_state mate ON mate.room_id = mine.room_id
    AND mate.type = 'm.room.member' AND mate.membership = 'join'
  WHERE mine.type = 'm.room.member' AND mine.state_key = ${user} AND mine.membership = 'join'`;

/** Whether `other` is joined to a room `user` is joined to, stopping at the first one. */
const sharesRoom = (user: string, other: string): string => `EXISTS (
  SELECT 1 FROM current_state mine
  JOIN current_state mate ON mate.room_id = mine.room_id AND mate.type = 'm.room.member'
    AND mate.state_key = ${other} AND mate.membership = 'join'
  WHERE mine.type = 'm.room.member' AND mine.state_key = ${user} AND mine.membership = 'join')`;

export class PgPresenceStore implements PresenceStore {
  constructor(
    private readonly db: PgExecutor,
    private readonly stream: StreamPositions,
  ) {}

  async get(userId: string): Promise<PresenceRecord | undefined> {
    const row = await this.db.row<PresenceRow>(
      `SELECT ${COLUMNS} FROM presence WHERE user_id = $1`,
      [userId],
    );
    return row && toPresenceRecord(row);
  }

  async put(record: Omit<PresenceRecord, 'streamId'>): Promise<number> {
    return this.stream.run(1, async ([position]) => {
      // Concurrent puts of one user may commit out of position order: the
      // higher position wins, as it would have with one writer committing in order.
      await this.db.run(
        `INSERT INTO presence (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE
           SET stream_id = EXCLUDED.stream_id, state = EXCLUDED.state,
               status_msg = EXCLUDED.status_msg, last_active_ts = EXCLUDED.last_active_ts
           WHERE presence.stream_id < EXCLUDED.stream_id`,
        [position, record.userId, record.state, record.statusMsg ?? null, record.lastActiveTs],
      );
      return position!;
    });
  }

  async changesAmongRoomMates(
    userId: string,
    after: number,
    upTo: number,
  ): Promise<PresenceRecord[]> {
    const rows = await this.db.rows<PresenceRow>(
      `SELECT ${COLUMNS} FROM presence WHERE stream_id > $1 AND stream_id <= $2
         AND (user_id = $3 OR user_id IN (${roomMatesOf('$3')}))
       ORDER BY stream_id`,
      [after, upTo, userId],
    );
    return rows.map(toPresenceRecord);
  }

  async notOffline(): Promise<PresenceRecord[]> {
    // SQLite's scan returns rows by stream_id (its rowid): the same order here.
    const rows = await this.db.rows<PresenceRow>(
      `SELECT ${COLUMNS} FROM presence WHERE state != 'offline' ORDER BY stream_id`,
    );
    return rows.map(toPresenceRecord);
  }

  async shareARoom(userId: string, otherUserId: string): Promise<boolean> {
    const row = await this.db.row<{ shared: boolean }>(
      `SELECT ${sharesRoom('$1::text', '$2::text')} AS shared`,
      [userId, otherUserId],
    );
    return row?.shared === true;
  }

  async maxStreamId(): Promise<number> {
    return this.stream.persistedUpTo();
  }
}
