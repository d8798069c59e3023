/** Row mapping of admin_jobs and blocked_rooms, shared by both backends. */
import type { AdminJob, AdminJobKind, AdminJobStatus } from '../../domain/admin-jobs.js';

export interface AdminJobRow {
  id: string;
  kind: string;
  room_id: string;
  params_json: string;
  status: string;
  error: string | null;
  result_json: string | null;
  created_ts: number | string;
  updated_ts: number | string;
}

export const ADMIN_JOB_COLUMNS =
  'id, kind, room_id, params_json, status, error, result_json, created_ts, updated_ts';

export function toAdminJob(row: AdminJobRow): AdminJob {
  return {
    id: row.id,
    kind: row.kind as AdminJobKind,
    roomId: row.room_id,
    params: JSON.parse(row.params_json) as Record<string, unknown>,
    status: row.status as AdminJobStatus,
    error: row.error,
    result: row.result_json === null ? null : (JSON.parse(row.result_json) as AdminJob['result']),
    createdTs: Number(row.created_ts),
    updatedTs: Number(row.updated_ts),
  };
}

/** The row's values in ADMIN_JOB_COLUMNS order. */
export function adminJobValues(job: AdminJob): unknown[] {
  return [
    job.id,
    job.kind,
    job.roomId,
    JSON.stringify(job.params),
    job.status,
    job.error,
    job.result === null ? null : JSON.stringify(job.result),
    job.createdTs,
    job.updatedTs,
  ];
}

/**
 * Tables keyed by room_id (each with an index on it) that a room purge empties
 * once its events are gone. Rows keyed by user and room (read positions,
 * account data, forgotten rooms, notifications) are deleted through the room's
 * members, so each uses its key's index; state groups go with their events.
 */
export const ROOM_KEYED_TABLES = [
  'forward_extremities',
  'room_aliases',
  'room_directory',
  'receipts',
  'threads',
  // Federated events: events off the stream, memberships made current by resolution.
  'off_stream_events',
  'membership_changes',
  'rooms',
] as const;

/** Tables keyed by (user_id, room_id, ...): emptied for the room's members. */
export const MEMBER_ROOM_TABLES = [
  'push_read_positions',
  'account_data',
  'forgotten_rooms',
] as const;

/** Events of a purge batch: what their per-event rows are deleted by. */
export interface PurgedEventRow {
  event_id: string;
  stream_ordering: number | string;
  state_group: number | string;
}
