/**
 * Rows of the media table as every backend reads and writes them: a pending
 * ID has null upload columns; booleans are 0/1.
 */
import type { MediaRecord, MediaUpload } from '../storage.js';

export interface MediaRow {
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

export function toMediaRecord(row: MediaRow): MediaRecord {
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

/** The columns of a new row, in the order of `mediaValues`. */
export const MEDIA_COLUMNS = `media_id, user_id, created_ts, unused_expires_ts, upload_ts,
  content_type, file_name, size, sha256, authenticated, quarantined`;

/** A new row's values, in the order of MEDIA_COLUMNS. */
export function mediaValues(record: MediaRecord): unknown[] {
  const upload = record.upload;
  return [
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
  ];
}

/** The values that fill a pending row: upload_ts, content_type, file_name, size, sha256. */
export const uploadValues = (upload: MediaUpload): unknown[] => [
  upload.uploadTs,
  upload.contentType,
  upload.fileName,
  upload.size,
  upload.sha256,
];
