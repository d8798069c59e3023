/** Key backup rows as both backends store them (same tables, same columns), and their records. */
import type { BackupKeyRecord, BackupVersionRecord } from '../storage.js';

export interface VersionRow {
  user_id: string;
  version: number;
  algorithm: string;
  auth_data_json: string;
  etag: number;
}

export interface KeyRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
  session_data_json: string;
}

export const toVersion = (row: VersionRow): BackupVersionRecord => ({
  userId: row.user_id,
  version: row.version,
  algorithm: row.algorithm,
  authDataJson: row.auth_data_json,
  etag: row.etag,
});

export const toKey = (row: KeyRow): BackupKeyRecord => ({
  roomId: row.room_id,
  sessionId: row.session_id,
  firstMessageIndex: row.first_message_index,
  forwardedCount: row.forwarded_count,
  isVerified: row.is_verified === 1,
  sessionDataJson: row.session_data_json,
});
