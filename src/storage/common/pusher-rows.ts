/** Rows of the pushers table as every backend reads and writes them (data as JSON text). */
import type { PusherRecord } from '../storage.js';

export interface PusherRow {
  user_id: string;
  app_id: string;
  pushkey: string;
  kind: string;
  device_id: string | null;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data_json: string;
  pushkey_ts: number;
  last_stream_ordering: number;
  failing_since: number | null;
  last_error: string | null;
}

export function toPusher(row: PusherRow): PusherRecord {
  const pusher: PusherRecord = {
    userId: row.user_id,
    appId: row.app_id,
    pushkey: row.pushkey,
    kind: row.kind,
    deviceId: row.device_id,
    appDisplayName: row.app_display_name,
    deviceDisplayName: row.device_display_name,
    lang: row.lang,
    data: JSON.parse(row.data_json) as Record<string, unknown>,
    pushkeyTs: row.pushkey_ts,
    lastStreamOrdering: row.last_stream_ordering,
  };
  if (row.profile_tag !== null) pusher.profileTag = row.profile_tag;
  if (row.failing_since !== null) pusher.failingSince = row.failing_since;
  if (row.last_error !== null) pusher.lastError = row.last_error;
  return pusher;
}

/**
 * The columns a put writes, in the order of `pusherValues`; a put starts the
 * pusher afresh, so failing_since and last_error are left null.
 */
export const PUSHER_COLUMNS = `user_id, app_id, pushkey, kind, device_id, app_display_name,
  device_display_name, profile_tag, lang, data_json, pushkey_ts, last_stream_ordering`;

/** A put's values, in the order of PUSHER_COLUMNS. */
export const pusherValues = (p: PusherRecord): unknown[] => [
  p.userId,
  p.appId,
  p.pushkey,
  p.kind,
  p.deviceId,
  p.appDisplayName,
  p.deviceDisplayName,
  p.profileTag ?? null,
  p.lang,
  JSON.stringify(p.data),
  p.pushkeyTs,
  p.lastStreamOrdering,
];

/** setProgress's values: last_stream_ordering, failing_since, last_error. */
export const progressValues = (progress: {
  lastStreamOrdering: number;
  failingSince?: number;
  lastError?: string;
}): unknown[] => [
  progress.lastStreamOrdering,
  progress.failingSince ?? null,
  progress.lastError ?? null,
];
