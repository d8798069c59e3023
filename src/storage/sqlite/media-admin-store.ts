/** The Admin API's media reads and bulk changes in SQLite (common/media-admin-sql.ts). */
import type {
  AdminMediaRecord,
  BulkDeleteQuery,
  MediaAdminStore,
  MediaStatisticsQuery,
  PageQuery,
  UserMediaOrder,
  UserMediaStatistics,
} from '../../domain/media-admin.js';
import {
  ADMIN_MEDIA_COLUMNS,
  type AdminMediaRow,
  containsPattern,
  type StatisticsRow,
  statisticsOrderBy,
  toAdminMedia,
  toStatistics,
  userMediaOrderBy,
} from '../common/media-admin-sql.js';
import { type SqliteDatabase, writeTransaction } from './database.js';
import { CURRENT_STATE_WITH_JSON, STATE_EVENT_JSON } from '../common/current-state-sql.js';

export class SqliteMediaAdminStore implements MediaAdminStore {
  private readonly selectOne;
  private readonly countOfUser;
  private readonly selectIdsOfUser;
  private readonly protect;
  private readonly bulkDeletable;
  private readonly roomUrls;
  private readonly avatars;
  private readonly quarantineTx;

  constructor(private readonly db: SqliteDatabase) {
    this.selectOne = db.prepare(`SELECT ${ADMIN_MEDIA_COLUMNS} FROM media WHERE media_id = ?`);
    this.countOfUser = db.prepare('SELECT COUNT(*) FROM media WHERE user_id = ?').pluck();
    this.selectIdsOfUser = db.prepare('SELECT media_id FROM media WHERE user_id = ?').pluck();
    this.protect = db.prepare('UPDATE media SET safe_from_quarantine = ? WHERE media_id = ?');
    this.bulkDeletable = db
      .prepare(
        `SELECT media_id FROM media
         WHERE upload_ts IS NOT NULL AND created_ts < ? AND size > ? AND safe_from_quarantine = 0`,
      )
      .pluck();
    this.roomUrls = db.prepare(
      `SELECT json_extract(json, '$.content.url') AS url,
              json_extract(json, '$.content.info.thumbnail_url') AS thumbnail_url
       FROM events WHERE room_id = ?
         AND (json_extract(json, '$.content.url') IS NOT NULL
           OR json_extract(json, '$.content.info.thumbnail_url') IS NOT NULL)
       ORDER BY stream_ordering`,
    );
    this.avatars = db
      .prepare(
        `SELECT avatar_url FROM profiles WHERE avatar_url IS NOT NULL
         UNION
         SELECT json_extract(${STATE_EVENT_JSON}, '$.content.url') FROM ${CURRENT_STATE_WITH_JSON}
         WHERE cs.type = 'm.room.avatar'
           AND json_extract(${STATE_EVENT_JSON}, '$.content.url') IS NOT NULL`,
      )
      .pluck();
    const quarantine = db.prepare(
      `UPDATE media SET quarantined = ?, quarantined_by = ?
       WHERE media_id = ? AND (? = 0 OR safe_from_quarantine = 0)`,
    );
    this.quarantineTx = writeTransaction(
      db,
      (ids: string[], by: string | null, skipProtected: boolean) => {
        const flag = by === null ? 0 : 1;
        let changed = 0;
        for (const id of ids) {
          changed += quarantine.run(flag, by, id, skipProtected ? 1 : 0).changes;
        }
        return changed;
      },
    );
  }

  async listOfUser(
    userId: string,
    page: PageQuery<UserMediaOrder>,
  ): Promise<{ media: AdminMediaRecord[]; total: number }> {
    const rows = this.db
      .prepare(
        `SELECT ${ADMIN_MEDIA_COLUMNS} FROM media WHERE user_id = ?
         ORDER BY ${userMediaOrderBy(page.orderBy, page.dir)} LIMIT ? OFFSET ?`,
      )
      .all(userId, page.limit, page.from) as AdminMediaRow[];
    return { media: rows.map(toAdminMedia), total: this.countOfUser.get(userId) as number };
  }

  async getOne(mediaId: string): Promise<AdminMediaRecord | undefined> {
    const row = this.selectOne.get(mediaId) as AdminMediaRow | undefined;
    return row && toAdminMedia(row);
  }

  async idsOfUser(userId: string): Promise<string[]> {
    return this.selectIdsOfUser.all(userId) as string[];
  }

  async statistics(
    query: MediaStatisticsQuery,
  ): Promise<{ users: UserMediaStatistics[]; total: number }> {
    const where = `m.upload_ts IS NOT NULL AND m.created_ts >= ? AND (? IS NULL OR m.created_ts <= ?)
      AND (? IS NULL OR m.user_id LIKE ? ESCAPE '\\' OR p.displayname LIKE ? ESCAPE '\\')`;
    const pattern = query.searchTerm === null ? null : containsPattern(query.searchTerm);
    const params = [query.fromTs, query.untilTs, query.untilTs, pattern, pattern, pattern];
    const grouped = `SELECT m.user_id AS user_id, p.displayname AS displayname,
        COUNT(*) AS media_count, SUM(m.size) AS media_length
      FROM media m LEFT JOIN profiles p ON p.user_id = m.user_id
      WHERE ${where} GROUP BY m.user_id, p.displayname`;
    const rows = this.db
      .prepare(
        `SELECT * FROM (${grouped})
         ORDER BY ${statisticsOrderBy(query.orderBy, query.dir)} LIMIT ? OFFSET ?`,
      )
      .all(...params, query.limit, query.from) as StatisticsRow[];
    const total = this.db
      .prepare(`SELECT COUNT(*) FROM (${grouped})`)
      .pluck()
      .get(...params) as number;
    return { users: rows.map(toStatistics), total };
  }

  async setQuarantinedBy(
    mediaIds: string[],
    by: string | null,
    skipProtected: boolean,
  ): Promise<number> {
    return this.quarantineTx(mediaIds, by, skipProtected);
  }

  async setProtected(mediaId: string, safe: boolean): Promise<boolean> {
    return this.protect.run(safe ? 1 : 0, mediaId).changes === 1;
  }

  async idsForBulkDelete(query: BulkDeleteQuery): Promise<string[]> {
    return this.bulkDeletable.all(query.beforeTs, query.sizeGt) as string[];
  }

  async urlsInRoom(roomId: string): Promise<string[]> {
    const rows = this.roomUrls.all(roomId) as { url: unknown; thumbnail_url: unknown }[];
    return rows.flatMap((row) =>
      [row.url, row.thumbnail_url].filter((u): u is string => typeof u === 'string'),
    );
  }

  async avatarUrls(): Promise<string[]> {
    return (this.avatars.all() as unknown[]).filter((u): u is string => typeof u === 'string');
  }
}
