/**
 * Pushers in SQLite: one row per (user, app_id, pushkey), with the device that
 * set it (deleted with that device, see PusherCleanup) and how far it has got
 * through the user's notifications.
 */
import type { PusherRecord, PusherStore } from '../storage.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

interface PusherRow {
  user_id: string;
  app_id: string;
  pushkey: string;
  kind: string;
  device_id: string | null;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data_json: string;
  pushkey_ts: number;
  last_stream_ordering: number;
  failing_since: number | null;
  last_error: string | null;
}

function toPusher(row: PusherRow): PusherRecord {
  const pusher: PusherRecord = {
    userId: row.user_id,
    appId: row.app_id,
    pushkey: row.pushkey,
    kind: row.kind,
    deviceId: row.device_id,
    appDisplayName: row.app_display_name,
    deviceDisplayName: row.device_display_name,
    lang: row.lang,
    data: JSON.parse(row.data_json) as Record<string, unknown>,
    pushkeyTs: row.pushkey_ts,
    lastStreamOrdering: row.last_stream_ordering,
  };
  if (row.profile_tag !== null) pusher.profileTag = row.profile_tag;
  if (row.failing_since !== null) pusher.failingSince = row.failing_since;
  if (row.last_error !== null) pusher.lastError = row.last_error;
  return pusher;
}

export class SqlitePusherStore implements PusherStore {
  private readonly statements;

  constructor(private readonly db: SqliteDatabase) {
    this.statements = {
      list: db.prepare('SELECT * FROM pushers WHERE user_id = ? ORDER BY app_id, pushkey'),
      users: db.prepare('SELECT DISTINCT user_id FROM pushers').pluck(),
      upsert: db.prepare(
        `INSERT OR REPLACE INTO pushers (user_id, app_id, pushkey, kind, device_id,
           app_display_name, device_display_name, profile_tag, lang, data_json, pushkey_ts,
           last_stream_ordering)
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
      this.statements.upsert.run(
        p.userId,
        p.appId,
        p.pushkey,
        p.kind,
        p.deviceId,
        p.appDisplayName,
        p.deviceDisplayName,
        p.profileTag ?? null,
        p.lang,
        JSON.stringify(p.data),
        p.pushkeyTs,
        p.lastStreamOrdering,
      );
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
    this.statements.progress.run(
      progress.lastStreamOrdering,
      progress.failingSince ?? null,
      progress.lastError ?? null,
      userId,
      appId,
      pushkey,
    );
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
