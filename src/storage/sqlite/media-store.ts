/**
 * Media metadata in SQLite: one row per media ID. The bytes live in files under
 * <data_dir>/media (media/media-files.ts); a row gets its upload fields only
 * after its file is in place, so a row with content always has a whole file.
 */
import type { MediaRecord, MediaStore, MediaUpload } from '../storage.js';
import {
  MEDIA_COLUMNS,
  type MediaRow,
  mediaValues,
  toMediaRecord as toRecord,
  uploadValues,
} from '../common/media-rows.js';
import type { SqliteDatabase } from './database.js';

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
      `INSERT OR IGNORE INTO media (${MEDIA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    return this.insert.run(...mediaValues(record)).changes === 1;
  }

  async get(mediaId: string): Promise<MediaRecord | undefined> {
    const row = this.select.get(mediaId) as MediaRow | undefined;
    return row && toRecord(row);
  }

  async completeUpload(mediaId: string, upload: MediaUpload): Promise<boolean> {
    return this.fill.run(...uploadValues(upload), mediaId).changes === 1;
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
