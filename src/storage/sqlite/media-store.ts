/**
 * Media metadata in SQLite: one row per media ID. The bytes live in files under
 * <data_dir>/media (media/media-files.ts); a row gets its upload fields only
 * after its file is in place, so a row with content always has a whole file.
 */
import type { MediaRecord, MediaStore, MediaUpload } from '../storage.js';
import type { SqliteDatabase } from './database.js';

interface MediaRow {
  media_id: string;
  user_id: string;
  created_ts: number;
  unused_expires_ts: number | null;
  upload_ts: number | null;
  content_type: string | null;
  file_name: string | null;
  size: number | null;
  sha256: string | null;
  authenticated: number;
  quarantined: number;
}

function toRecord(row: MediaRow): MediaRecord {
  const upload: MediaUpload | null =
    row.upload_ts === null
      ? null
      : {
          uploadTs: row.upload_ts,
          contentType: row.content_type ?? 'application/octet-stream',
          fileName: row.file_name,
          size: row.size ?? 0,
          sha256: row.sha256 ?? '',
        };
  return {
    mediaId: row.media_id,
    userId: row.user_id,
    createdTs: row.created_ts,
    unusedExpiresTs: row.unused_expires_ts,
    upload,
    authenticated: row.authenticated === 1,
    quarantined: row.quarantined === 1,
  };
}

export class SqliteMediaStore implements MediaStore {
  private readonly insert;
  private readonly select;
  private readonly fill;
  private readonly countPendingOf;
  private readonly removeLapsed;
  private readonly quarantine;
  private readonly remove;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO media (media_id, user_id, created_ts, unused_expires_ts, upload_ts,
         content_type, file_name, size, sha256, authenticated, quarantined)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.select = db.prepare('SELECT * FROM media WHERE media_id = ?');
    this.fill = db.prepare(
      `UPDATE media SET upload_ts = ?, content_type = ?, file_name = ?, size = ?, sha256 = ?,
         unused_expires_ts = NULL
       WHERE media_id = ? AND upload_ts IS NULL`,
    );
    this.countPendingOf = db
      .prepare(
        `SELECT COUNT(*) FROM media
         WHERE user_id = ? AND upload_ts IS NULL AND unused_expires_ts > ?`,
      )
      .pluck();
    this.removeLapsed = db.prepare(
      `DELETE FROM media WHERE user_id = ? AND upload_ts IS NULL AND unused_expires_ts < ?`,
    );
    this.quarantine = db.prepare('UPDATE media SET quarantined = ? WHERE media_id = ?');
    this.remove = db.prepare('DELETE FROM media WHERE media_id = ?');
  }

  async create(record: MediaRecord): Promise<boolean> {
    const upload = record.upload;
    const result = this.insert.run(
      record.mediaId,
      record.userId,
      record.createdTs,
      record.unusedExpiresTs,
      upload?.uploadTs ?? null,
      upload?.contentType ?? null,
      upload?.fileName ?? null,
      upload?.size ?? null,
      upload?.sha256 ?? null,
      record.authenticated ? 1 : 0,
      record.quarantined ? 1 : 0,
    );
    return result.changes === 1;
  }

  async get(mediaId: string): Promise<MediaRecord | undefined> {
    const row = this.select.get(mediaId) as MediaRow | undefined;
    return row && toRecord(row);
  }

  async completeUpload(mediaId: string, upload: MediaUpload): Promise<boolean> {
    const { uploadTs, contentType, fileName, size, sha256 } = upload;
    return this.fill.run(uploadTs, contentType, fileName, size, sha256, mediaId).changes === 1;
  }

  async countPending(userId: string, now: number): Promise<number> {
    return this.countPendingOf.get(userId, now) as number;
  }

  async deleteLapsed(userId: string, before: number): Promise<number> {
    return this.removeLapsed.run(userId, before).changes;
  }

  async setQuarantined(mediaId: string, quarantined: boolean): Promise<boolean> {
    return this.quarantine.run(quarantined ? 1 : 0, mediaId).changes === 1;
  }

  async delete(mediaId: string): Promise<boolean> {
    return this.remove.run(mediaId).changes === 1;
  }
}
