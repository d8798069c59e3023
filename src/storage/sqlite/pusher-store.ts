/**
 * Pushers in SQLite: one row per (user, app_id, pushkey), with the device that
 * set it (deleted with that device, see PusherCleanup) and how far it has got
 * through the user's notifications.
 */
import type { PusherRecord, PusherStore } from '../storage.js';
import {
  PUSHER_COLUMNS,
  type PusherRow,
  progressValues,
  pusherValues,
  toPusher,
} from '../common/pusher-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqlitePusherStore implements PusherStore {
  private readonly statements;

  constructor(private readonly db: SqliteDatabase) {
    this.statements = {
      list: db.prepare('SELECT * FROM pushers WHERE user_id = ? ORDER BY app_id, pushkey'),
      users: db.prepare('SELECT DISTINCT user_id FROM pushers').pluck(),
      upsert: db.prepare(
        `INSERT OR REPLACE INTO pushers (${PUSHER_COLUMNS})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteOthers: db.prepare(
        'DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?',
      ),
      deleteOne: db.prepare('DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
      progress: db.prepare(
        `UPDATE pushers SET last_stream_ordering = ?, failing_since = ?, last_error = ?
         WHERE user_id = ? AND app_id = ? AND pushkey = ?`,
      ),
    };
  }

  async list(userId: string): Promise<PusherRecord[]> {
    return (this.statements.list.all(userId) as PusherRow[]).map(toPusher);
  }

  async usersWithPushers(): Promise<string[]> {
    return this.statements.users.all() as string[];
  }

  async put(p: PusherRecord, append: boolean): Promise<void> {
    writeTransaction(this.db, () => {
      if (!append) this.statements.deleteOthers.run(p.appId, p.pushkey, p.userId);
      this.statements.upsert.run(...pusherValues(p));
    })();
  }

  async delete(userId: string, appId: string, pushkey: string): Promise<boolean> {
    return this.statements.deleteOne.run(userId, appId, pushkey).changes > 0;
  }

  async setProgress(
    userId: string,
    appId: string,
    pushkey: string,
    progress: { lastStreamOrdering: number; failingSince?: number; lastError?: string },
  ): Promise<void> {
    this.statements.progress.run(...progressValues(progress), userId, appId, pushkey);
  }
}

/** Deleting a device deletes the pushers it set, in the device deletion's transaction (as Synapse). */
export class PusherCleanup {
  private readonly deleteOfDevice;

  constructor(db: SqliteDatabase) {
    this.deleteOfDevice = db.prepare('DELETE FROM pushers WHERE user_id = ? AND device_id = ?');
  }

  /** Must run inside the device deletion's transaction. */
  forgetDevice(userId: string, deviceId: string): void {
    this.deleteOfDevice.run(userId, deviceId);
  }
}
