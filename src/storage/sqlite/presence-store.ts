/**
 * Presence in SQLite: one row per user, replaced on change so that the
 * AUTOINCREMENT `stream_id` is the presence stream position.
 */
import type { PresenceRecord, PresenceStore } from '../storage.js';
import { type PresenceRow, toPresenceRecord as toRecord } from '../common/user-data-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';
import { ROOM_MATES, sharesRoom } from './room-mates.js';

export class SqlitePresenceStore implements PresenceStore {
  private readonly selectOne;
  private readonly remove;
  private readonly insert;
  private readonly selectChanges;
  private readonly selectShared;
  private readonly selectMax;
  private readonly selectNotOffline;
  private readonly replace;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare('SELECT * FROM presence WHERE user_id = ?');
    this.remove = db.prepare('DELETE FROM presence WHERE user_id = ?');
    this.insert = db
      .prepare(
        `INSERT INTO presence (user_id, state, status_msg, last_active_ts) VALUES (?, ?, ?, ?)
         RETURNING stream_id`,
      )
      .pluck();
    this.selectChanges = db.prepare(
      `SELECT * FROM presence WHERE stream_id > ? AND stream_id <= ?
         AND (user_id = ? OR user_id IN (${ROOM_MATES}))
       ORDER BY stream_id`,
    );
    this.selectShared = db.prepare(`SELECT ${sharesRoom('?')}`).pluck();
    this.selectMax = db.prepare('SELECT COALESCE(MAX(stream_id), 0) FROM presence').pluck();
    this.selectNotOffline = db.prepare("SELECT * FROM presence WHERE state != 'offline'");
    this.replace = writeTransaction(db, (r: Omit<PresenceRecord, 'streamId'>): number => {
      this.remove.run(r.userId);
      return this.insert.get(r.userId, r.state, r.statusMsg ?? null, r.lastActiveTs) as number;
    });
  }

  async get(userId: string): Promise<PresenceRecord | undefined> {
    const row = this.selectOne.get(userId) as PresenceRow | undefined;
    return row && toRecord(row);
  }

  async put(record: Omit<PresenceRecord, 'streamId'>): Promise<number> {
    return this.replace(record);
  }

  async changesAmongRoomMates(userId: string, after: number, upTo: number) {
    return (this.selectChanges.all(after, upTo, userId, userId) as PresenceRow[]).map(toRecord);
  }

  async notOffline(): Promise<PresenceRecord[]> {
    return (this.selectNotOffline.all() as PresenceRow[]).map(toRecord);
  }

  async shareARoom(userId: string, otherUserId: string): Promise<boolean> {
    return this.selectShared.get(otherUserId, userId) === 1;
  }

  async maxStreamId(): Promise<number> {
    return this.selectMax.get() as number;
  }
}
