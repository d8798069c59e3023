/** The Admin API's media reads and bulk changes in PostgreSQL, as in SQLite (media-admin-store.ts there). */
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
import type { PgExecutor } from './database.js';
import { CURRENT_STATE_WITH_JSON, STATE_EVENT_JSON } from '../common/current-state-sql.js';

export class PgMediaAdminStore implements MediaAdminStore {
  constructor(private readonly db: PgExecutor) {}

  async listOfUser(
    userId: string,
    page: PageQuery<UserMediaOrder>,
  ): Promise<{ media: AdminMediaRecord[]; total: number }> {
    const rows = await this.db.rows<AdminMediaRow>(
      `SELECT ${ADMIN_MEDIA_COLUMNS} FROM media WHERE user_id = $1
       ORDER BY ${userMediaOrderBy(page.orderBy, page.dir)} LIMIT $2 OFFSET $3`,
      [userId, page.limit, page.from],
    );
    const count = await this.db.row<{ total: number }>(
      'SELECT COUNT(*) AS total FROM media WHERE user_id = $1',
      [userId],
    );
    return { media: rows.map(toAdminMedia), total: Number(count?.total ?? 0) };
  }

  async getOne(mediaId: string): Promise<AdminMediaRecord | undefined> {
    const row = await this.db.row<AdminMediaRow>(
      `SELECT ${ADMIN_MEDIA_COLUMNS} FROM media WHERE media_id = $1`,
      [mediaId],
    );
    return row && toAdminMedia(row);
  }

  async idsOfUser(userId: string): Promise<string[]> {
    const rows = await this.db.rows<{ media_id: string }>(
      'SELECT media_id FROM media WHERE user_id = $1',
      [userId],
    );
    return rows.map((row) => row.media_id);
  }

  async statistics(
    query: MediaStatisticsQuery,
  ): Promise<{ users: UserMediaStatistics[]; total: number }> {
    const pattern = query.searchTerm === null ? null : containsPattern(query.searchTerm);
    const grouped = `SELECT m.user_id AS user_id, p.displayname AS displayname,
        COUNT(*) AS media_count, COALESCE(SUM(m.size), 0) AS media_length
      FROM media m LEFT JOIN profiles p ON p.user_id = m.user_id
      WHERE m.upload_ts IS NOT NULL AND m.created_ts >= $1
        AND ($2::bigint IS NULL OR m.created_ts <= $2::bigint)
        AND ($3::text IS NULL OR m.user_id LIKE $3::text OR p.displayname LIKE $3::text)
      GROUP BY m.user_id, p.displayname`;
    const params = [query.fromTs, query.untilTs, pattern];
    const rows = await this.db.rows<StatisticsRow>(
      `SELECT * FROM (${grouped}) g
       ORDER BY ${statisticsOrderBy(query.orderBy, query.dir)} LIMIT $4 OFFSET $5`,
      [...params, query.limit, query.from],
    );
    const count = await this.db.row<{ total: number }>(
      `SELECT COUNT(*) AS total FROM (${grouped}) g`,
      params,
    );
    return { users: rows.map(toStatistics), total: Number(count?.total ?? 0) };
  }

  async setQuarantinedBy(
    mediaIds: string[],
    by: string | null,
    skipProtected: boolean,
  ): Promise<number> {
    if (mediaIds.length === 0) return 0;
    const flag = by === null ? 0 : 1;
    return this.db.run(
      `UPDATE media SET quarantined = $1, quarantined_by = $2
       WHERE media_id = ANY($3::text[]) AND (NOT $4 OR safe_from_quarantine = 0)`,
      [flag, by, mediaIds, skipProtected],
    );
  }

  async setProtected(mediaId: string, safe: boolean): Promise<boolean> {
    const changed = await this.db.run(
      'UPDATE media SET safe_from_quarantine = $1 WHERE media_id = $2',
      [safe ? 1 : 0, mediaId],
    );
    return changed === 1;
  }

  async idsForBulkDelete(query: BulkDeleteQuery): Promise<string[]> {
    const rows = await this.db.rows<{ media_id: string }>(
      `SELECT media_id FROM media
       WHERE upload_ts IS NOT NULL AND created_ts < $1 AND size > $2 AND safe_from_quarantine = 0`,
      [query.beforeTs, query.sizeGt],
    );
    return rows.map((row) => row.media_id);
  }

  async urlsInRoom(roomId: string): Promise<string[]> {
    // Parsed here, not by PostgreSQL: its JSON parsing refuses \u0000, which event JSON may
    // hold. Only events whose text mentions a url key come back.
    const rows = await this.db.rows<{ json: string }>(
      `SELECT json FROM events WHERE room_id = $1 AND json LIKE '%url"%' ORDER BY stream_ordering`,
      [roomId],
    );
    return rows.flatMap((row) => {
      const content = contentOf(row.json);
      const info = content.info as Record<string, unknown> | undefined;
      return [content.url, info?.thumbnail_url].filter((u): u is string => typeof u === 'string');
    });
  }

  async avatarUrls(): Promise<string[]> {
    const profiles = await this.db.rows<{ url: string }>(
      'SELECT avatar_url AS url FROM profiles WHERE avatar_url IS NOT NULL',
    );
    const avatars = await this.db.rows<{ json: string }>(
      `SELECT ${STATE_EVENT_JSON} AS json FROM ${CURRENT_STATE_WITH_JSON}
       WHERE cs.type = 'm.room.avatar'`,
    );
    const roomAvatars = avatars.map((row) => contentOf(row.json).url);
    return [...profiles.map((row) => row.url), ...roomAvatars].filter(
      (u): u is string => typeof u === 'string',
    );
  }
}

/** An event's content, from its stored JSON (an object, or {} for anything else). */
function contentOf(json: string): Record<string, unknown> {
  const content = (JSON.parse(json) as { content?: unknown }).content;
  return typeof content === 'object' && content !== null
    ? (content as Record<string, unknown>)
    : {};
}
