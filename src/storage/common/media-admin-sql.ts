/**
 * SQL both backends share for the Admin API's media reads: the ORDER BY of
 * each order the API names (from a fixed map, never from the request) and the
 * row mapper.
 */
import type {
  AdminMediaRecord,
  MediaStatisticsOrder,
  UserMediaOrder,
  UserMediaStatistics,
} from '../../domain/media-admin.js';

const USER_MEDIA_COLUMNS: Record<UserMediaOrder, string> = {
  media_id: 'media_id',
  upload_name: 'file_name',
  created_ts: 'created_ts',
  // Weft does not record accesses: the upload time stands for the last access.
  last_access_ts: 'created_ts',
  media_length: 'size',
  media_type: 'content_type',
  quarantined_by: 'quarantined_by',
  safe_from_quarantine: 'safe_from_quarantine',
};

const STATISTICS_COLUMNS: Record<MediaStatisticsOrder, string> = {
  user_id: 'user_id',
  displayname: 'displayname',
  media_length: 'media_length',
  media_count: 'media_count',
};

const direction = (dir: 'f' | 'b') => (dir === 'b' ? 'DESC' : 'ASC');

/** Ties broken by media ID, so pages do not overlap. */
export const userMediaOrderBy = (order: UserMediaOrder, dir: 'f' | 'b') =>
  `${USER_MEDIA_COLUMNS[order]} ${direction(dir)}, media_id ${direction(dir)}`;

export const statisticsOrderBy = (order: MediaStatisticsOrder, dir: 'f' | 'b') =>
  `${STATISTICS_COLUMNS[order]} ${direction(dir)}, user_id ${direction(dir)}`;

export const ADMIN_MEDIA_COLUMNS =
  'media_id, user_id, created_ts, content_type, file_name, size, quarantined_by, safe_from_quarantine';

export interface AdminMediaRow {
  media_id: string;
  user_id: string;
  created_ts: number;
  content_type: string | null;
  file_name: string | null;
  size: number | null;
  quarantined_by: string | null;
  safe_from_quarantine: number;
}

export function toAdminMedia(row: AdminMediaRow): AdminMediaRecord {
  return {
    mediaId: row.media_id,
    userId: row.user_id,
    createdTs: Number(row.created_ts),
    contentType: row.content_type,
    fileName: row.file_name,
    size: row.size === null ? null : Number(row.size),
    quarantinedBy: row.quarantined_by,
    safeFromQuarantine: Number(row.safe_from_quarantine) === 1,
  };
}

/** A LIKE pattern matching `term` anywhere, its wildcards escaped (with ESCAPE '\'). */
export const containsPattern = (term: string) => `%${term.replace(/[\\%_]/g, '\\$&')}%`;

export interface StatisticsRow {
  user_id: string;
  displayname: string | null;
  media_count: number;
  media_length: number | null;
}

export function toStatistics(row: StatisticsRow): UserMediaStatistics {
  return {
    userId: row.user_id,
    displayname: row.displayname,
    mediaCount: Number(row.media_count),
    mediaLength: Number(row.media_length ?? 0),
  };
}
