/**
 * What the Admin API reads and changes of the media repository beyond
 * MediaStore (storage.ts): lists by uploader, statistics, bulk quarantine,
 * protection, the media rooms and profiles refer to. Types only.
 */

/** One local media row as the Admin API shows it. */
export interface AdminMediaRecord {
  mediaId: string;
  userId: string;
  createdTs: number;
  /** Null while an ID from /media/v1/create waits for its content. */
  contentType: string | null;
  fileName: string | null;
  size: number | null;
  quarantinedBy: string | null;
  safeFromQuarantine: boolean;
}

export type UserMediaOrder =
  | 'media_id'
  | 'upload_name'
  | 'created_ts'
  | 'last_access_ts'
  | 'media_length'
  | 'media_type'
  | 'quarantined_by'
  | 'safe_from_quarantine';

export type MediaStatisticsOrder = 'user_id' | 'displayname' | 'media_length' | 'media_count';

export interface PageQuery<O> {
  from: number;
  limit: number;
  orderBy: O;
  /** 'f': ascending, 'b': descending. */
  dir: 'f' | 'b';
}

export interface MediaStatisticsQuery extends PageQuery<MediaStatisticsOrder> {
  fromTs: number;
  untilTs: number | null;
  /** Matched against user IDs and display names (substring). */
  searchTerm: string | null;
}

export interface UserMediaStatistics {
  userId: string;
  displayname: string | null;
  mediaCount: number;
  mediaLength: number;
}

export interface BulkDeleteQuery {
  /** Media uploaded before this (milliseconds). */
  beforeTs: number;
  /** Only media larger than this many bytes. */
  sizeGt: number;
}

export interface MediaAdminStore {
  /** One media row, pending or uploaded. */
  getOne(mediaId: string): Promise<AdminMediaRecord | undefined>;
  listOfUser(
    userId: string,
    page: PageQuery<UserMediaOrder>,
  ): Promise<{ media: AdminMediaRecord[]; total: number }>;
  /** Every media ID the user uploaded (or created). */
  idsOfUser(userId: string): Promise<string[]>;
  statistics(query: MediaStatisticsQuery): Promise<{ users: UserMediaStatistics[]; total: number }>;
  /**
   * Quarantines (by = an admin's user ID) or releases (by = null) the media;
   * with `skipProtected`, protected media is left alone. Returns how many changed.
   */
  setQuarantinedBy(mediaIds: string[], by: string | null, skipProtected: boolean): Promise<number>;
  /** False if there is no such media. */
  setProtected(mediaId: string, safe: boolean): Promise<boolean>;
  /** Unprotected media uploaded before `beforeTs` and larger than `sizeGt`. */
  idsForBulkDelete(query: BulkDeleteQuery): Promise<string[]>;
  /** The `url` and `info.thumbnail_url` of the content of the room's events. */
  urlsInRoom(roomId: string): Promise<string[]>;
  /** The avatars of users' profiles and of rooms' current state. */
  avatarUrls(): Promise<string[]>;
}
