/**
 * Server-side key backup (/room_keys) on PostgreSQL: versions and the room keys
 * backed up in them; the same behaviour as ../sqlite/key-backup-store.ts. The
 * version row is what concurrent writers of its keys serialise on: putKeys and
 * deleteKeys update its etag first (a row lock), deleteVersion marks it deleted.
 */
import type { BackupKeyRecord, BackupVersionRecord, KeyBackupStore } from '../storage.js';
import { pairKey } from '../../util/pair-key.js';
import type { PgDatabase, PgExecutor } from './database.js';
import { type KeyRow, type VersionRow, toKey, toVersion } from '../common/key-backup-rows.js';

const VERSION_COLUMNS = 'user_id, version, algorithm, auth_data_json, etag';
const KEY_COLUMNS =
  'room_id, session_id, first_message_index, forwarded_count, is_verified, session_data_json';

/** Keys of version $2 of user $1, narrowed to room $3 and session $4 when not NULL. */
const KEY_SCOPE = `user_id = $1 AND version = $2
  AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4)`;

const scope = (userId: string, version: number, roomId?: string, sessionId?: string) => [
  userId,
  version,
  roomId ?? null,
  sessionId ?? null,
];

/** The version not deleted with this etag, locked until the transaction ends; false if none. */
async function bumpEtagIfCurrent(
  tx: PgExecutor,
  userId: string,
  version: number,
  expectedEtag: number,
): Promise<boolean> {
  const bumped = await tx.run(
    `UPDATE room_key_backup_versions SET etag = etag + 1
     WHERE user_id = $1 AND version = $2 AND etag = $3 AND deleted = 0`,
    [userId, version, expectedEtag],
  );
  return bumped > 0;
}

/** The last key given for each session: what upserting them one by one would leave. */
function lastPerSession(keys: BackupKeyRecord[]): BackupKeyRecord[] {
  const bySession = new Map<string, BackupKeyRecord>();
  for (const key of keys) bySession.set(pairKey(key.roomId, key.sessionId), key);
  return [...bySession.values()];
}

export class PgKeyBackupStore implements KeyBackupStore {
  constructor(private readonly db: PgDatabase) {}

  /**
   * Versions count up per user and are never reused, deleted ones included. Two
   * concurrent creations compute the same number: the later finds it taken
   * (waiting on the primary key for the first to commit) and counts again.
   */
  async createVersion(userId: string, algorithm: string, authDataJson: string): Promise<number> {
    for (;;) {
      const row = await this.db.row<{ version: number }>(
        `INSERT INTO room_key_backup_versions (user_id, version, algorithm, auth_data_json)
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3
         FROM room_key_backup_versions WHERE user_id = $1
         ON CONFLICT (user_id, version) DO NOTHING RETURNING version`,
        [userId, algorithm, authDataJson],
      );
      if (row) return row.version;
    }
  }

  async getVersion(userId: string, version?: number): Promise<BackupVersionRecord | undefined> {
    const row =
      version === undefined
        ? await this.db.row<VersionRow>(
            `SELECT ${VERSION_COLUMNS} FROM room_key_backup_versions
             WHERE user_id = $1 AND deleted = 0 ORDER BY version DESC LIMIT 1`,
            [userId],
          )
        : await this.db.row<VersionRow>(
            `SELECT ${VERSION_COLUMNS} FROM room_key_backup_versions
             WHERE user_id = $1 AND version = $2 AND deleted = 0`,
            [userId, version],
          );
    return row && toVersion(row);
  }

  async updateAuthData(userId: string, version: number, authDataJson: string): Promise<void> {
    await this.db.run(
      'UPDATE room_key_backup_versions SET auth_data_json = $1 WHERE user_id = $2 AND version = $3',
      [authDataJson, userId, version],
    );
  }

  async deleteVersion(userId: string, version: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const marked = await tx.run(
        `UPDATE room_key_backup_versions SET deleted = 1
         WHERE user_id = $1 AND version = $2 AND deleted = 0`,
        [userId, version],
      );
      if (marked === 0) return false;
      await tx.run(`DELETE FROM room_key_backup_keys WHERE ${KEY_SCOPE}`, scope(userId, version));
      return true;
    });
  }

  async countKeys(userId: string, version: number): Promise<number> {
    const row = await this.db.row<{ count: number }>(
      'SELECT COUNT(*) AS count FROM room_key_backup_keys WHERE user_id = $1 AND version = $2',
      [userId, version],
    );
    return row?.count ?? 0;
  }

  async getKeys(
    userId: string,
    version: number,
    roomId?: string,
    sessionId?: string,
  ): Promise<BackupKeyRecord[]> {
    const rows = await this.db.rows<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE ${KEY_SCOPE}
       ORDER BY room_id COLLATE "C", session_id COLLATE "C"`,
      scope(userId, version, roomId, sessionId),
    );
    return rows.map(toKey);
  }

  async keysOfSessions(
    userId: string,
    version: number,
    sessions: { roomId: string; sessionId: string }[],
  ): Promise<BackupKeyRecord[]> {
    if (sessions.length === 0) return [];
    const rows = await this.db.rows<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM room_key_backup_keys
       WHERE user_id = $1 AND version = $2
         AND (room_id, session_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
      [userId, version, sessions.map((s) => s.roomId), sessions.map((s) => s.sessionId)],
    );
    return rows.map(toKey);
  }

  async putKeys(
    userId: string,
    version: number,
    keys: BackupKeyRecord[],
    expectedEtag: number,
  ): Promise<boolean> {
    if (keys.length === 0) {
      const row = await this.db.row(
        `SELECT 1 FROM room_key_backup_versions
         WHERE user_id = $1 AND version = $2 AND etag = $3 AND deleted = 0`,
        [userId, version, expectedEtag],
      );
      return row !== undefined;
    }
    return this.db.transaction(async (tx) => {
      if (!(await bumpEtagIfCurrent(tx, userId, version, expectedEtag))) return false;
      await upsertKeys(tx, userId, version, lastPerSession(keys));
      return true;
    });
  }

  async deleteKeys(
    userId: string,
    version: number,
    roomId?: string,
    sessionId?: string,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      // The etag first: its row lock orders this deletion with concurrent puts.
      await tx.run(
        'UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2',
        [userId, version],
      );
      await tx.run(
        `DELETE FROM room_key_backup_keys WHERE ${KEY_SCOPE}`,
        scope(userId, version, roomId, sessionId),
      );
    });
  }
}

/** One statement for the batch; each session at most once (a second would be an error). */
async function upsertKeys(
  tx: PgExecutor,
  userId: string,
  version: number,
  keys: BackupKeyRecord[],
): Promise<void> {
  await tx.run(
    `INSERT INTO room_key_backup_keys (user_id, version, ${KEY_COLUMNS})
     SELECT $1, $2, k.* FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[],
       $7::bigint[], $8::text[]) AS k
     ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
       first_message_index = excluded.first_message_index,
       forwarded_count = excluded.forwarded_count,
       is_verified = excluded.is_verified,
       session_data_json = excluded.session_data_json`,
    [
      userId,
      version,
      keys.map((k) => k.roomId),
      keys.map((k) => k.sessionId),
      keys.map((k) => k.firstMessageIndex),
      keys.map((k) => k.forwardedCount),
      keys.map((k) => (k.isVerified ? 1 : 0)),
      keys.map((k) => k.sessionDataJson),
    ],
  );
}
