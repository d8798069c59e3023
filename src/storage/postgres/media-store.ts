/**
 * Media metadata in PostgreSQL: one row per media ID, as in SQLite
 * (media-store.ts there). Each write is one statement whose condition the row
 * lock re-checks, so an ID is created once and filled once, whatever runs at the same time.
 */
import type { MediaRecord, MediaStore, MediaUpload } from '../storage.js';
import {
  MEDIA_COLUMNS,
  type MediaRow,
  mediaValues,
  toMediaRecord,
  uploadValues,
} from '../common/media-rows.js';
import type { PgExecutor } from './database.js';

export class PgMediaStore implements MediaStore {
  constructor(private readonly db: PgExecutor) {}

  async create(record: MediaRecord): Promise<boolean> {
    const inserted = await this.db.run(
      `INSERT INTO media (${MEDIA_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (media_id) DO NOTHING`,
      mediaValues(record),
    );
    return inserted === 1;
  }

  async get(mediaId: string): Promise<MediaRecord | undefined> {
    const row = await this.db.row<MediaRow>(
      `SELECT ${MEDIA_COLUMNS} FROM media WHERE media_id = $1`,
      [mediaId],
    );
    return row && toMediaRecord(row);
  }

  async completeUpload(mediaId: string, upload: MediaUpload): Promise<boolean> {
    const filled = await this.db.run(
      `UPDATE media SET upload_ts = $1, content_type = $2, file_name = $3, size = $4, sha256 = $5,
         unused_expires_ts = NULL
       WHERE media_id = $6 AND upload_ts IS NULL`,
      [...uploadValues(upload), mediaId],
    );
    return filled === 1;
  }

  async countPending(userId: string, now: number): Promise<number> {
    const row = await this.db.row<{ pending: number }>(
      `SELECT COUNT(*) AS pending FROM media
       WHERE user_id = $1 AND upload_ts IS NULL AND unused_expires_ts > $2`,
      [userId, now],
    );
    return row?.pending ?? 0;
  }

  async deleteLapsed(userId: string, before: number): Promise<number> {
    return this.db.run(
      'DELETE FROM media WHERE user_id = $1 AND upload_ts IS NULL AND unused_expires_ts < $2',
      [userId, before],
    );
  }

  async setQuarantined(mediaId: string, quarantined: boolean): Promise<boolean> {
    const changed = await this.db.run('UPDATE media SET quarantined = $1 WHERE media_id = $2', [
      quarantined ? 1 : 0,
      mediaId,
    ]);
    return changed === 1;
  }

  async delete(mediaId: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM media WHERE media_id = $1', [mediaId])) === 1;
  }
}
