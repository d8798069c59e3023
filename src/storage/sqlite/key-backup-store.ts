/** Server-side key backup (/room_keys): versions and the room keys backed up in them. */
import type { BackupKeyRecord, BackupVersionRecord, KeyBackupStore } from '../storage.js';
import { type SqliteDatabase, writeTransaction } from './database.js';
import { type KeyRow, type VersionRow, toKey, toVersion } from '../common/key-backup-rows.js';

/** Keys of a version, narrowed to a room and a session when given (NULL matches all). */
const KEY_SCOPE = `user_id = @userId AND version = @version
  AND (@roomId IS NULL OR room_id = @roomId) AND (@sessionId IS NULL OR session_id = @sessionId)`;

interface KeyScope {
  userId: string;
  version: number;
  roomId: string | null;
  sessionId: string | null;
}

const scope = (userId: string, version: number, roomId?: string, sessionId?: string): KeyScope => ({
  userId,
  version,
  roomId: roomId ?? null,
  sessionId: sessionId ?? null,
});

export class SqliteKeyBackupStore implements KeyBackupStore {
  private readonly insertVersion;
  private readonly selectVersion;
  private readonly selectCurrent;
  private readonly updateAuth;
  private readonly markDeleted;
  private readonly bumpEtag;
  private readonly bumpEtagIfCurrent;
  private readonly selectEtagIfCurrent;
  private readonly countRows;
  private readonly selectKeys;
  private readonly selectKey;
  private readonly upsertKey;
  private readonly deleteRows;

  constructor(private readonly db: SqliteDatabase) {
    // Versions count up per user and are never reused, deleted ones included.
    this.insertVersion = db
      .prepare(
        `INSERT INTO room_key_backup_versions (user_id, version, algorithm, auth_data_json)
         SELECT @userId, COALESCE(MAX(version), 0) + 1, @algorithm, @authData
         FROM room_key_backup_versions WHERE user_id = @userId RETURNING version`,
      )
      .pluck();
    this.selectVersion = db.prepare(
      'SELECT * FROM room_key_backup_versions WHERE user_id = ? AND version = ? AND deleted = 0',
    );
    this.selectCurrent = db.prepare(
      `SELECT * FROM room_key_backup_versions WHERE user_id = ? AND deleted = 0
       ORDER BY version DESC LIMIT 1`,
    );
    this.updateAuth = db.prepare(
      'UPDATE room_key_backup_versions SET auth_data_json = ? WHERE user_id = ? AND version = ?',
    );
    this.markDeleted = db.prepare(
      `UPDATE room_key_backup_versions SET deleted = 1
       WHERE user_id = ? AND version = ? AND deleted = 0`,
    );
    this.bumpEtag = db.prepare(
      'UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?',
    );
    this.bumpEtagIfCurrent = db.prepare(
      `UPDATE room_key_backup_versions SET etag = etag + 1
       WHERE user_id = ? AND version = ? AND etag = ? AND deleted = 0`,
    );
    this.selectEtagIfCurrent = db.prepare(
      `SELECT 1 FROM room_key_backup_versions
       WHERE user_id = ? AND version = ? AND etag = ? AND deleted = 0`,
    );
    this.countRows = db
      .prepare('SELECT COUNT(*) FROM room_key_backup_keys WHERE user_id = ? AND version = ?')
      .pluck();
    this.selectKeys = db.prepare(
      `SELECT * FROM room_key_backup_keys WHERE ${KEY_SCOPE} ORDER BY room_id, session_id`,
    );
    this.selectKey = db.prepare(
      `SELECT * FROM room_key_backup_keys
       WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?`,
    );
    this.upsertKey = db.prepare(
      `INSERT INTO room_key_backup_keys (user_id, version, room_id, session_id,
         first_message_index, forwarded_count, is_verified, session_data_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
         first_message_index = excluded.first_message_index,
         forwarded_count = excluded.forwarded_count,
         is_verified = excluded.is_verified,
         session_data_json = excluded.session_data_json`,
    );
    this.deleteRows = db.prepare(`DELETE FROM room_key_backup_keys WHERE ${KEY_SCOPE}`);
  }

  async createVersion(userId: string, algorithm: string, authDataJson: string): Promise<number> {
    return this.insertVersion.get({ userId, algorithm, authData: authDataJson }) as number;
  }

  async getVersion(userId: string, version?: number): Promise<BackupVersionRecord | undefined> {
    const row = (
      version === undefined
        ? this.selectCurrent.get(userId)
        : this.selectVersion.get(userId, version)
    ) as VersionRow | undefined;
    return row && toVersion(row);
  }

  async updateAuthData(userId: string, version: number, authDataJson: string): Promise<void> {
    this.updateAuth.run(authDataJson, userId, version);
  }

  async deleteVersion(userId: string, version: number): Promise<boolean> {
    return writeTransaction(this.db, () => {
      if (this.markDeleted.run(userId, version).changes === 0) return false;
      this.deleteRows.run(scope(userId, version));
      return true;
    })();
  }

  async countKeys(userId: string, version: number): Promise<number> {
    return this.countRows.get(userId, version) as number;
  }

  async getKeys(
    userId: string,
    version: number,
    roomId?: string,
    sessionId?: string,
  ): Promise<BackupKeyRecord[]> {
    const rows = this.selectKeys.all(scope(userId, version, roomId, sessionId));
    return (rows as KeyRow[]).map(toKey);
  }

  async keysOfSessions(
    userId: string,
    version: number,
    sessions: { roomId: string; sessionId: string }[],
  ): Promise<BackupKeyRecord[]> {
    return sessions.flatMap(({ roomId, sessionId }) => {
      const row = this.selectKey.get(userId, version, roomId, sessionId) as KeyRow | undefined;
      return row ? [toKey(row)] : [];
    });
  }

  async putKeys(
    userId: string,
    version: number,
    keys: BackupKeyRecord[],
    expectedEtag: number,
  ): Promise<boolean> {
    if (keys.length === 0) {
      return this.selectEtagIfCurrent.get(userId, version, expectedEtag) !== undefined;
    }
    return writeTransaction(this.db, () => {
      if (this.bumpEtagIfCurrent.run(userId, version, expectedEtag).changes === 0) return false;
      for (const key of keys) {
        this.upsertKey.run(
          userId,
          version,
          key.roomId,
          key.sessionId,
          key.firstMessageIndex,
          key.forwardedCount,
          key.isVerified ? 1 : 0,
          key.sessionDataJson,
        );
      }
      return true;
    })();
  }

  async deleteKeys(
    userId: string,
    version: number,
    roomId?: string,
    sessionId?: string,
  ): Promise<void> {
    writeTransaction(this.db, () => {
      this.deleteRows.run(scope(userId, version, roomId, sessionId));
      this.bumpEtag.run(userId, version);
    })();
  }
}
