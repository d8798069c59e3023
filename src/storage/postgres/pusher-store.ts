/**
 * Pushers in PostgreSQL: one row per (user, app_id, pushkey), with the device
 * that set it (deleted with that device, see `forgetDevicePushers`) and how
 * far it has got through the user's notifications, as in SQLite.
 */
import type { PusherRecord, PusherStore } from '../storage.js';
import {
  PUSHER_COLUMNS,
  type PusherRow,
  progressValues,
  pusherValues,
  toPusher,
} from '../common/pusher-rows.js';
import { pairKey } from '../../util/pair-key.js';
import type { PgDatabase, PgExecutor } from './database.js';
import { LockScope, lockKey } from './key-locks.js';

export class PgPusherStore implements PusherStore {
  constructor(private readonly db: PgDatabase) {}

  async list(userId: string): Promise<PusherRecord[]> {
    const rows = await this.db.rows<PusherRow>(
      'SELECT * FROM pushers WHERE user_id = $1 ORDER BY app_id COLLATE "C", pushkey COLLATE "C"',
      [userId],
    );
    return rows.map(toPusher);
  }

  async usersWithPushers(): Promise<string[]> {
    const rows = await this.db.rows<{ user_id: string }>(
      'SELECT user_id FROM pushers GROUP BY user_id ORDER BY user_id COLLATE "C"',
    );
    return rows.map((row) => row.user_id);
  }

  async put(p: PusherRecord, append: boolean): Promise<void> {
    await this.db.transaction(async (tx) => {
      // The pushkey's lock: two users putting it at once cannot both keep it.
      await lockKey(tx, LockScope.pushkey, pairKey(p.appId, p.pushkey));
      if (!append) {
        await tx.run('DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3', [
          p.appId,
          p.pushkey,
          p.userId,
        ]);
      }
      await tx.run(
        `INSERT INTO pushers (${PUSHER_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET kind = EXCLUDED.kind,
           device_id = EXCLUDED.device_id, app_display_name = EXCLUDED.app_display_name,
           device_display_name = EXCLUDED.device_display_name,
           profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang,
           data_json = EXCLUDED.data_json, pushkey_ts = EXCLUDED.pushkey_ts,
           last_stream_ordering = EXCLUDED.last_stream_ordering,
           -- A put starts the pusher afresh, as SQLite's INSERT OR REPLACE.
           failing_since = NULL, last_error = NULL`,
        pusherValues(p),
      );
    });
  }

  async delete(userId: string, appId: string, pushkey: string): Promise<boolean> {
    const deleted = await this.db.run(
      'DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3',
      [userId, appId, pushkey],
    );
    return deleted > 0;
  }

  async setProgress(
    userId: string,
    appId: string,
    pushkey: string,
    progress: { lastStreamOrdering: number; failingSince?: number; lastError?: string },
  ): Promise<void> {
    await this.db.run(
      `UPDATE pushers SET last_stream_ordering = $1, failing_since = $2, last_error = $3
       WHERE user_id = $4 AND app_id = $5 AND pushkey = $6`,
      [...progressValues(progress), userId, appId, pushkey],
    );
  }
}

/** Deleting a device deletes the pushers it set; runs inside the device deletion's transaction. */
export async function forgetDevicePushers(
  tx: PgExecutor,
  userId: string,
  deviceId: string,
): Promise<void> {
  await tx.run('DELETE FROM pushers WHERE user_id = $1 AND device_id = $2', [userId, deviceId]);
}
